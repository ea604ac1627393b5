//! Cluster mode for browser tests: a Redis of the test's own, visavis nodes as child processes
//! of the built binary (so that one can be killed with SIGKILL) sharing one seat secret, and
//! HAProxy in front of them with the configuration docs/deployment.md documents.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use crate::paths::{dist_dir, target_dir, workspace_root};
use crate::wait::POLL_INTERVAL;

/// The bearer token of every node's `/metrics`.
pub const METRICS_TOKEN: &str = "e2e-cluster";

/// How long Redis, a node or HAProxy may take to come up.
const START_LIMIT: Duration = Duration::from_secs(20);

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Sends `request` to a loopback port and returns the whole answer (empty on failure).
fn exchange(port: u16, request: &str) -> String {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut answer = String::new();
    if stream.write_all(request.as_bytes()).is_ok() {
        let _ = stream.read_to_string(&mut answer);
    }
    answer
}

/// Whether an HTTP answer's status line says 200 (HTTP/1.0 or 1.1).
fn answers_200(answer: &str) -> bool {
    answer
        .lines()
        .next()
        .is_some_and(|line| line.starts_with("HTTP/1.") && line.split(' ').nth(1) == Some("200"))
}

fn wait_until(what: &str, ready: impl Fn() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + START_LIMIT;
    while !ready() {
        if Instant::now() > deadline {
            bail!("timed out after {START_LIMIT:?} waiting until {what}");
        }
        std::thread::sleep(POLL_INTERVAL);
    }
    Ok(())
}

/// Kills a child process (SIGKILL) and reaps it.
fn kill(child: &mut Option<Child>) {
    if let Some(mut child) = child.take() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A `redis-server` on a free loopback port, persistence off.
pub struct Redis {
    pub port: u16,
    child: Option<Child>,
}

impl Redis {
    /// Starts it and waits until it answers; fails if `redis-server` is not installed.
    pub fn start() -> anyhow::Result<Redis> {
        let port = free_port()?;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting redis-server (scripts/setup.sh installs it)")?;
        let redis = Redis {
            port,
            child: Some(child),
        };
        wait_until("redis answers PING", || {
            exchange(port, "PING\r\nQUIT\r\n").starts_with("+PONG")
        })?;
        Ok(redis)
    }

    /// The URL nodes use.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

/// The cluster's shared settings: Redis, the seat secret, the nodes' log directory.
pub struct ClusterSetup {
    pub redis: Redis,
    dir: tempfile::TempDir,
}

impl ClusterSetup {
    /// Starts Redis and writes a fresh shared seat secret.
    pub fn start() -> anyhow::Result<ClusterSetup> {
        let redis = Redis::start()?;
        let dir = tempfile::Builder::new()
            .prefix("visavis-e2e-cluster-")
            .tempdir()?;
        let secret: String = (0..32u32)
            .map(|i| format!("{:02x}", (i * 53 + 7) % 256))
            .collect();
        std::fs::write(dir.path().join("seat-secret"), format!("{secret}\n"))?;
        Ok(ClusterSetup { redis, dir })
    }

    /// The shared seat-secret file.
    pub fn secret_file(&self) -> PathBuf {
        self.dir.path().join("seat-secret")
    }

    /// Starts node `id` as a child process on a free port and waits until it is ready.
    pub fn start_node(&self, id: &str) -> anyhow::Result<Node> {
        let mut node = Node {
            id: id.to_owned(),
            port: free_port()?,
            child: None,
            args: Vec::new(),
            log: self.dir.path().join(format!("{id}.log")),
        };
        node.args = vec![
            "--no-tls".into(),
            "--rate-limit-exempt-loopback".into(),
            "--stun".into(),
            String::new(),
            "--listen".into(),
            format!("127.0.0.1:{}", node.port),
            "--static-dir".into(),
            dist_dir().display().to_string(),
            "--data-dir".into(),
            self.dir
                .path()
                .join(format!("data-{id}"))
                .display()
                .to_string(),
            "--seat-secret-file".into(),
            self.secret_file().display().to_string(),
            "--redis-url".into(),
            self.redis.url(),
            "--node-id".into(),
            id.to_owned(),
            "--metrics-token".into(),
            METRICS_TOKEN.into(),
        ];
        node.start_again()?;
        Ok(node)
    }
}

/// One visavis node, a child process.
pub struct Node {
    pub id: String,
    pub port: u16,
    child: Option<Child>,
    args: Vec<String>,
    log: PathBuf,
}

impl Node {
    /// Starts the process (again, on the same port) and waits until `/readyz` answers 200.
    pub fn start_again(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let child = Command::new(visavis_binary()?)
            .args(&self.args)
            .env("RUST_LOG", "info")
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting the visavis binary")?;
        self.child = Some(child);
        let port = self.port;
        wait_until(&format!("node {} is ready", self.id), || {
            answers_200(&exchange(port, "GET /readyz HTTP/1.0\r\n\r\n"))
        })
    }

    /// Kills the process with SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        kill(&mut self.child);
    }

    /// Whether it runs.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// How many WebSockets it holds (its `visavis_connections` gauge); 0 if it is down.
    pub fn sockets(&self) -> u32 {
        if !self.is_running() {
            return 0;
        }
        let answer = exchange(
            self.port,
            &format!("GET /metrics HTTP/1.0\r\nAuthorization: Bearer {METRICS_TOKEN}\r\n\r\n"),
        );
        answer
            .lines()
            .find_map(|line| line.strip_prefix("visavis_connections "))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0)
    }

    /// The end of its log, for a failing test.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

/// HAProxy in front of the nodes.
pub struct Haproxy {
    pub port: u16,
    child: Option<Child>,
    _config: tempfile::NamedTempFile,
}

impl Haproxy {
    /// Runs the documented configuration with the frontend on a free loopback port and the
    /// servers at `nodes` (in order n1, n2, ...), and waits until it passes `/readyz` on.
    pub fn start(nodes: &[u16]) -> anyhow::Result<Haproxy> {
        let port = free_port()?;
        let mut config = tempfile::NamedTempFile::new()?;
        config.write_all(documented_haproxy_config(port, nodes)?.as_bytes())?;
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(config.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting haproxy (scripts/setup.sh installs it)")?;
        let haproxy = Haproxy {
            port,
            child: Some(child),
            _config: config,
        };
        wait_until("haproxy passes /readyz on", || {
            answers_200(&exchange(port, "GET /readyz HTTP/1.0\r\n\r\n"))
        })?;
        Ok(haproxy)
    }

    /// The app's address through the balancer.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

/// The HAProxy configuration of docs/deployment.md, with the frontend bound to
/// `127.0.0.1:listen` (no TLS) and server `nK` at `127.0.0.1:nodes[K-1]`.
pub fn documented_haproxy_config(listen: u16, nodes: &[u16]) -> anyhow::Result<String> {
    let doc = std::fs::read_to_string(workspace_root().join("docs/deployment.md"))?;
    let start = doc
        .find("```haproxy\n")
        .context("docs/deployment.md has no haproxy block")?
        + "```haproxy\n".len();
    let length = doc[start..]
        .find("```")
        .context("the haproxy block never ends")?;
    let mut config = String::new();
    for line in doc[start..start + length].lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("bind :443 ") {
            config.push_str(&format!("    bind 127.0.0.1:{listen}\n"));
        } else if let Some(rest) = trimmed.strip_prefix("server n") {
            let mut words = rest.split_whitespace();
            let index: usize = words.next().context("a server name")?.parse()?;
            let _address = words.next();
            let options: Vec<&str> = words.collect();
            let port = nodes
                .get(index - 1)
                .with_context(|| format!("no node for server n{index}"))?;
            config.push_str(&format!(
                "    server n{index} 127.0.0.1:{port} {}\n",
                options.join(" ")
            ));
        } else {
            config.push_str(line);
            config.push('\n');
        }
    }
    Ok(config)
}

/// The `visavis` binary of this build (debug), built first when it is missing.
fn visavis_binary() -> anyhow::Result<PathBuf> {
    let path = target_dir().join("debug").join("visavis");
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "visavis", "--bin", "visavis"])
            .current_dir(workspace_root())
            .status()?;
        if !status.success() {
            bail!("building the visavis binary failed");
        }
    }
    Ok(path)
}
