//! Launching browsers and their WebDriver servers: which browser, its binaries, the capabilities
//! of a fresh camera-faking headless session, and the driver process with its readiness check.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::wait::POLL_INTERVAL;

/// Asks the OS for a free TCP port on the loopback interface.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("binding a probe port")?;
    Ok(listener.local_addr()?.port())
}

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

/// `GET /status` of a WebDriver server on loopback, over a bare HTTP/1.1 exchange.
async fn driver_status(port: u16) -> anyhow::Result<String> {
    driver_status_at(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await
}

/// `GET /status` of the WebDriver server at `addr`, over a bare HTTP/1.1 exchange.
pub(crate) async fn driver_status_at(addr: SocketAddr) -> anyhow::Result<String> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        // Chromedriver answers HTTP/1.0 requests with nothing, so this is HTTP/1.1.
        let request = format!("GET /status HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
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

/// A POST to one of chromedriver's own (non-W3C) session endpoints, which fantoccini has no
/// method for: the browser console log, and Chrome DevTools Protocol commands.
#[derive(Debug)]
pub(crate) struct ChromedriverCommand {
    /// The path below `session/<id>/`.
    path: &'static str,
    body: Value,
}

impl ChromedriverCommand {
    /// Chromedriver's log endpoint, for the browser console.
    pub(crate) fn browser_log() -> ChromedriverCommand {
        ChromedriverCommand {
            path: "se/log",
            body: json!({ "type": "browser" }),
        }
    }

    /// One Chrome DevTools Protocol command.
    pub(crate) fn devtools(method: &str, params: Value) -> ChromedriverCommand {
        ChromedriverCommand {
            path: "goog/cdp/execute",
            body: json!({ "cmd": method, "params": params }),
        }
    }
}

impl WebDriverCompatibleCommand for ChromedriverCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
