//! Shared helpers for the browser end-to-end tests: the app under test, the WebDriver process,
//! one browser session per simulated person, page helpers that poll page state, and diagnostics
//! (screenshots and browser console logs) when a test fails.
//!
//! A test is written as
//!
//! ```text
//! #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
//! async fn something_works() {
//!     run_browser_test(|ctx| async move {
//!         let alice = ctx.person("alice").await;
//!         alice.open("/r/some-room").await;
//!         // ...
//!     })
//!     .await;
//! }
//! ```
//!
//! Tests that need more than the plain app use [`run_browser_test_with`]: a setup step (run once
//! the test's turn has come) returns [`AppOptions`] (extra server flags, e.g. the built-in TURN
//! relay) and whatever the body needs, such as a coturn process from [`turn::Coturn`]. People
//! whose pages are watched ([`Person::watch_peer_connections`]) let the test read `getStats()`
//! itself, independently of what the app displays.
//!
//! Every wait polls the page (about every 100 ms) until a condition holds or a timeout passes;
//! nothing waits by sleeping a fixed time. Browser tests run one at a time within a process
//! (see [`TestContext::start`]), because each one starts several browsers and the machines that
//! run them are small.

use std::any::Any;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _};
use clap::Parser as _;
use fantoccini::wd::{Capabilities, TimeoutConfiguration, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::{Mutex, Semaphore, SemaphorePermit};

pub mod turn;

/// How long a page may take to load and start the app (the WASM module is compiled on load,
/// which is slow with several browsers on two cores).
pub const PAGE_LOAD_TIMEOUT: Duration = Duration::from_secs(60);
/// How long two people may take to get from clicking Call to `connected`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a remote video may take to show decoded, moving frames once connected.
pub const VIDEO_TIMEOUT: Duration = Duration::from_secs(30);
/// How long anything else the page does in response to a click may take.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(20);
/// The upper bound for one whole browser test, diagnostics aside.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(360);

/// How often page state is polled.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Browser tests in one process run one at a time: each starts two or three browsers.
static BROWSER_TEST_SLOTS: Semaphore = Semaphore::const_new(1);

// ---------------------------------------------------------------------------------------------
// Locations
// ---------------------------------------------------------------------------------------------

/// The root of the cargo workspace (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| manifest_dir.to_path_buf())
}

/// The client build served by the app. Panics if it has not been built: a browser test that
/// cannot run must fail loudly rather than pass by skipping.
pub fn dist_dir() -> PathBuf {
    let dist = workspace_root().join("dist");
    if !dist.join("index.html").is_file() {
        panic!(
            "{} is missing: the browser tests need the client build. \
             Run `trunk build --release` first (it builds client-wasm into {}).",
            dist.join("index.html").display(),
            dist.display()
        );
    }
    dist
}

/// The cargo target directory (`CARGO_TARGET_DIR` if set, else `<workspace>/target`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        None => workspace_root().join("target"),
    }
}

/// Where failing tests leave screenshots and browser logs.
pub fn screenshot_dir() -> PathBuf {
    target_dir().join("e2e-screenshots")
}

/// A room name no other test (or earlier run) uses: `<prefix>-<time>-<counter>`.
pub fn unique_room(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() % 1_000_000_000)
        .unwrap_or(0);
    format!("{prefix}-{millis}-{n}")
}

/// Asks the OS for a free TCP port on the loopback interface.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("binding a probe port")?;
    Ok(listener.local_addr()?.port())
}

// ---------------------------------------------------------------------------------------------
// The app under test
// ---------------------------------------------------------------------------------------------

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
    log_sources: Vec<(String, SharedLog)>,
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
        let data_dir = tempfile::Builder::new()
            .prefix("visavis-e2e-data-")
            .tempdir()
            .context("creating the data directory")?;
        let mut args: Vec<std::ffi::OsString> = vec![
            "visavis".into(),
            "--no-tls".into(),
            "--rate-limit-exempt-loopback".into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
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
        let args = pin_bound_addresses(args, port, relay_addr);
        let running = RunningServer::spawn(app);
        Ok(TestApp {
            port,
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

    /// The app's base URL, `http://127.0.0.1:<port>` (a secure context, so cameras work).
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
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
/// `--listen` gets `127.0.0.1:<port>` and `--turn-listen` (if the built-in relay runs) its
/// bound address, so a restart comes back where the browsers expect it.
fn pin_bound_addresses(
    args: Vec<std::ffi::OsString>,
    port: u16,
    relay_addr: Option<SocketAddr>,
) -> Vec<std::ffi::OsString> {
    let mut pinned = Vec::with_capacity(args.len());
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let text = arg.to_string_lossy().into_owned();
        let replacement = match text.as_str() {
            "--listen" => Some(format!("127.0.0.1:{port}")),
            "--turn-listen" => relay_addr.map(|addr| addr.to_string()),
            _ => None,
        };
        if let Some(value) = replacement {
            pinned.push(arg);
            // The flag's own value, replaced.
            let _ = args.next();
            pinned.push(value.into());
        } else if text.starts_with("--listen=") {
            pinned.push(format!("--listen=127.0.0.1:{port}").into());
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

// ---------------------------------------------------------------------------------------------
// Browsers and their WebDriver servers
// ---------------------------------------------------------------------------------------------

/// Which browser the tests drive. Each kind knows its binaries, how to start its WebDriver
/// server and the capabilities for a fresh, camera-faking, headless session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrowserKind {
    /// Debian's Chromium driven by chromedriver.
    Chromium,
    /// Debian's Firefox ESR driven by geckodriver (from `cargo install geckodriver`). Only
    /// chosen explicitly, e.g. with [`TestContext::person_in`]: the DevTools-based helpers
    /// ([`Person::watch_peer_connections`]) need Chromium.
    Firefox,
}

impl BrowserKind {
    /// The browser chosen by `VISAVIS_E2E_BROWSER` (`chromium`, the default).
    pub fn from_env() -> BrowserKind {
        match std::env::var("VISAVIS_E2E_BROWSER").as_deref() {
            Ok("chromium") | Ok("chrome") | Ok("") | Err(_) => BrowserKind::Chromium,
            Ok(other) => panic!("VISAVIS_E2E_BROWSER={other:?} is not a browser these tests know"),
        }
    }

    /// The short name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            BrowserKind::Chromium => "chromium",
            BrowserKind::Firefox => "firefox",
        }
    }

    /// The browser executable.
    pub fn browser_binary(self) -> PathBuf {
        match self {
            BrowserKind::Chromium => PathBuf::from("/usr/bin/chromium"),
            BrowserKind::Firefox => PathBuf::from("/usr/bin/firefox-esr"),
        }
    }

    /// The WebDriver server executable.
    pub fn driver_binary(self) -> PathBuf {
        match self {
            BrowserKind::Chromium => PathBuf::from("/usr/bin/chromedriver"),
            BrowserKind::Firefox => find_geckodriver(),
        }
    }

    /// Panics with an install hint unless both binaries are present.
    pub fn require_installed(self) {
        for binary in [self.browser_binary(), self.driver_binary()] {
            if !binary.is_file() {
                panic!(
                    "{} is missing: the browser tests need {} and its WebDriver server \
                     ({}; or run scripts/setup.sh).",
                    binary.display(),
                    self.name(),
                    self.install_hint()
                );
            }
        }
    }

    fn install_hint(self) -> &'static str {
        match self {
            BrowserKind::Chromium => "on Debian: `apt-get install chromium chromium-driver`",
            BrowserKind::Firefox => {
                "on Debian: `apt-get install firefox-esr` and `cargo install geckodriver`"
            }
        }
    }

    fn driver_args(self, port: u16) -> Vec<String> {
        match self {
            BrowserKind::Chromium => vec![format!("--port={port}")],
            BrowserKind::Firefox => vec![
                "--port".to_owned(),
                port.to_string(),
                "--host".to_owned(),
                "127.0.0.1".to_owned(),
            ],
        }
    }

    /// Whether `<video>.getVideoPlaybackQuality().totalVideoFrames` counts decoded frames.
    /// Headless Firefox leaves it at 0, so its videos are judged by `currentTime` instead.
    pub fn counts_video_frames(self) -> bool {
        match self {
            BrowserKind::Chromium => true,
            BrowserKind::Firefox => false,
        }
    }

    /// The capabilities of a new session whose profile lives in `profile_dir`.
    pub fn capabilities(self, profile_dir: &Path) -> Capabilities {
        self.capabilities_with(profile_dir, &BrowserOptions::default())
    }

    /// Like [`BrowserKind::capabilities`], with extra command-line arguments and preferences.
    pub fn capabilities_with(self, profile_dir: &Path, options: &BrowserOptions) -> Capabilities {
        let mut caps = Capabilities::new();
        match self {
            BrowserKind::Chromium => {
                let mut args = vec![
                    "--headless=new".to_owned(),
                    "--no-sandbox".to_owned(),
                    "--disable-gpu".to_owned(),
                    "--disable-dev-shm-usage".to_owned(),
                    "--use-fake-device-for-media-stream".to_owned(),
                    "--use-fake-ui-for-media-stream".to_owned(),
                    "--autoplay-policy=no-user-gesture-required".to_owned(),
                    "--disable-background-networking".to_owned(),
                    "--disable-component-update".to_owned(),
                    "--disable-sync".to_owned(),
                    "--no-first-run".to_owned(),
                    "--disable-quic".to_owned(),
                    // Real host addresses in candidates instead of random `.local` names: the
                    // machines these tests run on resolve no mDNS, and the TURN tests read the
                    // addresses.
                    "--disable-features=WebRtcHideLocalIpsWithMdns".to_owned(),
                    "--window-size=1280,800".to_owned(),
                    format!("--user-data-dir={}", profile_dir.display()),
                ];
                args.extend(options.args.iter().cloned());
                let mut chrome_options = json!({ "binary": self.browser_binary(), "args": args });
                if let Some(prefs) = &options.prefs {
                    chrome_options["prefs"] = prefs.clone();
                }
                caps.insert("browserName".to_owned(), json!("chrome"));
                caps.insert("goog:chromeOptions".to_owned(), chrome_options);
                caps.insert("goog:loggingPrefs".to_owned(), json!({ "browser": "ALL" }));
            }
            BrowserKind::Firefox => {
                let mut args = vec![
                    "-headless".to_owned(),
                    "-profile".to_owned(),
                    profile_dir.display().to_string(),
                ];
                args.extend(options.args.iter().cloned());
                let mut prefs = json!({
                    // A fake camera and microphone, granted without a prompt.
                    "media.navigator.streams.fake": true,
                    "media.navigator.permission.disabled": true,
                    // Videos play without a user gesture.
                    "media.autoplay.default": 0,
                    "media.autoplay.blocking_policy": 0,
                    // Loopback host candidates (skipped by default) and real addresses instead
                    // of mDNS names: both browsers run on one machine that resolves no mDNS.
                    "media.peerconnection.ice.loopback": true,
                    "media.peerconnection.ice.obfuscate_host_addresses": false,
                    "network.http.speculative-parallel-limit": 0,
                    "app.update.enabled": false,
                    "app.update.auto": false,
                    "browser.shell.checkDefaultBrowser": false,
                    "datareporting.policy.dataSubmissionEnabled": false,
                    "toolkit.telemetry.enabled": false,
                    // Page console messages go to the browser's stdout, which the harness keeps
                    // (geckodriver has no console-log endpoint).
                    "devtools.console.stdout.content": true,
                });
                if let (Some(Value::Object(extra)), Value::Object(all)) =
                    (&options.prefs, &mut prefs)
                {
                    all.extend(extra.clone());
                }
                caps.insert("browserName".to_owned(), json!("firefox"));
                caps.insert(
                    "moz:firefoxOptions".to_owned(),
                    json!({ "binary": self.browser_binary(), "args": args, "prefs": prefs }),
                );
            }
        }
        caps
    }
}

/// The geckodriver executable: the first on `PATH`, else `~/.cargo/bin/geckodriver`. If there
/// is none, the path where it was expected last (so [`BrowserKind::require_installed`] names it).
fn find_geckodriver() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("geckodriver"))
            .find(|candidate| candidate.is_file())
    });
    if let Some(found) = on_path {
        return found;
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from("/root/.cargo"));
    cargo_home.join("bin").join("geckodriver")
}

/// What one person's browser gets beyond the defaults.
#[derive(Debug, Clone, Default)]
pub struct BrowserOptions {
    /// Extra command-line arguments.
    pub args: Vec<String>,
    /// Profile preferences (Chromium's `goog:chromeOptions.prefs`), e.g.
    /// `{"webrtc": {"ip_handling_policy": "disable_non_proxied_udp"}}`; for Firefox, flat
    /// `about:config` names added to the harness's own `moz:firefoxOptions.prefs`.
    pub prefs: Option<Value>,
}

/// A WebDriver server running as a child process; killed when dropped.
pub struct DriverProcess {
    child: Child,
    port: u16,
    kind: BrowserKind,
    /// Firefox's driver output (with the browser's, and its pages' console messages), kept for
    /// diagnostics; Chromium's driver output is discarded.
    log: Option<tempfile::NamedTempFile>,
}

impl DriverProcess {
    /// Starts the WebDriver server for `kind` on a free port and waits until its `/status`
    /// says it is ready.
    pub async fn start(kind: BrowserKind) -> anyhow::Result<DriverProcess> {
        kind.require_installed();
        let port = free_port()?;
        let log = match kind {
            BrowserKind::Chromium => None,
            BrowserKind::Firefox => Some(
                tempfile::Builder::new()
                    .prefix("visavis-e2e-geckodriver-")
                    .suffix(".log")
                    .tempfile()
                    .context("creating the geckodriver log")?,
            ),
        };
        let (stdout, stderr) = match &log {
            Some(file) => (
                Stdio::from(file.as_file().try_clone()?),
                Stdio::from(file.as_file().try_clone()?),
            ),
            None => (Stdio::null(), Stdio::null()),
        };
        let child = Command::new(kind.driver_binary())
            .args(kind.driver_args(port))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("starting {}", kind.driver_binary().display()))?;
        let mut driver = DriverProcess {
            child,
            port,
            kind,
            log,
        };
        driver.wait_until_ready(Duration::from_secs(20)).await?;
        Ok(driver)
    }

    /// The URL sessions connect to.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Which browser this driver starts.
    pub fn kind(&self) -> BrowserKind {
        self.kind
    }

    /// What the driver (and, for Firefox, the browser and its pages' console) has written so
    /// far, if it is kept (Firefox only).
    pub fn log_text(&self) -> Option<String> {
        let file = self.log.as_ref()?;
        Some(String::from_utf8_lossy(&std::fs::read(file.path()).ok()?).into_owned())
    }

    async fn wait_until_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("the WebDriver server exited before it was ready ({status})");
            }
            let last = match driver_status(self.port).await {
                Ok(body) => {
                    let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
                    if compact.contains("\"ready\":true") {
                        return Ok(());
                    }
                    body
                }
                Err(error) => format!("{error:#}"),
            };
            if Instant::now() >= deadline {
                bail!(
                    "the WebDriver server on port {} was not ready after {timeout:?}; last: {last}",
                    self.port
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

/// `GET /status` of a WebDriver server, over a bare HTTP/1.1 exchange.
async fn driver_status(port: u16) -> anyhow::Result<String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        // Chromedriver answers HTTP/1.0 requests with nothing, so this is HTTP/1.1.
        let request =
            format!("GET /status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        // Chromedriver may keep the connection open: read until the body is complete.
        let mut response = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let read = stream.read(&mut chunk).await?;
            if read == 0 {
                break;
            }
            response.extend_from_slice(&chunk[..read]);
            if http_response_complete(&response) {
                break;
            }
        }
        let text = String::from_utf8_lossy(&response).into_owned();
        let body = text.split_once("\r\n\r\n").map(|(_, body)| body.to_owned());
        anyhow::Ok(body.unwrap_or(text))
    };
    tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .context("the status request timed out")?
}

/// Whether `response` holds a whole HTTP response with a `Content-Length` body.
fn http_response_complete(response: &[u8]) -> bool {
    let text = String::from_utf8_lossy(response);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        if name.trim().eq_ignore_ascii_case("content-length") {
            value.trim().parse::<usize>().ok()
        } else {
            None
        }
    });
    match length {
        Some(length) => body.len() >= length,
        None => false,
    }
}

impl Drop for DriverProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Chromedriver's (non-W3C) log endpoint, for the browser console.
#[derive(Debug)]
struct GetBrowserLog;

impl WebDriverCompatibleCommand for GetBrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({ "type": "browser" }).to_string()),
        )
    }
}

/// Chromedriver's endpoint for a Chrome DevTools Protocol command.
#[derive(Debug)]
struct CdpCommand {
    method: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for CdpCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({ "cmd": self.method, "params": self.params }).to_string()),
        )
    }
}

/// Runs before the app's own scripts on every page of a watched session (see
/// [`Person::watch_peer_connections`]): replaces `RTCPeerConnection` by a subclass that keeps
/// every connection in `window.__visavisE2ePeerConnections`, so the test can read `getStats()`
/// itself, and every `icecandidateerror` in `window.__visavisE2eIceErrors`. If the test has set
/// `window.__visavisE2eIceOverride = {username, credential}`, the subclass puts those into every
/// `turn:`/`turns:` server of the configuration, on creation and on `setConfiguration`;
/// otherwise the configuration passes unchanged.
const PEER_CONNECTION_PROBE: &str = r#"(() => {
  const Native = window.RTCPeerConnection;
  if (typeof Native !== 'function' || Native.__visavisE2eProbe) return;
  const connections = [];
  const errors = [];
  const rewrite = (config) => {
    const override = window.__visavisE2eIceOverride;
    if (!override || !config || !Array.isArray(config.iceServers)) return config;
    const servers = config.iceServers.map((server) => {
      const urls = [].concat(server.urls || []);
      if (!urls.some((u) => /^turns?:/i.test(String(u)))) return server;
      return Object.assign({}, server,
        { username: override.username, credential: override.credential });
    });
    return Object.assign({}, config, { iceServers: servers });
  };
  class ProbedPeerConnection extends Native {
    constructor(config, ...rest) {
      super(rewrite(config), ...rest);
      connections.push(this);
      this.addEventListener('icecandidateerror', (e) => {
        errors.push({ url: String(e.url ?? ''), code: Number(e.errorCode ?? 0),
                      text: String(e.errorText ?? '') });
      });
    }
    setConfiguration(config) {
      return super.setConfiguration(rewrite(config));
    }
  }
  ProbedPeerConnection.__visavisE2eProbe = true;
  window.RTCPeerConnection = ProbedPeerConnection;
  window.__visavisE2ePeerConnections = connections;
  window.__visavisE2eIceErrors = errors;
})();"#;

/// Reads the selected candidate pair of the newest open peer connection the probe saw, from
/// `getStats()`: the transport's `selectedCandidatePairId`, else a nominated succeeded pair.
const SELECTED_PAIR_SCRIPT: &str = r#"const done = arguments[arguments.length - 1];
const all = window.__visavisE2ePeerConnections;
if (!Array.isArray(all)) { done({ error: 'the peer-connection probe is not installed' }); return; }
const open = all.filter((pc) => pc.connectionState !== 'closed');
const pc = open[open.length - 1];
if (!pc) { done({ error: 'no open peer connection (' + all.length + ' seen)' }); return; }
const config = pc.getConfiguration();
const urls = [];
for (const server of config.iceServers || []) urls.push(...[].concat(server.urls || []));
pc.getStats().then((report) => {
  const byId = new Map();
  report.forEach((s) => byId.set(s.id, s));
  let pair = null;
  report.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pair = byId.get(s.selectedCandidatePairId) || pair;
  });
  if (!pair) report.forEach((s) => {
    if (!pair && s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s;
  });
  const describe = (c) => c ? { type: c.candidateType ?? null, address: c.address ?? c.ip ?? null,
      port: c.port ?? null, protocol: c.protocol ?? null, relayProtocol: c.relayProtocol ?? null,
      url: c.url ?? null } : null;
  done({
    connectionState: pc.connectionState,
    policy: config.iceTransportPolicy ?? null,
    iceServerUrls: urls,
    pair: pair ? { state: pair.state, bytesSent: pair.bytesSent ?? 0,
                   bytesReceived: pair.bytesReceived ?? 0,
                   local: describe(byId.get(pair.localCandidateId)),
                   remote: describe(byId.get(pair.remoteCandidateId)) } : null,
  });
}, (error) => done({ error: 'getStats failed: ' + error }));"#;

// ---------------------------------------------------------------------------------------------
// A test's world: the app, the WebDriver server, the people
// ---------------------------------------------------------------------------------------------

struct SessionRecord {
    name: String,
    browser: BrowserKind,
    client: Client,
    /// The browser's main process, as its WebDriver server reported it, if it did.
    browser_pid: Option<u32>,
    _profile: tempfile::TempDir,
}

struct ContextInner {
    test_name: String,
    browser: BrowserKind,
    app: TestApp,
    driver: DriverProcess,
    /// Drivers for browsers other than `browser`, started when a person first needs one (see
    /// [`TestContext::person_in`]).
    other_drivers: Mutex<Vec<DriverProcess>>,
    sessions: Mutex<Vec<SessionRecord>>,
    log_sources: Vec<(String, SharedLog)>,
    _slot: SemaphorePermit<'static>,
}

impl Drop for ContextInner {
    /// Browsers whose sessions were not closed (the test's process is failing) would outlive
    /// their WebDriver server: end them by their process id.
    fn drop(&mut self) {
        for session in self.sessions.get_mut().drain(..) {
            if let Some(pid) = session.browser_pid {
                let _ = Command::new("kill")
                    .arg(pid.to_string())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

/// Waits until no other browser test of this process runs.
async fn browser_test_slot() -> anyhow::Result<SemaphorePermit<'static>> {
    BROWSER_TEST_SLOTS
        .acquire()
        .await
        .context("the browser-test semaphore was closed")
}

/// Everything one browser test runs against. Cheap to clone.
#[derive(Clone)]
pub struct TestContext {
    inner: Arc<ContextInner>,
}

impl TestContext {
    /// Waits for this process's browser-test slot, then starts the app and the WebDriver server.
    pub async fn start(test_name: &str) -> anyhow::Result<TestContext> {
        TestContext::start_with(test_name, AppOptions::default()).await
    }

    /// Like [`TestContext::start`], with the app started with `options`.
    pub async fn start_with(test_name: &str, options: AppOptions) -> anyhow::Result<TestContext> {
        BrowserKind::from_env().require_installed();
        dist_dir();
        let slot = browser_test_slot().await?;
        TestContext::start_in_slot(test_name, options, slot).await
    }

    async fn start_in_slot(
        test_name: &str,
        options: AppOptions,
        slot: SemaphorePermit<'static>,
    ) -> anyhow::Result<TestContext> {
        let browser = BrowserKind::from_env();
        browser.require_installed();
        dist_dir();
        let app = TestApp::start_with(&options).await?;
        let driver = DriverProcess::start(browser).await?;
        Ok(TestContext {
            inner: Arc::new(ContextInner {
                test_name: test_name.to_owned(),
                browser,
                app,
                driver,
                other_drivers: Mutex::new(Vec::new()),
                sessions: Mutex::new(Vec::new()),
                log_sources: options.log_sources,
                _slot: slot,
            }),
        })
    }

    /// The app under test.
    pub fn app(&self) -> &TestApp {
        &self.inner.app
    }

    /// The name of the running test (used to name screenshots).
    pub fn test_name(&self) -> &str {
        &self.inner.test_name
    }

    /// Starts a new browser session with its own fresh profile, as a separate person.
    pub async fn person(&self, name: &str) -> Person {
        self.person_with_browser(name, &BrowserOptions::default())
            .await
    }

    /// Like [`TestContext::person`], with extra arguments or preferences for this person's
    /// browser (e.g. to restrict its networking).
    pub async fn person_with_browser(&self, name: &str, options: &BrowserOptions) -> Person {
        self.person_in_with_browser(self.inner.browser, name, options)
            .await
    }

    /// Like [`TestContext::person`], in a browser of `kind`, whatever the test's default
    /// browser is. The first person of a kind other than the default starts that kind's
    /// WebDriver server; it stops with the context.
    pub async fn person_in(&self, kind: BrowserKind, name: &str) -> Person {
        self.person_in_with_browser(kind, name, &BrowserOptions::default())
            .await
    }

    /// Like [`TestContext::person_in`], with extra arguments or preferences for the browser.
    pub async fn person_in_with_browser(
        &self,
        kind: BrowserKind,
        name: &str,
        options: &BrowserOptions,
    ) -> Person {
        match self.try_person(kind, name, options).await {
            Ok(person) => person,
            Err(error) => panic!(
                "could not start a {} browser for {name}: {error:#}",
                kind.name()
            ),
        }
    }

    /// The URL of the WebDriver server for `kind`, starting it if this is its first person.
    async fn driver_url(&self, kind: BrowserKind) -> anyhow::Result<String> {
        if kind == self.inner.driver.kind() {
            return Ok(self.inner.driver.url());
        }
        let mut others = self.inner.other_drivers.lock().await;
        if let Some(driver) = others.iter().find(|driver| driver.kind() == kind) {
            return Ok(driver.url());
        }
        let driver = DriverProcess::start(kind).await?;
        let url = driver.url();
        others.push(driver);
        Ok(url)
    }

    async fn try_person(
        &self,
        browser: BrowserKind,
        name: &str,
        options: &BrowserOptions,
    ) -> anyhow::Result<Person> {
        let driver_url = self.driver_url(browser).await?;
        let profile = tempfile::Builder::new()
            .prefix(&format!("visavis-e2e-{}-", browser.name()))
            .tempdir()
            .context("creating a browser profile directory")?;
        // The driver listens on plain HTTP on loopback, so the client needs no TLS stack at all
        // (which also keeps a second crypto library out of the build).
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(browser.capabilities_with(profile.path(), options))
            .connect(&driver_url)
            .await
            .with_context(|| format!("opening a {} session", browser.name()))?;
        client
            .update_timeouts(TimeoutConfiguration::new(
                Some(Duration::from_secs(60)),
                Some(PAGE_LOAD_TIMEOUT),
                Some(Duration::ZERO),
            ))
            .await
            .context("setting the session timeouts")?;
        let browser_pid = client
            .capabilities()
            .and_then(|caps| {
                caps.get("goog:processID")
                    .or_else(|| caps.get("moz:processID"))
            })
            .and_then(Value::as_u64)
            .and_then(|pid| u32::try_from(pid).ok());
        self.inner.sessions.lock().await.push(SessionRecord {
            name: name.to_owned(),
            browser,
            client: client.clone(),
            browser_pid,
            _profile: profile,
        });
        Ok(Person {
            name: name.to_owned(),
            client,
            base_url: self.inner.app.base_url(),
            browser,
        })
    }

    /// Best effort: saves a screenshot and the console log of every browser of this test to
    /// [`screenshot_dir`] as `<test>-<n>.png` and `<test>-<n>.log` (n counts from 1 in the order
    /// the people were started).
    pub async fn save_diagnostics(&self) {
        let dir = screenshot_dir();
        if let Err(error) = std::fs::create_dir_all(&dir) {
            eprintln!("could not create {}: {error}", dir.display());
            return;
        }
        let test = sanitize_file_name(&self.inner.test_name);
        for (name, log) in &self.inner.log_sources {
            let path = dir.join(format!("{test}-{}.log", sanitize_file_name(name)));
            let text = log.lock().map(|lines| lines.join("\n")).unwrap_or_default();
            match std::fs::write(&path, text) {
                Ok(()) => eprintln!("log of {name}: {}", path.display()),
                Err(error) => eprintln!("could not write {}: {error}", path.display()),
            }
        }
        for driver in self.inner.other_drivers.lock().await.iter() {
            if let Some(text) = driver.log_text() {
                let path = dir.join(format!("{test}-{}driver.log", driver.kind().name()));
                let lines: Vec<&str> = text.lines().collect();
                let tail = lines[lines.len().saturating_sub(60)..].join("\n");
                eprintln!(
                    "---- {} driver and console log, last lines ----\n{tail}",
                    driver.kind().name()
                );
                match std::fs::write(&path, &text) {
                    Ok(()) => eprintln!(
                        "{} driver and console log: {}",
                        driver.kind().name(),
                        path.display()
                    ),
                    Err(error) => eprintln!("could not write {}: {error}", path.display()),
                }
            }
        }
        if let Some(text) = self.inner.driver.log_text() {
            let path = dir.join(format!(
                "{test}-{}driver.log",
                self.inner.driver.kind().name()
            ));
            if let Err(error) = std::fs::write(&path, text) {
                eprintln!("could not write {}: {error}", path.display());
            }
        }
        let sessions = self.inner.sessions.lock().await;
        for (index, session) in sessions.iter().enumerate() {
            let n = index + 1;
            let person = Person {
                name: session.name.clone(),
                client: session.client.clone(),
                base_url: self.inner.app.base_url(),
                browser: session.browser,
            };
            let png = dir.join(format!("{test}-{n}.png"));
            let shot = tokio::time::timeout(Duration::from_secs(15), person.client.screenshot());
            match shot.await {
                Ok(Ok(bytes)) => match std::fs::write(&png, bytes) {
                    Ok(()) => eprintln!("screenshot of {}: {}", session.name, png.display()),
                    Err(error) => eprintln!("could not write {}: {error}", png.display()),
                },
                Ok(Err(error)) => eprintln!("no screenshot of {}: {error}", session.name),
                Err(_) => eprintln!("no screenshot of {}: timed out", session.name),
            }
            let mut report = String::new();
            let state = tokio::time::timeout(Duration::from_secs(5), person.describe()).await;
            report.push_str(&format!(
                "person: {}\npage: {}\n\nbrowser console:\n",
                session.name,
                state.unwrap_or_else(|_| "(timed out)".to_owned())
            ));
            match tokio::time::timeout(Duration::from_secs(10), person.console_log()).await {
                Ok(lines) => {
                    for line in lines {
                        report.push_str(&line);
                        report.push('\n');
                    }
                }
                Err(_) => report.push_str("(timed out reading the console log)\n"),
            }
            let log = dir.join(format!("{test}-{n}.log"));
            eprintln!("---- {} ({}) ----\n{report}", session.name, log.display());
            if let Err(error) = std::fs::write(&log, report) {
                eprintln!("could not write {}: {error}", log.display());
            }
        }
    }

    /// Ends every browser session (so the browsers exit). The WebDriver server and the app stop
    /// when the last clone of the context is dropped.
    pub async fn close_browsers(&self) {
        let sessions: Vec<SessionRecord> = self.inner.sessions.lock().await.drain(..).collect();
        for session in sessions {
            let closing = tokio::time::timeout(Duration::from_secs(20), session.client.close());
            match closing.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => eprintln!("closing {}'s browser failed: {error}", session.name),
                Err(_) => eprintln!("closing {}'s browser timed out", session.name),
            }
        }
    }
}

fn sanitize_file_name(name: &str) -> String {
    let cleaned: String = name
        .rsplit("::")
        .next()
        .unwrap_or(name)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "test".to_owned()
    } else {
        cleaned
    }
}

/// The running test's name: libtest names the test's thread after it.
fn current_test_name() -> String {
    std::thread::current()
        .name()
        .filter(|name| *name != "main")
        .unwrap_or("browser-test")
        .to_owned()
}

/// Runs one browser test: starts the app and a WebDriver server (one test at a time per
/// process), runs `body`, and if it panics or overruns [`TEST_TIMEOUT`], saves screenshots and
/// console logs of every browser before failing. Browsers are always closed.
///
/// Call it from the test function itself (not from a spawned task), so the test's name is
/// known.
pub async fn run_browser_test<F, Fut>(body: F)
where
    F: FnOnce(TestContext) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    run_browser_test_with(
        || async { Ok((AppOptions::default(), ())) },
        |ctx, ()| body(ctx),
    )
    .await;
}

/// Like [`run_browser_test`], for tests that need more than the plain app: once this test's
/// turn has come, `setup` starts whatever it needs (e.g. a TURN server) and returns the app's
/// options and what the body needs (`T`, dropped when the body ends, e.g. to kill a process).
pub async fn run_browser_test_with<S, SFut, T, F, Fut>(setup: S, body: F)
where
    S: FnOnce() -> SFut,
    SFut: Future<Output = anyhow::Result<(AppOptions, T)>>,
    T: Send + 'static,
    F: FnOnce(TestContext, T) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let test_name = current_test_name();
    BrowserKind::from_env().require_installed();
    dist_dir();
    let slot = match browser_test_slot().await {
        Ok(slot) => slot,
        Err(error) => panic!("could not set up the browser test {test_name}: {error:#}"),
    };
    let (options, extra) = match setup().await {
        Ok(prepared) => prepared,
        Err(error) => panic!("could not prepare the browser test {test_name}: {error:#}"),
    };
    let ctx = match TestContext::start_in_slot(&test_name, options, slot).await {
        Ok(ctx) => ctx,
        Err(error) => panic!("could not set up the browser test {test_name}: {error:#}"),
    };
    let outcome = tokio::spawn(tokio::time::timeout(TEST_TIMEOUT, body(ctx.clone(), extra))).await;
    let failure: Option<Box<dyn Any + Send>> = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(_elapsed)) => Some(Box::new(format!(
            "{test_name} did not finish within {TEST_TIMEOUT:?}"
        ))),
        Err(join_error) if join_error.is_panic() => Some(join_error.into_panic()),
        Err(join_error) => Some(Box::new(format!("{test_name} was cancelled: {join_error}"))),
    };
    if failure.is_some() {
        ctx.save_diagnostics().await;
    }
    ctx.close_browsers().await;
    ctx.app().stop().await;
    drop(ctx);
    if let Some(payload) = failure {
        if let Some(message) = payload.downcast_ref::<String>() {
            eprintln!("browser test failed: {message}");
        }
        std::panic::resume_unwind(payload);
    }
}

// ---------------------------------------------------------------------------------------------
// A person: one browser session and the page helpers
// ---------------------------------------------------------------------------------------------

/// What a `<video>` element shows at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct VideoSample {
    /// `videoWidth`: 0 until a frame of the stream is known.
    pub width: u64,
    /// `videoHeight`.
    pub height: u64,
    /// `getVideoPlaybackQuality().totalVideoFrames` (stays 0 in headless Firefox).
    pub frames: u64,
    /// `currentTime`, in seconds: advances while the video plays.
    pub current_time: f64,
}

/// What the hang-up script saw on the page that hung up.
#[derive(Debug, Clone)]
pub struct HangUpReport {
    /// The call state when the script returned (`ended` unless it gave up).
    pub state: String,
    /// `kind:readyState` of every track of the local stream taken before the click.
    pub tracks: Vec<String>,
    /// Whether there was at least one track and all of them had ended.
    pub all_tracks_ended: bool,
}

/// One ICE candidate of a candidate pair, as `getStats()` describes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CandidateInfo {
    /// `host`, `srflx`, `prflx` or `relay`.
    pub candidate_type: String,
    /// The candidate's IP address (for a local relay candidate: the relay's address).
    pub address: String,
    /// The candidate's port (for a local relay candidate: the relayed port).
    pub port: u16,
    /// `udp` or `tcp`.
    pub protocol: String,
    /// For a local relay candidate: how the browser reaches the relay (`udp`, `tcp`, `tls`).
    pub relay_protocol: Option<String>,
    /// For a local relay or srflx candidate: the ICE server URL it came from.
    pub url: Option<String>,
}

impl CandidateInfo {
    fn from_stats(value: &Value) -> CandidateInfo {
        let text = |key: &str| value[key].as_str().map(str::to_owned);
        CandidateInfo {
            candidate_type: text("type").unwrap_or_default(),
            address: text("address").unwrap_or_default(),
            port: value["port"]
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(0),
            protocol: text("protocol").unwrap_or_default(),
            relay_protocol: text("relayProtocol"),
            url: text("url"),
        }
    }
}

/// The candidate pair a peer connection sends media over, read by the test itself from
/// `getStats()` (see [`Person::selected_pair`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SelectedPair {
    /// The connection's `iceTransportPolicy` (`all` or `relay`).
    pub policy: String,
    /// The ICE server URLs in the connection's configuration.
    pub ice_server_urls: Vec<String>,
    /// The connection's `connectionState`.
    pub connection_state: String,
    /// This browser's candidate.
    pub local: CandidateInfo,
    /// The other browser's candidate.
    pub remote: CandidateInfo,
    /// Bytes sent over the pair so far.
    pub bytes_sent: u64,
    /// Bytes received over the pair so far.
    pub bytes_received: u64,
}

impl SelectedPair {
    /// Whether either side of the pair is a relay candidate.
    pub fn is_relayed(&self) -> bool {
        self.local.candidate_type == "relay" || self.remote.candidate_type == "relay"
    }
}

/// The rows of the `/check` page, in page order.
pub const CHECK_ROWS: [&str; 5] = [
    "checkHost",
    "checkSrflx",
    "checkRelay",
    "checkCamera",
    "checkMicrophone",
];

/// One row of the `/check` page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRow {
    /// The row's element id, e.g. `checkRelay`.
    pub id: String,
    /// Its `data-result`: `pending`, `ok`, `fail` or `skipped` (`<missing>` without the row).
    pub result: String,
    /// What the row says.
    pub text: String,
}

/// The rows of the `/check` page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRows(pub Vec<CheckRow>);

impl CheckRows {
    /// The `data-result` of the row `id`, or `<missing>`.
    pub fn result(&self, id: &str) -> &str {
        self.0
            .iter()
            .find(|row| row.id == id)
            .map_or("<missing>", |row| row.result.as_str())
    }
}

/// One simulated person: a browser session with its own profile.
#[derive(Clone)]
pub struct Person {
    name: String,
    client: Client,
    base_url: String,
    browser: BrowserKind,
}

impl Person {
    /// The person's name in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The underlying WebDriver client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Navigates to `page_path` (e.g. `/r/room`) of the app and waits until the app has
    /// rendered its call controls and published a call state.
    pub async fn open(&self, page_path: &str) {
        let url = format!("{}{}", self.base_url, page_path);
        if let Err(error) = self.client.goto(&url).await {
            panic!("{} could not open {url}: {error}", self.name);
        }
        self.wait_until(
            "document.getElementById('callButton') !== null \
             && document.getElementById('roomName') !== null \
             && typeof document.body.dataset.callState === 'string'",
            PAGE_LOAD_TIMEOUT,
            &format!("the app to render on {url}"),
        )
        .await;
    }

    /// Waits until the element with this id exists and is enabled, as a person waits for a
    /// greyed-out control before using it.
    pub async fn wait_for_enabled(&self, id: &str) {
        let literal = json!(id).to_string();
        self.wait_until(
            &format!(
                "document.getElementById({literal}) !== null \
                 && !document.getElementById({literal}).disabled"
            ),
            STEP_TIMEOUT,
            &format!("#{id} to be enabled"),
        )
        .await;
    }

    /// Clicks the element with this id, once it is enabled.
    pub async fn click(&self, id: &str) {
        self.wait_for_enabled(id).await;
        let element = self.find(id).await;
        if let Err(error) = element.click().await {
            panic!(
                "{} could not click #{id}: {error} (call state: {})",
                self.name,
                self.call_state().await
            );
        }
    }

    /// Replaces the content of the input with this id by `text`, typed key by key, once the
    /// input is enabled.
    pub async fn type_into(&self, id: &str, text: &str) {
        self.wait_for_enabled(id).await;
        let element = self.find(id).await;
        if let Err(error) = element.clear().await {
            panic!("{} could not clear #{id}: {error}", self.name);
        }
        if let Err(error) = element.send_keys(text).await {
            panic!("{} could not type into #{id}: {error}", self.name);
        }
    }

    /// Presses Enter in the element with this id, once it is enabled.
    pub async fn press_enter(&self, id: &str) {
        self.wait_for_enabled(id).await;
        let element = self.find(id).await;
        let enter = fantoccini::key::Key::Enter.to_string();
        if let Err(error) = element.send_keys(&enter).await {
            panic!("{} could not press Enter in #{id}: {error}", self.name);
        }
    }

    async fn find(&self, id: &str) -> fantoccini::elements::Element {
        match self.client.find(Locator::Id(id)).await {
            Ok(element) => element,
            Err(error) => panic!(
                "{} has no element #{id}: {error} (call state: {})",
                self.name,
                self.call_state().await
            ),
        }
    }

    /// Runs a script (a function body, `return` gives the result) in the page.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        match self.client.execute(script, args).await {
            Ok(value) => value,
            Err(error) => panic!("{}: script failed: {error}\nscript: {script}", self.name),
        }
    }

    /// `document.body.dataset.callState`, or `<unset>` / `<unreadable: ...>`.
    pub async fn call_state(&self) -> String {
        let read = self
            .client
            .execute(
                "return document.body ? document.body.dataset.callState ?? null : null;",
                vec![],
            )
            .await;
        match read {
            Ok(Value::String(state)) => state,
            Ok(Value::Null) => "<unset>".to_owned(),
            Ok(other) => format!("<unexpected: {other}>"),
            Err(error) => format!("<unreadable: {error}>"),
        }
    }

    /// The `textContent` of the element with this id (empty if there is none).
    pub async fn text_of(&self, id: &str) -> String {
        let value = self
            .execute(
                "const e = document.getElementById(arguments[0]); return e ? e.textContent : '';",
                vec![json!(id)],
            )
            .await;
        value.as_str().unwrap_or_default().to_owned()
    }

    /// Polls `js_expression` (a JavaScript expression) about every 100 ms until it is truthy;
    /// panics after `timeout` with `description` and the last call state.
    pub async fn wait_until(&self, js_expression: &str, timeout: Duration, description: &str) {
        let script = format!("return !!({js_expression});");
        let deadline = Instant::now() + timeout;
        loop {
            let last_error = match self.client.execute(&script, vec![]).await {
                Ok(Value::Bool(true)) => return,
                Ok(_) => None,
                Err(error) => Some(error.to_string()),
            };
            if Instant::now() >= deadline {
                let state = self.call_state().await;
                let status = self.status_text().await;
                panic!(
                    "{}: timed out after {timeout:?} waiting for {description}\n\
                     last call state: {state}\nstatus line: {status:?}\n\
                     condition: {js_expression}{}",
                    self.name,
                    last_error
                        .map(|e| format!("\nlast script error: {e}"))
                        .unwrap_or_default()
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Waits until the call state is `expected`.
    pub async fn wait_for_call_state(&self, expected: &str, timeout: Duration) {
        let literal = json!(expected).to_string();
        self.wait_until(
            &format!("document.body.dataset.callState === {literal}"),
            timeout,
            &format!("call state {expected:?}"),
        )
        .await;
    }

    /// The text of the status line (`#status`), or `<none>`.
    pub async fn status_text(&self) -> String {
        let read = self
            .client
            .execute(
                "const e = document.getElementById('status'); return e ? e.textContent : null;",
                vec![],
            )
            .await;
        match read {
            Ok(Value::String(text)) => text,
            Ok(_) => "<none>".to_owned(),
            Err(error) => format!("<unreadable: {error}>"),
        }
    }

    /// What the `<video>` element with this id shows now (`None` if there is no such element
    /// or the page could not be read).
    pub async fn video_sample(&self, id: &str) -> Option<VideoSample> {
        let value = self
            .client
            .execute(
                "const v = document.getElementById(arguments[0]);\n\
                 if (!v || typeof v.videoWidth !== 'number') return null;\n\
                 const q = typeof v.getVideoPlaybackQuality === 'function'\n\
                     ? v.getVideoPlaybackQuality() : null;\n\
                 return { width: v.videoWidth, height: v.videoHeight,\n\
                          frames: q ? q.totalVideoFrames : 0,\n\
                          currentTime: Number(v.currentTime) || 0 };",
                vec![json!(id)],
            )
            .await
            .ok()?;
        Some(VideoSample {
            width: value.get("width")?.as_u64()?,
            height: value.get("height")?.as_u64()?,
            frames: value.get("frames")?.as_u64()?,
            current_time: value
                .get("currentTime")
                .and_then(Value::as_f64)
                .unwrap_or(0.0),
        })
    }

    /// Waits until the video element `id` plays: its `videoWidth` is above 0 and its decoded
    /// frame count grew between two polls (in headless Firefox, which counts no frames: its
    /// `currentTime` advanced between two polls).
    pub async fn wait_for_video_playing(&self, id: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut previous: Option<VideoSample> = None;
        let mut last: Option<VideoSample> = None;
        loop {
            let sample = self.video_sample(id).await;
            if let Some(now) = sample {
                if is_playing_in(self.browser, previous, now) {
                    return;
                }
                previous = Some(now);
            }
            last = sample.or(last);
            if Instant::now() >= deadline {
                let progress = if self.browser.counts_video_frames() {
                    "growing totalVideoFrames"
                } else {
                    "advancing currentTime"
                };
                panic!(
                    "{} ({}): #{id} did not play within {timeout:?} (videoWidth > 0 and \
                     {progress}); last sample: {last:?}; call state: {}; status: {:?}",
                    self.name,
                    self.browser.name(),
                    self.call_state().await,
                    self.status_text().await
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Waits until the remote video plays (see [`Person::wait_for_video_playing`]).
    pub async fn remote_video_playing(&self) {
        self.wait_for_video_playing("remoteVideo", VIDEO_TIMEOUT)
            .await;
    }

    /// Waits until the local video shows the camera (`videoWidth > 0`).
    pub async fn local_video_showing(&self) {
        self.wait_until(
            "document.getElementById('localVideo') !== null \
             && document.getElementById('localVideo').videoWidth > 0",
            STEP_TIMEOUT,
            "the local video to show the camera (localVideo.videoWidth > 0)",
        )
        .await;
    }

    /// Sends a chat message by typing it and clicking the send button.
    pub async fn send_chat(&self, text: &str) {
        self.type_into("dataChannelInput", text).await;
        self.click("sendButton").await;
    }

    /// Sends a chat message by typing it and pressing Enter.
    pub async fn send_chat_with_enter(&self, text: &str) {
        self.type_into("dataChannelInput", text).await;
        self.press_enter("dataChannelInput").await;
    }

    /// Waits until the chat log's text contains `text`.
    pub async fn wait_for_chat_text(&self, text: &str) {
        let literal = json!(text).to_string();
        self.wait_until(
            &format!(
                "document.getElementById('dataChannelOutput') !== null \
                 && document.getElementById('dataChannelOutput').textContent.includes({literal})"
            ),
            STEP_TIMEOUT,
            &format!("the chat log to show {text:?}"),
        )
        .await;
    }

    /// Keeps a reference to the current local camera stream in a property of the test's own
    /// (`window.__visavisE2eStream`), to check later that its tracks were stopped. Returns the
    /// number of tracks.
    pub async fn remember_local_stream(&self) -> u64 {
        self.execute(
            "const s = document.getElementById('localVideo').srcObject;\n\
             window.__visavisE2eStream = s;\n\
             return s && typeof s.getTracks === 'function' ? s.getTracks().length : 0;",
            vec![],
        )
        .await
        .as_u64()
        .unwrap_or(0)
    }

    /// The `kind:readyState` of each track of the stream kept by
    /// [`Person::remember_local_stream`], and whether there was one and all have ended.
    pub async fn remembered_stream_tracks(&self) -> (Vec<String>, bool) {
        let value = self
            .execute(
                "const s = window.__visavisE2eStream;\n\
                 const tracks = s && typeof s.getTracks === 'function' ? s.getTracks() : [];\n\
                 return { tracks: tracks.map(t => t.kind + ':' + t.readyState),\n\
                          allEnded: tracks.length > 0\n\
                              && tracks.every(t => t.readyState === 'ended') };",
                vec![],
            )
            .await;
        (
            string_list(&value["tracks"]),
            value["allEnded"] == json!(true),
        )
    }

    /// In one script: takes the local video's stream, clicks `hangupButton`, polls until the
    /// call state is `ended`, and reports whether every track of that stream has ended.
    pub async fn hang_up_and_check_camera(&self) -> HangUpReport {
        let script = "const done = arguments[arguments.length - 1];\n\
            const limitMs = arguments[0];\n\
            const v = document.getElementById('localVideo');\n\
            const s = v ? v.srcObject : null;\n\
            const describe = () => {\n\
                const tracks = s && typeof s.getTracks === 'function' ? s.getTracks() : [];\n\
                return { state: document.body.dataset.callState ?? null,\n\
                         tracks: tracks.map(t => t.kind + ':' + t.readyState),\n\
                         allEnded: tracks.length > 0\n\
                             && tracks.every(t => t.readyState === 'ended') };\n\
            };\n\
            document.getElementById('hangupButton').click();\n\
            const started = Date.now();\n\
            const poll = () => {\n\
                if (document.body.dataset.callState === 'ended'\n\
                        || Date.now() - started > limitMs) {\n\
                    done(describe());\n\
                } else {\n\
                    setTimeout(poll, 50);\n\
                }\n\
            };\n\
            poll();";
        let limit_ms = STEP_TIMEOUT.as_millis() as u64;
        let value = match self
            .client
            .execute_async(script, vec![json!(limit_ms)])
            .await
        {
            Ok(value) => value,
            Err(error) => panic!("{}: the hang-up script failed: {error}", self.name),
        };
        HangUpReport {
            state: value["state"].as_str().unwrap_or("<unset>").to_owned(),
            tracks: string_list(&value["tracks"]),
            all_tracks_ended: value["allEnded"] == json!(true),
        }
    }

    /// From now on, every page this person opens gets the peer-connection probe before the
    /// app's own scripts run (a DevTools `Page.addScriptToEvaluateOnNewDocument`), so that
    /// [`Person::selected_pair`] can read `getStats()` independently of the app. Call it before
    /// [`Person::open`].
    pub async fn watch_peer_connections(&self) {
        let installed = self
            .devtools(
                "Page.addScriptToEvaluateOnNewDocument",
                json!({ "source": PEER_CONNECTION_PROBE }),
            )
            .await;
        if let Err(error) = installed {
            panic!(
                "{}: could not install the peer-connection probe: {error}",
                self.name
            );
        }
    }

    /// Runs one Chrome DevTools Protocol command in this person's browser (Chromium only).
    pub async fn devtools(
        &self,
        method: &'static str,
        params: Value,
    ) -> Result<Value, fantoccini::error::CmdError> {
        self.client.issue_cmd(CdpCommand { method, params }).await
    }

    /// Makes the probe (see [`Person::watch_peer_connections`]) hand the browser these TURN
    /// credentials instead of the app's, for peer connections created from now on in this
    /// page. For testing what the page does with credentials the server cannot be made to
    /// issue, such as expired ones.
    pub async fn override_turn_credentials(&self, username: &str, credential: &str) {
        let installed = self
            .execute(
                "window.__visavisE2eIceOverride = { username: arguments[0], credential: arguments[1] };\n\
                 return typeof RTCPeerConnection === 'function' && RTCPeerConnection.__visavisE2eProbe === true;",
                vec![json!(username), json!(credential)],
            )
            .await;
        assert_eq!(
            installed,
            json!(true),
            "{}: the peer-connection probe must be installed (watch_peer_connections before \
             open) to override TURN credentials",
            self.name
        );
    }

    /// The selected candidate pair of this page's newest open peer connection, read from
    /// `getStats()` by the test (needs [`Person::watch_peer_connections`]). `Err` says why there
    /// is none yet.
    pub async fn selected_pair(&self) -> Result<SelectedPair, String> {
        let value = match self
            .client
            .execute_async(SELECTED_PAIR_SCRIPT, vec![])
            .await
        {
            Ok(value) => value,
            Err(error) => return Err(format!("the getStats script failed: {error}")),
        };
        if let Some(error) = value["error"].as_str() {
            return Err(error.to_owned());
        }
        let pair = &value["pair"];
        if pair.is_null() {
            return Err(format!(
                "no selected candidate pair yet (connection state {})",
                value["connectionState"]
            ));
        }
        Ok(SelectedPair {
            policy: value["policy"].as_str().unwrap_or_default().to_owned(),
            ice_server_urls: string_list(&value["iceServerUrls"]),
            connection_state: value["connectionState"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            local: CandidateInfo::from_stats(&pair["local"]),
            remote: CandidateInfo::from_stats(&pair["remote"]),
            bytes_sent: pair["bytesSent"].as_u64().unwrap_or(0),
            bytes_received: pair["bytesReceived"].as_u64().unwrap_or(0),
        })
    }

    /// The `icecandidateerror` events of this page's peer connections so far, as
    /// `(url, code, text)` (needs [`Person::watch_peer_connections`]).
    pub async fn ice_errors(&self) -> Vec<(String, u64, String)> {
        let value = self
            .execute(
                "const e = window.__visavisE2eIceErrors;\n\
                 return Array.isArray(e) ? e : null;",
                vec![],
            )
            .await;
        let Some(errors) = value.as_array() else {
            panic!(
                "{}: the peer-connection probe is not installed (watch_peer_connections before \
                 open)",
                self.name
            );
        };
        errors
            .iter()
            .map(|e| {
                (
                    e["url"].as_str().unwrap_or_default().to_owned(),
                    e["code"].as_u64().unwrap_or(0),
                    e["text"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// Polls [`Person::selected_pair`] until there is a pair that has received bytes; panics
    /// after `timeout` with the last answer.
    pub async fn wait_for_selected_pair(&self, timeout: Duration) -> SelectedPair {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.selected_pair().await {
                Ok(pair) if pair.bytes_received > 0 => return pair,
                Ok(pair) => format!("{pair:?}"),
                Err(error) => error,
            };
            if Instant::now() >= deadline {
                panic!(
                    "{}: no selected candidate pair with received bytes within {timeout:?}; \
                     last: {last}; call state: {}; status: {:?}",
                    self.name,
                    self.call_state().await,
                    self.status_text().await
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// The page's own verdict on the media path: `#mediaPath`'s `data-path` (`direct` or
    /// `relay`), or `None` while there is none.
    pub async fn media_path(&self) -> Option<String> {
        self.execute(
            "const e = document.getElementById('mediaPath');\n\
             return e && e.dataset.path ? e.dataset.path : null;",
            vec![],
        )
        .await
        .as_str()
        .map(str::to_owned)
    }

    /// Polls `#mediaPath` for up to [`STEP_TIMEOUT`] until the page reports a path; `None` if
    /// it never does (e.g. a client without the element).
    pub async fn wait_for_media_path_report(&self) -> Option<String> {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let path = self.media_path().await;
            if path.is_some() || Instant::now() >= deadline {
                return path;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Waits until `#mediaPath` says `expected` (`direct` or `relay`).
    pub async fn wait_for_media_path(&self, expected: &str) {
        let literal = json!(expected).to_string();
        self.wait_until(
            &format!(
                "document.getElementById('mediaPath') !== null \
                 && document.getElementById('mediaPath').dataset.path === {literal}"
            ),
            STEP_TIMEOUT,
            &format!("#mediaPath[data-path={expected}]"),
        )
        .await;
    }

    /// Navigates to `page_path` and waits until `ready_js` (a JavaScript expression) holds.
    pub async fn open_page(&self, page_path: &str, ready_js: &str, description: &str) {
        let url = format!("{}{}", self.base_url, page_path);
        if let Err(error) = self.client.goto(&url).await {
            panic!("{} could not open {url}: {error}", self.name);
        }
        self.wait_until(
            ready_js,
            PAGE_LOAD_TIMEOUT,
            &format!("{description} on {url}"),
        )
        .await;
    }

    /// Opens `/check` and waits until it has rendered its rows and published its state.
    pub async fn open_check(&self) {
        self.open_page(
            "/check",
            "document.getElementById('checkRelay') !== null \
             && typeof document.body.dataset.checkState === 'string'",
            "the connectivity check to render",
        )
        .await;
    }

    /// Waits until the `/check` page says `data-check-state="done"`, then returns its rows.
    pub async fn wait_for_check_done(&self, timeout: Duration) -> CheckRows {
        self.wait_until(
            "document.body.dataset.checkState === 'done'",
            timeout,
            "the connectivity check to finish (data-check-state=done)",
        )
        .await;
        self.check_rows().await
    }

    /// Each `/check` row's `data-result` and text, in [`CHECK_ROWS`] order.
    pub async fn check_rows(&self) -> CheckRows {
        let value = self
            .execute(
                "return arguments[0].map((id) => {\n\
                     const e = document.getElementById(id);\n\
                     return [id, e ? (e.dataset.result ?? '<unset>') : '<missing>',\n\
                             e ? e.textContent.trim() : ''];\n\
                 });",
                vec![json!(CHECK_ROWS)],
            )
            .await;
        let text = |row: &Value, i: usize| row[i].as_str().unwrap_or_default().to_owned();
        CheckRows(
            value
                .as_array()
                .map(|rows| {
                    rows.iter()
                        .map(|row| CheckRow {
                            id: text(row, 0),
                            result: text(row, 1),
                            text: text(row, 2),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        )
    }

    /// A one-line description of the page: URL, call state, status line.
    pub async fn describe(&self) -> String {
        let url = match self.client.current_url().await {
            Ok(url) => url.to_string(),
            Err(error) => format!("<unknown url: {error}>"),
        };
        format!(
            "{url} call state: {} status: {:?}",
            self.call_state().await,
            self.status_text().await
        )
    }

    /// The browser console messages since the last call (best effort; empty if the browser
    /// cannot give them).
    pub async fn console_log(&self) -> Vec<String> {
        match self.browser {
            BrowserKind::Chromium => match self.client.issue_cmd(GetBrowserLog).await {
                Ok(Value::Array(entries)) => entries
                    .iter()
                    .map(|entry| {
                        format!(
                            "[{}] {}",
                            entry["level"].as_str().unwrap_or("?"),
                            entry["message"].as_str().unwrap_or_default()
                        )
                    })
                    .collect(),
                Ok(other) => vec![format!("(unexpected log answer: {other})")],
                Err(error) => vec![format!("(could not read the console log: {error})")],
            },
            BrowserKind::Firefox => vec![
                "(geckodriver has no console-log endpoint: Firefox's console messages are in \
                 the firefoxdriver.log saved next to this file)"
                    .to_owned(),
            ],
        }
    }

    /// Saves a screenshot of the page to `path` (best effort).
    pub async fn save_screenshot(&self, path: &Path) -> anyhow::Result<()> {
        let bytes = self.client.screenshot().await?;
        std::fs::write(path, bytes)?;
        Ok(())
    }
}

fn string_list(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| item.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether two consecutive samples show a playing video: a known size and more decoded frames
/// than the poll before.
pub fn is_playing(previous: Option<VideoSample>, now: VideoSample) -> bool {
    match previous {
        Some(before) => now.width > 0 && before.width > 0 && now.frames > before.frames,
        None => false,
    }
}

/// Like [`is_playing`], for a browser of `kind`: where the browser counts no decoded frames
/// (headless Firefox), a known size and a `currentTime` later than the poll before.
pub fn is_playing_in(kind: BrowserKind, previous: Option<VideoSample>, now: VideoSample) -> bool {
    if kind.counts_video_frames() {
        return is_playing(previous, now);
    }
    match previous {
        Some(before) => now.width > 0 && before.width > 0 && now.current_time > before.current_time,
        None => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Flows shared by the tests and the measurement
// ---------------------------------------------------------------------------------------------

/// The path of a room's link.
pub fn room_path(room: &str) -> String {
    format!("/r/{room}")
}

/// The path of a room's link in relay-only mode (`?ice=relay`).
pub fn relay_room_path(room: &str) -> String {
    format!("/r/{room}?ice=relay")
}

/// With both people already on the room's page: `caller` clicks Call and waits, then `callee`
/// clicks Call; both reach `connected`.
pub async fn call_between(caller: &Person, callee: &Person) {
    caller.click("callButton").await;
    caller.wait_for_call_state("waiting", STEP_TIMEOUT).await;
    callee.click("callButton").await;
    tokio::join!(
        caller.wait_for_call_state("connected", CONNECT_TIMEOUT),
        callee.wait_for_call_state("connected", CONNECT_TIMEOUT),
    );
}

/// Both people open the room's link and call each other; returns once both are `connected`
/// and both remote videos play.
pub async fn connect_pair(caller: &Person, callee: &Person, room: &str) {
    connect_pair_at(caller, callee, &room_path(room)).await;
}

/// Like [`connect_pair`], on the page at `path` (e.g. [`relay_room_path`]).
pub async fn connect_pair_at(caller: &Person, callee: &Person, path: &str) {
    tokio::join!(caller.open(path), callee.open(path));
    call_between(caller, callee).await;
    tokio::join!(caller.remote_video_playing(), callee.remote_video_playing());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(width: u64, frames: u64) -> VideoSample {
        VideoSample {
            width,
            height: width / 2,
            frames,
            current_time: 0.0,
        }
    }

    #[test]
    fn firefox_playing_needs_a_size_and_advancing_time() {
        let at = |width: u64, current_time: f64| VideoSample {
            width,
            height: width / 2,
            frames: 0,
            current_time,
        };
        let firefox = BrowserKind::Firefox;
        assert!(!is_playing_in(firefox, None, at(640, 1.0)));
        assert!(!is_playing_in(firefox, Some(at(640, 1.0)), at(640, 1.0)));
        assert!(!is_playing_in(firefox, Some(at(0, 1.0)), at(640, 2.0)));
        assert!(is_playing_in(firefox, Some(at(640, 1.0)), at(640, 1.1)));
        // Chromium still needs decoded frames.
        assert!(!is_playing_in(
            BrowserKind::Chromium,
            Some(at(640, 1.0)),
            at(640, 1.1)
        ));
    }

    #[test]
    fn playing_needs_a_size_and_growing_frames() {
        assert!(!is_playing(None, sample(640, 10)));
        assert!(!is_playing(Some(sample(640, 10)), sample(640, 10)));
        assert!(!is_playing(Some(sample(0, 0)), sample(640, 3)));
        assert!(!is_playing(Some(sample(0, 1)), sample(0, 2)));
        assert!(is_playing(Some(sample(640, 10)), sample(640, 11)));
    }

    #[test]
    fn unique_rooms_differ_and_are_valid_names() {
        let a = unique_room("t");
        let b = unique_room("t");
        assert_ne!(a, b);
        assert_eq!(
            visavis_shared::RoomName::from_user_input(&a).map(|r| r.as_str().to_owned()),
            Some(a)
        );
    }

    #[test]
    fn http_responses_are_complete_once_their_body_is_in() {
        assert!(!http_response_complete(
            b"HTTP/1.1 200 OK\r\nContent-Length:4"
        ));
        assert!(!http_response_complete(
            b"HTTP/1.1 200 OK\r\nContent-Length:4\r\n\r\nab"
        ));
        assert!(http_response_complete(
            b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nabcd"
        ));
    }

    #[test]
    fn file_names_are_sanitized() {
        assert_eq!(sanitize_file_name("a::b::hang up works"), "hang_up_works");
        assert_eq!(sanitize_file_name(""), "test");
    }
}
