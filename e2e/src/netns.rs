//! A degraded network for one browser: a network namespace joined to the test's own by a veth
//! pair with private addresses, a Chromium WebDriver server running inside it, and an
//! [`Impairment`] of the pair mid-call: random loss of UDP packets (an nftables table inside
//! the namespace, both directions) and a rate limit with a short queue on both ends of the pair
//! (`tc` HTB for UDP, so WebDriver's own TCP traffic is not slowed), whose queueing delay makes
//! the round trip rise under load. `tc netem` would also add a fixed delay, but not every
//! kernel has it (this machine's has no `sch_netem`), while HTB, u32 and nftables' `numgen` are
//! common. Needs root, `ip` and `tc` (iproute2) and `nft` (nftables); touches nothing but the
//! namespace and the pair it creates, and [`NetNamespace`]'s `Drop` removes both even when the
//! test fails.
//!
//! The app listens on the root end's address ([`NetNamespace::host_ip`], see
//! [`crate::AppOptions::listen_on`]), which both browsers reach: the one in the namespace over
//! the pair, the other one locally. Media between them goes over the pair too (the namespace
//! has no other route), so an impairment of the pair is an impairment of the call.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use crate::browser::{driver_status_at, BrowserKind};
use crate::wait::POLL_INTERVAL;

/// Runs `ip`/`tc` (or another command) and fails with its error output if it fails.
fn run(program: &str, args: &[&str]) -> anyhow::Result<()> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {program} {}", args.join(" ")))?;
    if !output.status.success() {
        bail!(
            "{program} {} failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// The nftables table of the namespace's loss rules.
const NFT_TABLE: &str = "visavis_e2e";

/// How the link is degraded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Impairment {
    /// The share of UDP packets dropped, each way, in percent.
    pub loss_percent: u8,
    /// The UDP rate each way, in kbit/s.
    pub rate_kbit: u32,
    /// The packets queued at most before the rate limit drops more: with the rate, the most
    /// queueing delay a packet meets.
    pub queue_packets: u32,
}

/// Rate-limits the UDP leaving `dev` (run with `prefix`, e.g. inside the namespace): an HTB
/// root whose default class is unlimited, a limited class for UDP with a short FIFO, and a u32
/// filter sending UDP there.
fn shape(prefix: &[&str], dev: &str, impairment: &Impairment) -> anyhow::Result<()> {
    let rate = format!("{}kbit", impairment.rate_kbit);
    let limit = impairment.queue_packets.to_string();
    let steps: [Vec<&str>; 5] = [
        vec![
            "qdisc", "replace", "dev", dev, "root", "handle", "1:", "htb", "default", "20",
        ],
        vec![
            "class", "add", "dev", dev, "parent", "1:", "classid", "1:10", "htb", "rate", &rate,
            "ceil", &rate,
        ],
        vec![
            "class", "add", "dev", dev, "parent", "1:", "classid", "1:20", "htb", "rate", "10gbit",
            "quantum", "60000",
        ],
        vec![
            "qdisc", "add", "dev", dev, "parent", "1:10", "handle", "10:", "pfifo", "limit", &limit,
        ],
        vec![
            "filter", "add", "dev", dev, "parent", "1:", "protocol", "ip", "prio", "1", "u32",
            "match", "ip", "protocol", "17", "0xff", "flowid", "1:10",
        ],
    ];
    for step in steps {
        if prefix.is_empty() {
            run("tc", &step)?;
        } else {
            let mut all = prefix.to_vec();
            all.push("tc");
            all.extend_from_slice(&step);
            run("ip", &all)?;
        }
    }
    Ok(())
}

/// Writes an nftables script to a temporary file.
fn write_script(text: &str) -> anyhow::Result<tempfile::NamedTempFile> {
    use std::io::Write as _;
    let mut file = tempfile::Builder::new()
        .prefix("visavis-e2e-nft-")
        .tempfile()
        .context("creating the nftables script")?;
    file.write_all(text.as_bytes())?;
    file.flush()?;
    Ok(file)
}

/// A network namespace with a veth pair to the test's namespace; deleted when dropped.
pub struct NetNamespace {
    name: String,
    /// The pair's end in the test's namespace.
    host_dev: String,
    /// The pair's end in the namespace.
    ns_dev: String,
    host_ip: Ipv4Addr,
    ns_ip: Ipv4Addr,
}

impl NetNamespace {
    /// Creates the namespace and the pair, with addresses `10.231.<n>.1` (here) and
    /// `10.231.<n>.2` (there), `n` from this process's id so parallel runs do not collide.
    pub fn create() -> anyhow::Result<NetNamespace> {
        let id = std::process::id();
        let subnet = u8::try_from(id % 250).unwrap_or(0) + 1;
        let netns = NetNamespace {
            name: format!("vv-e2e-{id}"),
            host_dev: format!("vvh{}", id % 1_000_000),
            ns_dev: format!("vvn{}", id % 1_000_000),
            host_ip: Ipv4Addr::new(10, 231, subnet, 1),
            ns_ip: Ipv4Addr::new(10, 231, subnet, 2),
        };
        // Left over from a killed run with the same process id: start clean.
        netns.remove();
        // From here on, `Drop` cleans up whatever was made, even if a step fails.
        netns.set_up().context("setting up the network namespace")?;
        Ok(netns)
    }

    fn set_up(&self) -> anyhow::Result<()> {
        let (name, host, ns) = (
            self.name.as_str(),
            self.host_dev.as_str(),
            self.ns_dev.as_str(),
        );
        run("ip", &["netns", "add", name])?;
        run(
            "ip",
            &["link", "add", host, "type", "veth", "peer", "name", ns],
        )?;
        run("ip", &["link", "set", ns, "netns", name])?;
        let host_cidr = format!("{}/24", self.host_ip);
        let ns_cidr = format!("{}/24", self.ns_ip);
        run("ip", &["addr", "add", &host_cidr, "dev", host])?;
        run("ip", &["link", "set", host, "up"])?;
        self.exec("ip", &["addr", "add", &ns_cidr, "dev", ns])?;
        self.exec("ip", &["link", "set", ns, "up"])?;
        self.exec("ip", &["link", "set", "lo", "up"])?;
        Ok(())
    }

    /// Runs a command inside the namespace and waits for it.
    fn exec(&self, program: &str, args: &[&str]) -> anyhow::Result<()> {
        let mut all = vec!["netns", "exec", self.name.as_str(), program];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    /// The address of the pair's end in the test's namespace: the app listens here.
    pub fn host_ip(&self) -> IpAddr {
        IpAddr::V4(self.host_ip)
    }

    /// The address of the pair's end in the namespace.
    pub fn ns_ip(&self) -> IpAddr {
        IpAddr::V4(self.ns_ip)
    }

    /// Impairs both directions of the pair's UDP traffic (the media and ICE); call
    /// [`NetNamespace::clear`] before impairing it again.
    pub fn impair(&self, impairment: &Impairment) -> anyhow::Result<()> {
        let loss = impairment.loss_percent;
        let rule = format!("meta l4proto udp numgen random mod 100 < {loss} drop;");
        let table = format!(
            "table inet {NFT_TABLE} {{\n\
             chain inbound {{ type filter hook input priority 0; policy accept; {rule} }}\n\
             chain outbound {{ type filter hook output priority 0; policy accept; {rule} }}\n\
             }}\n"
        );
        let script = write_script(&table)?;
        let script_path = script.path().display().to_string();
        self.exec("nft", &["-f", &script_path])?;
        shape(&[], &self.host_dev, impairment)?;
        shape(&["netns", "exec", &self.name], &self.ns_dev, impairment)
    }

    /// Removes the impairment from both directions.
    pub fn clear(&self) -> anyhow::Result<()> {
        self.exec("nft", &["delete", "table", "inet", NFT_TABLE])?;
        run("tc", &["qdisc", "del", "dev", &self.host_dev, "root"])?;
        self.exec("tc", &["qdisc", "del", "dev", &self.ns_dev, "root"])
    }

    /// Starts chromedriver inside the namespace, reachable from the test at the namespace's
    /// address only, and waits until it is ready.
    pub async fn start_chromedriver(&self) -> anyhow::Result<NsDriver> {
        let kind = BrowserKind::Chromium;
        kind.require_installed();
        let port = free_port_in_namespace();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.name])
            .arg(kind.driver_binary())
            .arg(format!("--port={port}"))
            .arg(format!("--allowed-ips={}", self.host_ip))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting chromedriver in the namespace")?;
        let mut driver = NsDriver {
            child,
            addr: SocketAddr::new(self.ns_ip(), port),
        };
        driver.wait_until_ready(Duration::from_secs(20)).await?;
        Ok(driver)
    }

    /// Ends the processes still running in the namespace (the browser of a test that failed
    /// before closing it: they are ours), deletes the namespace (which takes its end of the
    /// pair, and so the pair, with it) and our end, if still there. Errors are ignored: there
    /// may be nothing to remove.
    fn remove(&self) {
        let pids = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .stderr(Stdio::null())
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
            .unwrap_or_default();
        for pid in pids
            .split_whitespace()
            .filter(|pid| pid.parse::<u32>().is_ok())
        {
            let _ = Command::new("kill")
                .args(["-9", pid])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        for args in [
            vec!["netns", "del", self.name.as_str()],
            vec!["link", "del", self.host_dev.as_str()],
        ] {
            let _ = Command::new("ip")
                .args(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for NetNamespace {
    fn drop(&mut self) {
        self.remove();
    }
}

/// A port for the namespace's chromedriver. The namespace is new and empty, so any port is
/// free there; one from the ephemeral range keeps clear of well-known services.
fn free_port_in_namespace() -> u16 {
    49_152 + u16::try_from(std::process::id() % 10_000).unwrap_or(0)
}

/// Chromedriver running in a namespace; killed when dropped (its browsers end with it).
pub struct NsDriver {
    child: Child,
    addr: SocketAddr,
}

impl NsDriver {
    /// The URL sessions connect to.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn wait_until_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("chromedriver in the namespace exited before it was ready ({status})");
            }
            let last = match driver_status_at(self.addr).await {
                Ok(body)
                    if body
                        .replace(char::is_whitespace, "")
                        .contains("\"ready\":true") =>
                {
                    return Ok(())
                }
                Ok(body) => body,
                Err(error) => format!("{error:#}"),
            };
            if Instant::now() >= deadline {
                bail!(
                    "chromedriver at {} was not ready after {timeout:?}; last: {last}",
                    self.addr
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

impl Drop for NsDriver {
    fn drop(&mut self) {
        // `ip netns exec` runs chromedriver in its own process (it execs), so this is the
        // driver itself.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
