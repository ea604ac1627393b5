//! The app under test: the visavis server, run in this process on a free loopback port over
//! plain HTTP, which a test can stop, kill and start again on the same port and data directory.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::Parser as _;

use crate::paths::dist_dir;
use crate::turn;
use crate::wait::POLL_INTERVAL;

/// Asks the running server to stop; the future ends once it has.
type StopServer = Box<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Lines of a log written by something a test started (e.g. coturn), shared with the harness so
/// a failing test saves it next to the screenshots.
pub type SharedLog = Arc<std::sync::Mutex<Vec<String>>>;

/// How the app under test is started: command-line flags added to the harness's own (plain HTTP
/// on a free loopback port, the client build, a fresh data directory, no STUN), and logs of
/// helper processes to save if the test fails.
#[derive(Clone, Default)]
pub struct AppOptions {
    args: Vec<String>,
    /// The address to listen on instead of `127.0.0.1` (a veth address that a browser in a
    /// network namespace can reach, see [`crate::netns`]).
    listen_ip: Option<std::net::IpAddr>,
    pub(crate) log_sources: Vec<(String, SharedLog)>,
}

impl AppOptions {
    /// No extra flags: the app as the two-party tests run it.
    pub fn new() -> AppOptions {
        AppOptions::default()
    }

    /// Adds one command-line argument (a flag or its value).
    pub fn arg(mut self, arg: impl Into<String>) -> AppOptions {
        self.args.push(arg.into());
        self
    }

    /// Listens on `ip` (a free port) instead of `127.0.0.1`; the base URL uses it too.
    pub fn listen_on(mut self, ip: std::net::IpAddr) -> AppOptions {
        self.listen_ip = Some(ip);
        self
    }

    /// Adds `--flag value`.
    pub fn flag(self, flag: &str, value: impl Into<String>) -> AppOptions {
        self.arg(flag).arg(value)
    }

    /// Runs the built-in TURN relay on `127.0.0.1:<free port>`, advertising `127.0.0.1`, with
    /// `secret` and relay ports from a free range (not the default range, which other programs
    /// on the machine may be using).
    pub fn builtin_relay(self, secret: &str) -> anyhow::Result<AppOptions> {
        let ports = turn::free_udp_port_range(20)?;
        Ok(self
            .flag("--turn-secret", secret)
            .flag("--turn-listen", "127.0.0.1:0")
            .flag("--turn-external-ip", "127.0.0.1")
            .flag(
                "--turn-relay-ports",
                format!("{}-{}", ports.start(), ports.end()),
            ))
    }

    /// Hands browsers an external TURN server (`--turn-url`) with credentials from `secret`.
    pub fn external_turn(self, url: &str, secret: &str) -> AppOptions {
        self.flag("--turn-url", url).flag("--turn-secret", secret)
    }

    /// A log to save with the screenshots if the test fails, as `<test>-<name>.log`.
    pub fn log_source(mut self, name: &str, log: SharedLog) -> AppOptions {
        self.log_sources.push((name.to_owned(), log));
        self
    }

    /// The extra command-line arguments.
    pub fn args(&self) -> &[String] {
        &self.args
    }
}

/// The visavis server, running in this process on a free loopback port over plain HTTP.
pub struct TestApp {
    port: u16,
    /// The address it listens on (`127.0.0.1` unless [`AppOptions::listen_on`] said otherwise).
    ip: std::net::IpAddr,
    relay_addr: Option<SocketAddr>,
    relay_url: Option<String>,
    relay_ports: Option<std::ops::RangeInclusive<u16>>,
    /// The command line it was built from, with the ports it bound (so it can be started again
    /// on the same ports, see [`TestApp::start_again`]).
    args: Vec<std::ffi::OsString>,
    _data_dir: tempfile::TempDir,
    /// The running server; `None` once it has been stopped.
    running: std::sync::Mutex<Option<RunningServer>>,
}

/// One run of the server: how to stop it, and the task that serves.
struct RunningServer {
    stop: StopServer,
    server: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// Serves `app` on a task of this runtime.
    fn spawn(app: visavis::startup::Application) -> RunningServer {
        let handle = app.handle();
        let stop: StopServer = Box::new(move || {
            let handle = handle.clone();
            Box::pin(async move { handle.stop(false).await })
        });
        let server = tokio::spawn(async move {
            if let Err(error) = app.run_until_stopped().await {
                eprintln!("visavis server stopped with an error: {error:#}");
            }
        });
        RunningServer { stop, server }
    }
}

impl TestApp {
    /// Builds and starts the app, serving [`dist_dir`], with no STUN servers.
    pub async fn start() -> anyhow::Result<TestApp> {
        TestApp::start_with(&AppOptions::default()).await
    }

    /// Like [`TestApp::start`], with the extra flags of `options` after the harness's own.
    pub async fn start_with(options: &AppOptions) -> anyhow::Result<TestApp> {
        let dist = dist_dir();
        let ip = options
            .listen_ip
            .unwrap_or(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST));
        let data_dir = tempfile::Builder::new()
            .prefix("visavis-e2e-data-")
            .tempdir()
            .context("creating the data directory")?;
        let mut args: Vec<std::ffi::OsString> = vec![
            "visavis".into(),
            "--no-tls".into(),
            "--rate-limit-exempt-loopback".into(),
            "--listen".into(),
            SocketAddr::new(ip, 0).to_string().into(),
            "--static-dir".into(),
            dist.into_os_string(),
            "--data-dir".into(),
            data_dir.path().as_os_str().to_owned(),
            "--stun".into(),
            "".into(),
        ];
        args.extend(options.args.iter().map(Into::into));
        let config = visavis::config::Config::try_parse_from(args.clone())
            .with_context(|| format!("the app's flags {:?}", options.args))?;
        let relay_ports = config
            .turn_listen
            .is_some()
            .then(|| config.turn_relay_ports.clone());
        // The host the app puts into its advertised `turn:` URL (see `start_relay`).
        let relay_host = config
            .turn_listen
            .map(|listen| config.turn_external_ip.unwrap_or(listen.ip()));
        let app = visavis::startup::Application::build(config)
            .await
            .context("building the visavis application")?;
        let port = app.port();
        let relay_addr = app.relay_addr();
        let relay_url = relay_host.zip(relay_addr).map(|(host, addr)| {
            format!("turn:{}?transport=udp", SocketAddr::new(host, addr.port()))
        });
        let args = pin_bound_addresses(args, SocketAddr::new(ip, port), relay_addr);
        let running = RunningServer::spawn(app);
        Ok(TestApp {
            port,
            ip,
            relay_addr,
            relay_url,
            relay_ports,
            args,
            _data_dir: data_dir,
            running: std::sync::Mutex::new(Some(running)),
        })
    }

    /// The port the app listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The app's base URL, `http://127.0.0.1:<port>` (a secure context, so cameras work; on
    /// another address, browsers need it declared secure, see [`crate::netns`]).
    pub fn base_url(&self) -> String {
        format!("http://{}", SocketAddr::new(self.ip, self.port))
    }

    /// The UDP address of the built-in TURN relay, if it runs.
    pub fn relay_addr(&self) -> Option<SocketAddr> {
        self.relay_addr
    }

    /// The UDP ports the built-in relay relays from, if it runs.
    pub fn relay_ports(&self) -> Option<std::ops::RangeInclusive<u16>> {
        self.relay_ports.clone()
    }

    /// The `turn:` URL the app advertises for its built-in relay, if it runs.
    pub fn relay_url(&self) -> Option<String> {
        self.relay_url.clone()
    }

    /// The built-in relay's live allocations, seen from outside the app: the UDP sockets this
    /// process holds in the relay's port range. Empty without the built-in relay.
    pub fn relay_allocations(&self) -> Vec<SocketAddr> {
        let Some(ports) = &self.relay_ports else {
            return Vec::new();
        };
        turn::udp_sockets_of(std::process::id())
            .unwrap_or_default()
            .into_iter()
            .filter(|addr| ports.contains(&addr.port()))
            .collect()
    }
}

impl TestApp {
    /// Stops the server (without waiting for open connections to finish).
    pub async fn stop(&self) {
        let running = self.take_running();
        let Some(running) = running else {
            return;
        };
        if tokio::time::timeout(Duration::from_secs(10), (running.stop)())
            .await
            .is_err()
        {
            eprintln!("the visavis server did not stop within 10 s");
        }
        running.server.abort();
    }

    /// Takes the running server out, leaving `None`.
    fn take_running(&self) -> Option<RunningServer> {
        match self.running.lock() {
            Ok(mut running) => running.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        }
    }

    /// Whether the server runs now (it was not stopped, or was started again).
    pub fn is_running(&self) -> bool {
        match self.running.lock() {
            Ok(running) => running.is_some(),
            Err(poisoned) => poisoned.into_inner().is_some(),
        }
    }

    /// Stops the server abruptly, as when its process dies: no graceful shutdown, every open
    /// connection (WebSockets included) is dropped without a close frame, and in-memory state
    /// (rooms, seats) is gone. The data directory stays, for [`TestApp::start_again`]. Returns
    /// once the port refuses connections.
    pub async fn kill(&self) {
        if let Some(running) = self.take_running() {
            // `stop(false)` ends each worker at once; its runtime, with every connection's
            // task, is dropped, so the sockets close without any WebSocket close frame.
            if tokio::time::timeout(Duration::from_secs(10), (running.stop)())
                .await
                .is_err()
            {
                eprintln!("the visavis server did not stop within 10 s");
            }
            running.server.abort();
            let _ = running.server.await;
        }
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(addr).await.is_ok() {
            if Instant::now() >= deadline {
                panic!("the killed visavis server still accepts connections on {addr}");
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Starts the server again after [`TestApp::kill`] (or [`TestApp::stop`]): the same flags,
    /// the same data directory (so seat tokens it signed stay valid), the same port (and the
    /// same built-in relay address, if it runs one). Retries binding for a few seconds, in case
    /// the old sockets are not released yet. Returns once it accepts connections.
    pub async fn start_again(&self) -> anyhow::Result<()> {
        if self.is_running() {
            bail!("the visavis server is still running");
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let app = loop {
            let config = visavis::config::Config::try_parse_from(self.args.clone())
                .context("the app's flags")?;
            match visavis::startup::Application::build(config).await {
                Ok(app) => break app,
                Err(error) if Instant::now() < deadline => {
                    eprintln!("starting the visavis server again failed, retrying: {error:#}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(error) => return Err(error.context("starting the visavis server again")),
            }
        };
        if app.port() != self.port {
            bail!(
                "the restarted server bound port {} instead of {}",
                app.port(),
                self.port
            );
        }
        let running = RunningServer::spawn(app);
        match self.running.lock() {
            Ok(mut slot) => *slot = Some(running),
            Err(poisoned) => *poisoned.into_inner() = Some(running),
        }
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            if Instant::now() >= deadline {
                bail!("the restarted visavis server does not accept connections on {addr}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }
}

/// The app's command line with the wildcard ports it was given replaced by the ones it bound:
/// `--listen` gets `<ip>:<port>` and `--turn-listen` (if the built-in relay runs) its
/// bound address, so a restart comes back where the browsers expect it.
fn pin_bound_addresses(
    args: Vec<std::ffi::OsString>,
    listen: SocketAddr,
    relay_addr: Option<SocketAddr>,
) -> Vec<std::ffi::OsString> {
    let mut pinned = Vec::with_capacity(args.len());
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let text = arg.to_string_lossy().into_owned();
        let replacement = match text.as_str() {
            "--listen" => Some(listen.to_string()),
            "--turn-listen" => relay_addr.map(|addr| addr.to_string()),
            _ => None,
        };
        if let Some(value) = replacement {
            pinned.push(arg);
            // The flag's own value, replaced.
            let _ = args.next();
            pinned.push(value.into());
        } else if text.starts_with("--listen=") {
            pinned.push(format!("--listen={listen}").into());
        } else if let (true, Some(addr)) = (text.starts_with("--turn-listen="), relay_addr) {
            pinned.push(format!("--turn-listen={addr}").into());
        } else {
            pinned.push(arg);
        }
    }
    pinned
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let running = match self.running.get_mut() {
            Ok(running) => running.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(running) = running {
            running.server.abort();
        }
    }
}
