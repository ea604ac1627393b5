//! The test harness: an in-process server on a free port, and a WebSocket client that speaks the
//! protocol the way a browser does (JSON text frames), with deadlines on every wait.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use tokio::time::{timeout, timeout_at, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use visavis::config::Config;
use visavis::startup::Application;

/// The STUN URL every test server is configured with, unless a test says otherwise.
pub const STUN_URL: &str = "stun:stun.example.org:3478";

/// The page the test servers serve as their static build.
pub const INDEX_HTML: &str = "<html><body>visavis test</body></html>";

/// How long a test waits for a message it expects.
pub const RECV_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a test listens to prove that nothing arrives.
pub const SILENCE: Duration = Duration::from_millis(300);

/// A running server and the directories it uses; they are deleted when this is dropped.
pub struct TestApp {
    pub port: u16,
    /// The port of the separate `/metrics` listener (`--metrics-listen`), if configured.
    pub metrics_port: Option<u16>,
    /// The UDP address of the built-in TURN relay (`--turn-listen`), if it runs.
    pub relay_addr: Option<SocketAddr>,
    /// `http` or `https`.
    scheme: &'static str,
    /// Stops the server, for tests of what survives a restart.
    handle: ServerHandle,
    _static_dir: TempDir,
    /// `None` when the test brought its own data directory (to outlive this server).
    _data_dir: Option<TempDir>,
    _lease: Lease,
}

/// Every server of this test binary runs in the same process. Ordinary tests share it freely;
/// a test that measures latency takes it alone, so that its figures describe the load it
/// creates and not whatever other tests happen to run on the same cores at that moment.
///
/// One consequence: a test must not start a second server while it holds one (a queued
/// exclusive test would wait for the first, and the second would wait behind it).
static SERVERS: RwLock<()> = RwLock::const_new(());

/// How a test holds [`SERVERS`] for as long as its server lives: one of the two guards.
struct Lease {
    _shared: Option<RwLockReadGuard<'static, ()>>,
    _exclusive: Option<RwLockWriteGuard<'static, ()>>,
}

/// Starts a server with the default test configuration.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&["--stun", STUN_URL]).await
}

/// Starts a server with `extra_args` added to the fixed test flags (plain HTTP on a free
/// loopback port, temporary static and data directories, loopback exempt from the per-IP
/// limits).
pub async fn spawn_app_with(extra_args: &[&str]) -> TestApp {
    TestApp::builder().args(extra_args).spawn().await
}

/// A server configuration beyond extra flags: TLS, the per-IP limits for loopback, the page.
pub struct TestAppBuilder {
    args: Vec<String>,
    index_html: String,
    /// Further files of the static build, by name, and whether to precompress the build.
    static_files: Vec<(String, Vec<u8>)>,
    precompress: bool,
    tls: bool,
    exempt_loopback: bool,
    data_dir: Option<PathBuf>,
}

impl TestAppBuilder {
    /// Adds flags after the fixed test flags.
    pub fn args(mut self, args: &[&str]) -> TestAppBuilder {
        self.args.extend(args.iter().map(|arg| arg.to_string()));
        self
    }

    /// Serves `html` as `index.html` instead of [`INDEX_HTML`].
    pub fn index_html(mut self, html: &str) -> TestAppBuilder {
        self.index_html = html.to_owned();
        self
    }

    /// Adds a file named `name` (a path relative to the build, e.g. `icons/a.png`) to the
    /// static build beside `index.html`.
    pub fn static_file(mut self, name: &str, contents: &[u8]) -> TestAppBuilder {
        self.static_files.push((name.to_owned(), contents.to_vec()));
        self
    }

    /// Writes Brotli and gzip copies beside the static files before the server starts, as the
    /// Trunk build's post-build hook does.
    pub fn precompressed(mut self) -> TestAppBuilder {
        self.precompress = true;
        self
    }

    /// Serves HTTPS with the self-signed certificate the server generates in its data
    /// directory, instead of passing `--no-tls`.
    pub fn tls(mut self) -> TestAppBuilder {
        self.tls = true;
        self
    }

    /// Leaves out `--rate-limit-exempt-loopback`, so the per-IP limits apply to the test
    /// clients (which all come from 127.0.0.1).
    pub fn without_loopback_exemption(mut self) -> TestAppBuilder {
        self.exempt_loopback = false;
        self
    }

    /// Keeps generated state (certificate, seat-token secret) in `dir`, which the test owns,
    /// instead of a temporary directory of this server's own; a second server started on the
    /// same directory is this one restarted.
    pub fn data_dir(mut self, dir: &std::path::Path) -> TestAppBuilder {
        self.data_dir = Some(dir.to_owned());
        self
    }

    /// Holds a lost seat for `secs` seconds (`--reconnect-grace-secs`) instead of the default 20.
    pub fn reconnect_grace_secs(self, secs: u64) -> TestAppBuilder {
        self.args(&["--reconnect-grace-secs", &secs.to_string()])
    }

    /// Starts the server.
    pub async fn spawn(self) -> TestApp {
        let lease = Lease {
            _shared: Some(SERVERS.read().await),
            _exclusive: None,
        };
        self.spawn_holding(lease).await
    }

    /// Starts the server once no other test has one, and keeps others from starting theirs
    /// until this one is dropped. For tests that measure time.
    pub async fn spawn_exclusive(self) -> TestApp {
        let lease = Lease {
            _shared: None,
            _exclusive: Some(SERVERS.write().await),
        };
        self.spawn_holding(lease).await
    }

    async fn spawn_holding(self, lease: Lease) -> TestApp {
        let static_dir = tempfile::tempdir().expect("a temporary static directory");
        std::fs::write(static_dir.path().join("index.html"), &self.index_html)
            .expect("index.html is written");
        for (name, contents) in &self.static_files {
            let path = static_dir.path().join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("a static subdirectory is made");
            }
            std::fs::write(path, contents).expect("a static file is written");
        }
        if self.precompress {
            visavis_precompress::precompress_dir(static_dir.path())
                .expect("the build precompresses");
        }
        let (own_data_dir, data_path) = match self.data_dir {
            Some(path) => (None, path),
            None => {
                let dir = tempfile::tempdir().expect("a temporary data directory");
                let path = dir.path().to_owned();
                (Some(dir), path)
            }
        };

        let mut args: Vec<String> = vec!["visavis".into()];
        if !self.tls {
            args.push("--no-tls".into());
        }
        if self.exempt_loopback {
            // Every test client comes from 127.0.0.1; the per-IP budgets meant for strangers
            // on the internet would otherwise cut the busier tests short.
            args.push("--rate-limit-exempt-loopback".into());
        }
        args.extend([
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--static-dir".into(),
            static_dir.path().display().to_string(),
            "--data-dir".into(),
            data_path.display().to_string(),
        ]);
        args.extend(self.args);

        // `try_parse_from`, not `parse_from`: a bad flag must fail this test, not exit the
        // process.
        let config = Config::try_parse_from(&args)
            .unwrap_or_else(|err| panic!("the test flags {args:?} do not parse: {err}"));
        let app = Application::build(config)
            .await
            .expect("the application builds and binds its listeners");
        let port = app.port();
        let metrics_port = app.metrics_port();
        let relay_addr = app.relay_addr();
        let handle = app.handle();
        tokio::spawn(app.run_until_stopped());

        TestApp {
            port,
            metrics_port,
            relay_addr,
            scheme: if self.tls { "https" } else { "http" },
            handle,
            _static_dir: static_dir,
            _data_dir: own_data_dir,
            _lease: lease,
        }
    }
}

impl TestApp {
    /// A builder for a server with more than extra flags changed.
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            args: Vec::new(),
            index_html: INDEX_HTML.to_owned(),
            static_files: Vec::new(),
            precompress: false,
            tls: false,
            exempt_loopback: true,
            data_dir: None,
        }
    }

    /// Stops the server at once, as a crash or a restart would: open sockets are cut without
    /// a close frame and all room state is gone. Releases this test's hold on the servers, so
    /// the test may start another.
    pub async fn stop(self) {
        timeout(Duration::from_secs(10), self.handle.stop(false))
            .await
            .expect("the server stops within 10 s");
    }

    /// The full URL of an HTTP path on this server (`https:` when it serves TLS).
    pub fn http_url(&self, path: &str) -> String {
        format!("{}://127.0.0.1:{}{}", self.scheme, self.port, path)
    }

    /// `/metrics` from the main listener with `Authorization: Bearer token`, which must
    /// answer 200.
    pub async fn metrics_with_token(&self, token: &str) -> MetricsText {
        let response = reqwest::Client::new()
            .get(self.http_url("/metrics"))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET /metrics gets an answer");
        assert_eq!(
            response.status(),
            reqwest::StatusCode::OK,
            "/metrics with the right token"
        );
        MetricsText(response.text().await.expect("a metrics body"))
    }

    /// Polls `/metrics` (with the bearer `token`) until `done` holds, for at most `limit`.
    pub async fn wait_for_metrics(
        &self,
        token: &str,
        limit: Duration,
        what: &str,
        done: impl Fn(&MetricsText) -> bool,
    ) -> MetricsText {
        let deadline = Instant::now() + limit;
        loop {
            let metrics = self.metrics_with_token(token).await;
            if done(&metrics) {
                return metrics;
            }
            assert!(
                Instant::now() < deadline,
                "expected {what} within {limit:?}; the metrics are:\n{}",
                metrics.0
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Connects a client and consumes the `config` greeting.
    pub async fn client(&self, name: &str) -> TestClient {
        TestClient::connect(self.port, name).await
    }

    /// Two clients seated in `room`: the first got `created` and then `new_peer`, the second
    /// got `joined`.
    pub async fn seated_pair(&self, room: &str) -> (TestClient, TestClient) {
        seated_pair(self.port, room).await
    }
}

/// Like [`TestApp::seated_pair`], for tasks that only hold the port.
pub async fn seated_pair(port: u16, room: &str) -> (TestClient, TestClient) {
    let mut caller = TestClient::connect(port, &format!("caller of {room}")).await;
    let mut callee = TestClient::connect(port, &format!("callee of {room}")).await;
    caller.join_expecting(room, "created").await;
    callee.join_expecting(room, "joined").await;
    let new_peer = caller.expect_type("new_peer").await;
    assert_eq!(
        without_seat(&new_peer),
        json!({"type": "new_peer", "room": room})
    );
    (caller, callee)
}

/// What the server sent next, ignoring control frames.
enum Incoming {
    Text(String),
    Binary(Vec<u8>),
    /// A close frame, the end of the stream or a transport error, described.
    Closed(String),
}

/// `message` without its `seat` field, which must be a non-empty string: for comparing
/// `created`, `joined`, `new_peer` and `rejoined` by meaning, since tokens are random.
pub fn without_seat(message: &Value) -> Value {
    let mut message = message.clone();
    let seat = message
        .as_object_mut()
        .and_then(|object| object.remove("seat"));
    assert!(
        seat.as_ref()
            .and_then(Value::as_str)
            .is_some_and(|seat| !seat.is_empty()),
        "expected a seat token in {message} (with seat {seat:?})"
    );
    message
}

/// A WebSocket connection to `/ws`, named so that failures say which peer was waiting.
pub struct TestClient {
    name: String,
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The newest seat token the server sent, as a browser would keep it.
    seat: Option<String>,
}

impl TestClient {
    /// Opens `/ws` and checks that the first message is `config`.
    pub async fn connect(port: u16, name: &str) -> TestClient {
        let mut client = TestClient::connect_raw(port, name).await;
        let config = client.recv_json().await;
        assert_eq!(
            config["type"], "config",
            "{name}: the first message must be config, got {config}"
        );
        assert!(
            config["ice_servers"].is_array(),
            "{name}: config must carry an ice_servers list, got {config}"
        );
        client
    }

    /// Opens `/ws` with extra request headers and, when the upgrade succeeds, checks that the
    /// first message is `config`. A refused upgrade gives the HTTP status of the refusal.
    pub async fn try_connect_with_headers(
        port: u16,
        name: &str,
        headers: &[(&str, &str)],
    ) -> Result<TestClient, StatusCode> {
        let mut request = format!("ws://127.0.0.1:{port}/ws")
            .into_client_request()
            .expect("a valid WebSocket URL");
        for (header, value) in headers {
            request.headers_mut().append(
                HeaderName::from_bytes(header.as_bytes()).expect("a valid header name"),
                HeaderValue::from_str(value).expect("a valid header value"),
            );
        }
        let ws = match timeout(RECV_TIMEOUT, tokio_tungstenite::connect_async(request)).await {
            Err(_) => panic!("{name}: the WebSocket handshake timed out"),
            Ok(Err(tungstenite::Error::Http(response))) => return Err(response.status()),
            Ok(Err(err)) => panic!("{name}: the WebSocket handshake failed: {err}"),
            Ok(Ok((ws, _response))) => ws,
        };
        let mut client = TestClient {
            name: name.to_owned(),
            ws,
            seat: None,
        };
        client.expect_type("config").await;
        Ok(client)
    }

    /// Opens `/ws` without reading anything.
    pub async fn connect_raw(port: u16, name: &str) -> TestClient {
        let url = format!("ws://127.0.0.1:{port}/ws");
        let (ws, _response) =
            match timeout(RECV_TIMEOUT, tokio_tungstenite::connect_async(url)).await {
                Err(_) => panic!("{name}: the WebSocket handshake timed out"),
                Ok(Err(err)) => panic!("{name}: the WebSocket handshake failed: {err}"),
                Ok(Ok(connected)) => connected,
            };
        TestClient {
            name: name.to_owned(),
            ws,
            seat: None,
        }
    }

    /// The newest seat token this client received (from `created`, `joined`, `new_peer` or
    /// `rejoined`).
    pub fn seat(&self) -> String {
        self.seat
            .clone()
            .unwrap_or_else(|| panic!("{}: no seat token received yet", self.name))
    }

    pub async fn send_json(&mut self, message: Value) {
        self.send_text(&message.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        if let Err(err) = self.try_send_text(text).await {
            panic!("{}: sending a text frame failed: {err}", self.name);
        }
    }

    /// Sends a text frame and reports failure instead of panicking, for frames the server may
    /// cut off while they are being written.
    pub async fn try_send_text(&mut self, text: &str) -> Result<(), tungstenite::Error> {
        self.ws.send(Message::text(text)).await
    }

    pub async fn send_binary(&mut self, bytes: &[u8]) {
        if let Err(err) = self.ws.send(Message::binary(bytes.to_vec())).await {
            panic!("{}: sending a binary frame failed: {err}", self.name);
        }
    }

    async fn next_incoming(&mut self, deadline: Instant) -> Option<Incoming> {
        loop {
            let frame = timeout_at(deadline, self.ws.next()).await.ok()?;
            return Some(match frame {
                Some(Ok(Message::Text(text))) => Incoming::Text(text.as_str().to_owned()),
                Some(Ok(Message::Binary(bytes))) => Incoming::Binary(bytes.to_vec()),
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Ok(Message::Close(frame))) => {
                    Incoming::Closed(format!("close frame {frame:?}"))
                }
                Some(Err(err)) => Incoming::Closed(format!("transport error: {err}")),
                None => Incoming::Closed("end of stream".to_owned()),
            });
        }
    }

    /// The next message, which must arrive within [`RECV_TIMEOUT`].
    pub async fn recv_json(&mut self) -> Value {
        self.recv_json_within(RECV_TIMEOUT).await
    }

    /// The next message, which must arrive within `limit`.
    pub async fn recv_json_within(&mut self, limit: Duration) -> Value {
        let name = self.name.clone();
        match self.next_incoming(Instant::now() + limit).await {
            None => panic!("{name}: no message arrived within {limit:?}"),
            Some(Incoming::Text(text)) => {
                let message: Value = serde_json::from_str(&text).unwrap_or_else(|err| {
                    panic!("{name}: the server sent non-JSON text ({err}): {text}")
                });
                if let Some(seat) = message["seat"].as_str() {
                    self.seat = Some(seat.to_owned());
                }
                message
            }
            Some(Incoming::Binary(bytes)) => {
                panic!(
                    "{name}: the server sent a binary frame of {} bytes",
                    bytes.len()
                )
            }
            Some(Incoming::Closed(how)) => {
                panic!("{name}: the connection closed while a message was expected ({how})")
            }
        }
    }

    /// The next message, which must have `"type": kind`.
    pub async fn expect_type(&mut self, kind: &str) -> Value {
        let message = self.recv_json().await;
        assert_eq!(
            message["type"], kind,
            "{}: expected a {kind} message, got {message}",
            self.name
        );
        message
    }

    /// The next message, which must be `error` with this `code` and a non-empty `message`.
    pub async fn expect_error(&mut self, code: &str) -> Value {
        let message = self.expect_type("error").await;
        assert_eq!(
            message["code"], code,
            "{}: expected error code {code}, got {message}",
            self.name
        );
        assert!(
            message["message"]
                .as_str()
                .is_some_and(|text| !text.is_empty()),
            "{}: an error needs a non-empty message text, got {message}",
            self.name
        );
        message
    }

    /// Listens for `window` and fails if anything but control frames arrives, or the
    /// connection closes.
    pub async fn expect_silence(&mut self, window: Duration) {
        let name = self.name.clone();
        match self.next_incoming(Instant::now() + window).await {
            None => {}
            Some(Incoming::Text(text)) => panic!("{name}: expected silence, got {text}"),
            Some(Incoming::Binary(bytes)) => {
                panic!(
                    "{name}: expected silence, got a binary frame of {} bytes",
                    bytes.len()
                )
            }
            Some(Incoming::Closed(how)) => {
                panic!("{name}: expected silence, but the connection closed ({how})")
            }
        }
    }

    /// [`Self::expect_silence`] for the usual short window.
    pub async fn expect_nothing(&mut self) {
        self.expect_silence(SILENCE).await;
    }

    /// Waits up to `limit` for the server to close this connection (close frame, end of
    /// stream or reset). Messages sent before the close are skipped.
    pub async fn expect_closed_within(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            match self.next_incoming(deadline).await {
                None => panic!(
                    "{}: the connection is still open after {limit:?}",
                    self.name
                ),
                Some(Incoming::Closed(_)) => return,
                Some(Incoming::Text(_) | Incoming::Binary(_)) => continue,
            }
        }
    }

    /// Waits for a WebSocket ping from the server, failing on any data frame.
    pub async fn expect_ping_within(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let frame = timeout_at(deadline, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("{}: no ping within {limit:?}", self.name));
            match frame {
                Some(Ok(Message::Ping(_))) => return,
                Some(Ok(Message::Pong(_) | Message::Frame(_))) => continue,
                other => panic!("{}: expected a ping, got {other:?}", self.name),
            }
        }
    }

    /// Sends `join` and returns the reply.
    pub async fn join(&mut self, room: &str) -> Value {
        self.send_json(json!({"type": "join", "room": room})).await;
        self.recv_json().await
    }

    /// Sends `join` and checks the reply is `{"type": kind, "room": room}`, plus a seat token
    /// when it admits the client (`created`, `joined`).
    pub async fn join_expecting(&mut self, room: &str, kind: &str) {
        let reply = self.join(room).await;
        let reply = match kind {
            "created" | "joined" => without_seat(&reply),
            _ => reply,
        };
        assert_eq!(
            reply,
            json!({"type": kind, "room": room}),
            "{}: unexpected reply to join {room}",
            self.name
        );
    }

    /// Sends `rejoin` with `token` and returns the reply.
    pub async fn rejoin(&mut self, room: &str, token: &str, fresh: bool) -> Value {
        self.send_json(json!({"type": "rejoin", "room": room, "seat": token, "fresh": fresh}))
            .await;
        self.recv_json().await
    }

    /// Sends `rejoin` with `token` and checks the reply is `rejoined` with a new token and
    /// `peer_present`.
    pub async fn rejoin_expecting(
        &mut self,
        room: &str,
        token: &str,
        fresh: bool,
        peer_present: bool,
    ) {
        let reply = self.rejoin(room, token, fresh).await;
        assert_eq!(
            without_seat(&reply),
            json!({"type": "rejoined", "room": room, "peer_present": peer_present}),
            "{}: unexpected reply to rejoin {room}",
            self.name
        );
        assert_ne!(
            reply["seat"], token,
            "{}: the token was not rotated",
            self.name
        );
    }

    /// Closes the WebSocket with a close frame and waits for the server to finish the close.
    pub async fn close(mut self) {
        self.ws
            .close(None)
            .await
            .unwrap_or_else(|err| panic!("{}: sending the close frame failed: {err}", self.name));
        // Drain until the server answers the close or drops the connection.
        let _ = timeout(RECV_TIMEOUT, async {
            while let Some(Ok(_)) = self.ws.next().await {}
        })
        .await;
    }

    /// Sends a close frame with `code` and `reason` (1001 "going away" is what a browser sends
    /// on reload) and waits for the server to finish the close.
    pub async fn close_with(mut self, code: u16, reason: &str) {
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.to_owned().into(),
        };
        self.ws
            .close(Some(frame))
            .await
            .unwrap_or_else(|err| panic!("{}: sending the close frame failed: {err}", self.name));
        let _ = timeout(RECV_TIMEOUT, async {
            while let Some(Ok(_)) = self.ws.next().await {}
        })
        .await;
    }

    /// The underlying WebSocket, e.g. to split it into a writing and a reading half.
    pub fn into_inner(self) -> WebSocketStream<MaybeTlsStream<TcpStream>> {
        self.ws
    }

    /// Drops the TCP connection without a close frame (the kernel sends FIN).
    pub fn drop_without_close_frame(self) {
        drop(self);
    }

    /// Drops the TCP connection with a reset (RST), as a crashed machine or a cut network
    /// would look to the server.
    pub fn reset_connection(self) {
        if let MaybeTlsStream::Plain(tcp) = self.ws.get_ref() {
            tcp.set_zero_linger()
                .expect("SO_LINGER can be set on the test socket");
        }
        drop(self);
    }
}

/// The text of a `/metrics` page.
pub struct MetricsText(pub String);

impl MetricsText {
    /// The value of one series, written as in the exposition: the name plus labels, e.g.
    /// `visavis_joins_total{result="created"}`. A labelled series nobody touched yet is not
    /// printed at all and counts as 0; a series without labels must be there, so a misspelt
    /// name fails instead of reading 0.
    pub fn value(&self, series: &str) -> f64 {
        let found = self.0.lines().find_map(|line| {
            let value = line.strip_prefix(series)?.strip_prefix(' ')?;
            Some(value.trim().parse::<f64>().unwrap_or_else(|err| {
                panic!("the value of {series} is not a number ({err}): {line}")
            }))
        });
        match found {
            Some(value) => value,
            None if series.contains('{') => 0.0,
            None => panic!("/metrics has no series {series}:\n{}", self.0),
        }
    }
}

/// A realistic SDP body (CRLF line ends, as browsers send) of exactly `len` bytes, marked with
/// `tag` so that messages of different peers differ.
pub fn sdp_of_len(len: usize, tag: &str) -> String {
    let head = format!("v=0\r\no=- {tag} 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=x-padding:");
    let tail = "\r\n";
    assert!(
        len >= head.len() + tail.len(),
        "an SDP of {len} bytes is too short to build"
    );
    let sdp = format!("{head}{}{tail}", "x".repeat(len - head.len() - tail.len()));
    assert_eq!(sdp.len(), len);
    sdp
}

/// A small realistic SDP offer or answer.
pub fn sample_sdp(tag: &str) -> String {
    format!(
        "v=0\r\no=- {tag} 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n\
         a=msid-semantic: WMS\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n\
         a=ice-ufrag:{tag}\r\na=ice-pwd:aSecretPassword0123456789\r\n\
         a=fingerprint:sha-256 AB:CD:EF:01:23:45:67:89\r\na=setup:actpass\r\na=mid:0\r\n"
    )
}

/// A candidate as `RTCIceCandidate.toJSON()` gives it.
pub fn sample_candidate(tag: &str) -> Value {
    json!({
        "candidate": format!("candidate:{tag} 1 udp 2122260223 192.0.2.1 54400 typ host generation 0"),
        "sdpMid": "0",
        "sdpMLineIndex": 0,
        "usernameFragment": tag,
    })
}
