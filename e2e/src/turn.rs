//! TURN helpers for the NAT-traversal browser tests: a real coturn (`/usr/bin/turnserver`) run
//! as a child process on loopback, a STUN Binding probe to tell when a relay answers, free UDP
//! port ranges for relay sockets, random shared secrets, and a look at which UDP sockets a
//! process holds (to see a relay's allocations from the outside).

use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::hash::{BuildHasher as _, Hasher as _};
use std::io::{BufRead as _, BufReader};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _};

/// Where Debian's coturn package installs the server.
pub const COTURN_BINARY: &str = "/usr/bin/turnserver";

/// How long coturn may take to answer its first STUN request after being started.
const COTURN_START_TIMEOUT: Duration = Duration::from_secs(20);

/// How often the helpers here poll.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The realm coturn runs with (the built-in relay uses the same).
pub const TURN_REALM: &str = "visavis";

// ---------------------------------------------------------------------------------------------
// Secrets and ports
// ---------------------------------------------------------------------------------------------

/// A fresh random secret, 32 hex digits (from the randomly keyed standard hasher: unpredictable
/// enough for a test's shared secret, and needs no extra dependency).
pub fn random_secret() -> String {
    let mut secret = String::with_capacity(32);
    for round in 0..2u8 {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u8(round);
        hasher.write_u128(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        hasher.write_u32(std::process::id());
        secret.push_str(&format!("{:016x}", hasher.finish()));
    }
    secret
}

/// A small random number below `bound` (for picking where to look for free ports).
fn random_below(bound: u32) -> u32 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (hasher.finish() % u64::from(bound.max(1))) as u32
}

/// A loopback port that is free for both UDP and TCP right now (coturn listens on both).
pub fn free_udp_and_tcp_port() -> anyhow::Result<u16> {
    for _ in 0..200 {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).context("binding a probe socket")?;
        let port = udp.local_addr()?.port();
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    bail!("found no loopback port free for both UDP and TCP")
}

/// A loopback TCP port that is free right now (for a TLS listener).
pub fn free_tcp_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("binding a probe socket")?;
    Ok(listener.local_addr()?.port())
}

/// `len` consecutive UDP ports, all free on loopback right now, between 20000 and 60000 (below
/// the usual ephemeral range, so the OS is unlikely to hand them out meanwhile). Other processes
/// may still take one before the relay does; a relay skips ports it cannot bind.
pub fn free_udp_port_range(len: u16) -> anyhow::Result<std::ops::RangeInclusive<u16>> {
    const LOW: u32 = 20_000;
    const HIGH: u32 = 60_000;
    let len = u32::from(len.max(1));
    for _ in 0..200 {
        let first = LOW + random_below(HIGH - LOW - len);
        let all_free = (first..first + len)
            .all(|port| UdpSocket::bind((Ipv4Addr::LOCALHOST, port as u16)).is_ok());
        if all_free {
            return Ok(first as u16..=(first + len - 1) as u16);
        }
    }
    bail!("found no {len} consecutive free UDP ports between {LOW} and {HIGH}")
}

// ---------------------------------------------------------------------------------------------
// STUN Binding probe
// ---------------------------------------------------------------------------------------------

/// The STUN magic cookie (RFC 5389).
const MAGIC_COOKIE: u32 = 0x2112_A442;

/// A STUN Binding request with this transaction id.
fn binding_request(transaction: [u8; 12]) -> [u8; 20] {
    let mut message = [0u8; 20];
    message[0..2].copy_from_slice(&0x0001u16.to_be_bytes());
    // Message length 0: no attributes.
    message[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
    message[8..20].copy_from_slice(&transaction);
    message
}

/// Whether `response` is a Binding success response to `transaction`.
fn is_binding_success(response: &[u8], transaction: [u8; 12]) -> bool {
    response.len() >= 20
        && response[0..2] == 0x0101u16.to_be_bytes()
        && response[4..8] == MAGIC_COOKIE.to_be_bytes()
        && response[8..20] == transaction
}

/// Sends one STUN Binding request to `server` over UDP and waits up to `wait` for the success
/// response. A TURN server answers Binding requests without credentials.
pub fn stun_binding_answers(server: SocketAddr, wait: Duration) -> bool {
    let Ok(socket) = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)) else {
        return false;
    };
    if socket.set_read_timeout(Some(wait)).is_err() {
        return false;
    }
    let mut transaction = [0u8; 12];
    transaction[..8].copy_from_slice(&RandomState::new().build_hasher().finish().to_be_bytes());
    if socket
        .send_to(&binding_request(transaction), server)
        .is_err()
    {
        return false;
    }
    let deadline = Instant::now() + wait;
    let mut buffer = [0u8; 1500];
    while Instant::now() < deadline {
        match socket.recv_from(&mut buffer) {
            Ok((read, from)) if from == server => {
                if is_binding_success(&buffer[..read], transaction) {
                    return true;
                }
            }
            Ok(_) => {}
            // Nothing listening (ICMP port unreachable) or the read timed out.
            Err(_) => return false,
        }
    }
    false
}

/// Polls [`stun_binding_answers`] until `server` answers or `timeout` passes.
pub async fn wait_for_stun_answer(server: SocketAddr, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let answered = tokio::task::spawn_blocking(move || {
            stun_binding_answers(server, Duration::from_millis(500))
        })
        .await
        .unwrap_or(false);
        if answered {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("{server} did not answer a STUN Binding request within {timeout:?}");
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Which UDP sockets a process holds
// ---------------------------------------------------------------------------------------------

/// The inodes of the sockets process `pid` holds (from `/proc/<pid>/fd`).
fn socket_inodes(pid: u32) -> anyhow::Result<HashSet<u64>> {
    let dir = PathBuf::from(format!("/proc/{pid}/fd"));
    let mut inodes = HashSet::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let Ok(entry) = entry else { continue };
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        let target = target.to_string_lossy();
        if let Some(inode) = target
            .strip_prefix("socket:[")
            .and_then(|rest| rest.strip_suffix(']'))
            .and_then(|digits| digits.parse().ok())
        {
            inodes.insert(inode);
        }
    }
    Ok(inodes)
}

/// Parses one line of `/proc/net/udp` (IPv4 only): its local address and inode.
fn parse_proc_udp_line(line: &str) -> Option<(SocketAddr, u64)> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let (ip_hex, port_hex) = fields.get(1)?.split_once(':')?;
    if ip_hex.len() != 8 {
        return None;
    }
    // The address is the in-memory u32, printed in hex: little-endian on the machines these
    // tests run on.
    let ip = u32::from_str_radix(ip_hex, 16).ok()?;
    let ip = Ipv4Addr::from(ip.swap_bytes());
    let port = u16::from_str_radix(port_hex, 16).ok()?;
    let inode = fields.get(9)?.parse().ok()?;
    Some((SocketAddr::from((ip, port)), inode))
}

/// The local addresses of the IPv4 UDP sockets process `pid` holds.
pub fn udp_sockets_of(pid: u32) -> anyhow::Result<Vec<SocketAddr>> {
    let inodes = socket_inodes(pid)?;
    // The kernel writes /proc/net/udp in pages, and sockets other processes open or close
    // meanwhile can make one read skip a line; a full CI run saw a test's own socket missing.
    // The union of a few reads does not.
    let mut found = Vec::new();
    for _ in 0..3 {
        let table = std::fs::read_to_string("/proc/net/udp").context("reading /proc/net/udp")?;
        for (addr, inode) in table.lines().skip(1).filter_map(parse_proc_udp_line) {
            if inodes.contains(&inode) && !found.contains(&addr) {
                found.push(addr);
            }
        }
    }
    Ok(found)
}

// ---------------------------------------------------------------------------------------------
// coturn
// ---------------------------------------------------------------------------------------------

/// Panics with an install hint unless coturn is installed: the TURN tests must not pass by
/// skipping.
pub fn require_coturn() {
    if !Path::new(COTURN_BINARY).is_file() {
        panic!(
            "{COTURN_BINARY} is missing: the TURN browser tests need coturn \
             (on Debian: `apt-get install coturn`)."
        );
    }
}

/// A coturn server running as a child process on 127.0.0.1 with the TURN REST API secret;
/// killed when dropped. Its log (stdout) is collected in memory.
pub struct Coturn {
    child: Option<Child>,
    port: u16,
    /// TURN over TLS, when started with [`Coturn::start_with_tls`].
    tls: Option<CoturnTls>,
    relay_ports: std::ops::RangeInclusive<u16>,
    secret: String,
    log: crate::SharedLog,
    _dir: tempfile::TempDir,
}

/// coturn's TLS listener: its port and the certificate files it serves.
struct CoturnTls {
    port: u16,
    cert: PathBuf,
    key: PathBuf,
}

impl Coturn {
    /// Starts coturn with `secret` on a free loopback port (UDP+TCP, no TLS/DTLS, no CLI) with
    /// 51 relay ports, loopback peers allowed, and waits until it answers a STUN Binding
    /// request. Panics if coturn is not installed.
    pub async fn start(secret: &str) -> anyhow::Result<Coturn> {
        Coturn::start_inner(secret, None).await
    }

    /// Like [`Coturn::start`], and also serving TURN over TLS on another free loopback port
    /// with the PEM certificate chain `cert_pem` and key `key_pem`.
    pub async fn start_with_tls(
        secret: &str,
        cert_pem: &str,
        key_pem: &str,
    ) -> anyhow::Result<Coturn> {
        Coturn::start_inner(secret, Some((cert_pem, key_pem))).await
    }

    async fn start_inner(secret: &str, tls_pem: Option<(&str, &str)>) -> anyhow::Result<Coturn> {
        require_coturn();
        let dir = tempfile::Builder::new()
            .prefix("visavis-e2e-coturn-")
            .tempdir()
            .context("creating coturn's directory")?;
        let port = free_udp_and_tcp_port()?;
        let relay_ports = free_udp_port_range(51)?;
        let tls = match tls_pem {
            Some((cert_pem, key_pem)) => {
                let cert = dir.path().join("turn-cert.pem");
                let key = dir.path().join("turn-key.pem");
                std::fs::write(&cert, cert_pem).context("writing coturn's certificate")?;
                std::fs::write(&key, key_pem).context("writing coturn's key")?;
                Some(CoturnTls {
                    port: free_tcp_port()?,
                    cert,
                    key,
                })
            }
            None => None,
        };
        let args = coturn_args(port, tls.as_ref(), &relay_ports, secret, dir.path());
        let mut child = Command::new(COTURN_BINARY)
            .args(&args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {COTURN_BINARY}"))?;
        let log = Arc::new(Mutex::new(Vec::new()));
        if let Some(stdout) = child.stdout.take() {
            collect_lines(stdout, log.clone(), "");
        }
        if let Some(stderr) = child.stderr.take() {
            collect_lines(stderr, log.clone(), "stderr: ");
        }
        let mut coturn = Coturn {
            child: Some(child),
            port,
            tls,
            relay_ports,
            secret: secret.to_owned(),
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + COTURN_START_TIMEOUT;
        loop {
            if let Some(child) = coturn.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    bail!(
                        "coturn exited before it answered ({status}); its log:\n{}",
                        coturn.log_text()
                    );
                }
            }
            if wait_for_stun_answer(coturn.addr(), Duration::from_millis(600))
                .await
                .is_ok()
            {
                return Ok(coturn);
            }
            if Instant::now() >= deadline {
                bail!(
                    "coturn did not answer STUN on {} within {COTURN_START_TIMEOUT:?}; its log:\n{}",
                    coturn.addr(),
                    coturn.log_text()
                );
            }
        }
    }

    /// The UDP (and TCP) address coturn listens on.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The `turn:` URL for browsers, over UDP.
    pub fn turn_url(&self) -> String {
        format!("turn:127.0.0.1:{}?transport=udp", self.port)
    }

    /// The `turn:` URL for browsers, over TCP (the same port as UDP).
    pub fn turn_tcp_url(&self) -> String {
        format!("turn:127.0.0.1:{}?transport=tcp", self.port)
    }

    /// The `turns:` URL for browsers with `host` (which the certificate must name), if coturn
    /// serves TLS.
    pub fn turns_url(&self, host: &str) -> Option<String> {
        self.tls
            .as_ref()
            .map(|tls| format!("turns:{host}:{}?transport=tcp", tls.port))
    }

    /// The ports coturn relays media from.
    pub fn relay_ports(&self) -> std::ops::RangeInclusive<u16> {
        self.relay_ports.clone()
    }

    /// The shared secret coturn checks credentials with.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// coturn's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The relay addresses coturn holds now: its UDP sockets in its relay port range, i.e. its
    /// live allocations.
    pub fn allocations(&self) -> Vec<SocketAddr> {
        let Some(pid) = self.pid() else {
            return Vec::new();
        };
        udp_sockets_of(pid)
            .unwrap_or_default()
            .into_iter()
            .filter(|addr| self.relay_ports.contains(&addr.port()))
            .collect()
    }

    /// The shared log, to hand to [`crate::AppOptions::log_source`] so a failing test saves it.
    pub fn log_handle(&self) -> crate::SharedLog {
        self.log.clone()
    }

    /// Every log line so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.log
            .lock()
            .map(|lines| lines.clone())
            .unwrap_or_default()
    }

    /// The log so far as one text.
    pub fn log_text(&self) -> String {
        self.log_lines().join("\n")
    }

    /// How many log lines contain `needle`.
    pub fn count_log_lines(&self, needle: &str) -> usize {
        self.log_lines()
            .iter()
            .filter(|line| line.contains(needle))
            .count()
    }

    /// Polls the log until a line contains `needle` at least `count` times, or panics after
    /// `timeout` with the log.
    pub async fn wait_for_log(&self, needle: &str, count: usize, timeout: Duration) {
        self.wait_for_log_lines(
            |line| line.contains(needle),
            count,
            &format!("{needle:?}"),
            timeout,
        )
        .await;
    }

    /// Polls the log until at least `count` lines satisfy `matches`, or panics after `timeout`
    /// with `description` and the log.
    pub async fn wait_for_log_lines(
        &self,
        matches: impl Fn(&str) -> bool,
        count: usize,
        description: &str,
        timeout: Duration,
    ) {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self.log_lines().iter().filter(|l| matches(l)).count();
            if found >= count {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "coturn's log did not show {description} {count} time(s) within \
                     {timeout:?}; its log:\n{}",
                    self.log_text()
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Whether coturn runs now (started, and not stopped since).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Starts coturn again after [`Coturn::stop`], as the same server: the same address and
    /// ports, the same secret, the same directory, logging into the same log (a line
    /// `---- coturn started again ----` marks the restart). Waits until it answers STUN; retries
    /// if it exits at once (e.g. a port not released yet).
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        if self.child.is_some() {
            bail!("coturn is still running");
        }
        if let Ok(mut lines) = self.log.lock() {
            lines.push("---- coturn started again ----".to_owned());
        }
        let args = coturn_args(
            self.port,
            self.tls.as_ref(),
            &self.relay_ports,
            &self.secret,
            self._dir.path(),
        );
        let deadline = Instant::now() + COTURN_START_TIMEOUT;
        loop {
            let mut child = Command::new(COTURN_BINARY)
                .args(&args)
                .current_dir(self._dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .with_context(|| format!("starting {COTURN_BINARY} again"))?;
            if let Some(stdout) = child.stdout.take() {
                collect_lines(stdout, self.log.clone(), "");
            }
            if let Some(stderr) = child.stderr.take() {
                collect_lines(stderr, self.log.clone(), "stderr: ");
            }
            loop {
                if let Some(status) = child.try_wait()? {
                    if Instant::now() >= deadline {
                        bail!(
                            "coturn exited again before it answered ({status}); its log:\n{}",
                            self.log_text()
                        );
                    }
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    break;
                }
                if wait_for_stun_answer(self.addr(), Duration::from_millis(600))
                    .await
                    .is_ok()
                {
                    self.child = Some(child);
                    return Ok(());
                }
                if Instant::now() >= deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    bail!(
                        "coturn did not answer STUN on {} within {COTURN_START_TIMEOUT:?} after \
                         being started again; its log:\n{}",
                        self.addr(),
                        self.log_text()
                    );
                }
            }
        }
    }

    /// Kills coturn and waits until its port no longer answers STUN.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while stun_binding_answers(self.addr(), Duration::from_millis(200)) {
            if Instant::now() >= deadline {
                panic!("coturn still answers on {} after being killed", self.addr());
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// coturn's command line: no configuration file, loopback only, the REST API secret, UDP/TCP
/// (plus TLS on its own port when `tls` is given; never DTLS), loopback peers allowed (both
/// browsers' relay addresses are on 127.0.0.1), log to stdout, pid file and (unused) user
/// database in `dir`.
fn coturn_args(
    port: u16,
    tls: Option<&CoturnTls>,
    relay_ports: &std::ops::RangeInclusive<u16>,
    secret: &str,
    dir: &Path,
) -> Vec<String> {
    let mut args = vec![
        "-n".to_owned(),
        "--listening-ip=127.0.0.1".to_owned(),
        format!("--listening-port={port}"),
        "--relay-ip=127.0.0.1".to_owned(),
        "--external-ip=127.0.0.1".to_owned(),
        format!("--min-port={}", relay_ports.start()),
        format!("--max-port={}", relay_ports.end()),
        "--use-auth-secret".to_owned(),
        format!("--static-auth-secret={secret}"),
        format!("--realm={TURN_REALM}"),
        "--allow-loopback-peers".to_owned(),
        "--no-cli".to_owned(),
        "--no-dtls".to_owned(),
        "--fingerprint".to_owned(),
        // Moderate verbosity: one line per processed request (ALLOCATE, 401s...).
        "--verbose".to_owned(),
        "--log-file=stdout".to_owned(),
        "--simple-log".to_owned(),
        format!("--pidfile={}", dir.join("turn.pid").display()),
        format!("--userdb={}", dir.join("turndb").display()),
    ];
    match tls {
        None => args.push("--no-tls".to_owned()),
        Some(tls) => args.extend([
            format!("--tls-listening-port={}", tls.port),
            format!("--cert={}", tls.cert.display()),
            format!("--pkey={}", tls.key.display()),
        ]),
    }
    args
}

/// Reads `stream` line by line into `log` on a background thread until it closes.
fn collect_lines(
    stream: impl std::io::Read + Send + 'static,
    log: Arc<Mutex<Vec<String>>>,
    prefix: &'static str,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let Ok(mut lines) = log.lock() {
                lines.push(format!("{prefix}{line}"));
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_hex_and_differ() {
        let a = random_secret();
        let b = random_secret();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn binding_responses_must_match_the_transaction() {
        let id = [7u8; 12];
        let request = binding_request(id);
        assert_eq!(&request[0..2], &[0, 1]);
        let mut response = request;
        response[0..2].copy_from_slice(&0x0101u16.to_be_bytes());
        assert!(is_binding_success(&response, id));
        assert!(!is_binding_success(&response, [8u8; 12]));
        assert!(!is_binding_success(&request, id));
    }

    #[test]
    fn proc_udp_lines_parse() {
        let line = "  42: 0100007F:C350 00000000:0000 07 00000000:00000000 00:00000000 \
                    00000000     0        0 123456 2 0000000000000000 0";
        assert_eq!(
            parse_proc_udp_line(line),
            Some(("127.0.0.1:50000".parse().unwrap(), 123_456))
        );
        assert_eq!(parse_proc_udp_line("sl local_address"), None);
    }

    #[test]
    fn this_process_sees_its_own_udp_socket() {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = socket.local_addr().unwrap();
        assert!(udp_sockets_of(std::process::id()).unwrap().contains(&addr));
    }

    #[tokio::test]
    async fn coturn_answers_stun_until_it_is_stopped() {
        let mut coturn = Coturn::start(&random_secret()).await.unwrap();
        assert!(coturn.pid().is_some());
        assert!(stun_binding_answers(coturn.addr(), Duration::from_secs(2)));
        assert!(coturn.allocations().is_empty());
        coturn.stop().await;
        assert!(coturn.pid().is_none());
        assert!(!stun_binding_answers(
            coturn.addr(),
            Duration::from_millis(300)
        ));
    }

    #[test]
    fn free_port_ranges_are_free() {
        let range = free_udp_port_range(5).unwrap();
        assert_eq!(range.clone().count(), 5);
        for port in range {
            UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
        }
    }
}
