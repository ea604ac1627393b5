//! The three ways docs/deployment.md gives to offer TURN over TLS on port 443 next to HTTPS,
//! run from the snippets in that file (addresses, ports and certificate paths swapped for
//! loopback ones and a test certificate): a second IP address; nginx `stream` with
//! `ssl_preread` routing by SNI; visavis behind a proxy with the relay itself on 443.
//!
//! Each test makes an allocation over TLS with credentials minted from the secret, checking the
//! certificate against `turn.example.org`, and an HTTP(S) request to the app the same way a
//! browser would reach it. The nginx test needs `/usr/sbin/nginx` with its stream module and
//! fails without it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;
use tempfile::TempDir;
use turn::client::{Client, ClientConfig};
use visavis::config::Config;
use visavis::startup::Application;
use visavis::turn::{credentials, stream_client};
use webrtc_util::Conn;

const SECRET: &str = "a test secret for port 443";
const APP_HOST: &str = "app.example.org";
const TURN_HOST: &str = "turn.example.org";
const NGINX: &str = "/usr/sbin/nginx";
const NGINX_STREAM_MODULE: &str = "/usr/lib/nginx/modules/ngx_stream_module.so";
/// Bound on any single network step, so a bug hangs no test.
const STEP: Duration = Duration::from_secs(10);

/// The fenced block after `<!-- tested: NAME -->` in docs/deployment.md.
fn snippet(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/deployment.md");
    let docs = std::fs::read_to_string(&path).expect("docs/deployment.md is readable");
    let marker = format!("<!-- tested: {name} -->");
    let after = docs
        .split_once(&marker)
        .unwrap_or_else(|| panic!("docs/deployment.md has no {marker}"))
        .1;
    let body = after
        .split_once("```")
        .and_then(|(_, rest)| rest.split_once('\n'))
        .map(|(_, rest)| rest)
        .expect("a fenced block follows the marker");
    body.split_once("```")
        .expect("the fenced block ends")
        .0
        .to_owned()
}

/// The flags of a `visavis ...` shell snippet, with `replace` applied to each word.
fn visavis_flags(snippet: &str, replace: &[(String, String)]) -> Vec<String> {
    let joined = snippet.replace("\\\n", " ");
    let mut words = joined.split_whitespace();
    assert_eq!(words.next(), Some("visavis"), "the snippet runs visavis");
    words
        .map(|word| {
            replace
                .iter()
                .find(|(from, _)| from == word)
                .map_or_else(|| word.to_owned(), |(_, to)| to.clone())
        })
        .collect()
}

/// A certificate for both host names, written as the PEM files the snippets name.
struct Certificate {
    dir: TempDir,
    der: rustls::pki_types::CertificateDer<'static>,
    pem: String,
}

impl Certificate {
    fn new() -> Certificate {
        let generated =
            rcgen::generate_simple_self_signed(vec![APP_HOST.to_owned(), TURN_HOST.to_owned()])
                .expect("the certificate generates");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let pem = generated.cert.pem();
        std::fs::write(dir.path().join("fullchain.pem"), &pem).expect("writes");
        std::fs::write(
            dir.path().join("privkey.pem"),
            generated.key_pair.serialize_pem(),
        )
        .expect("writes");
        Certificate {
            der: generated.cert.der().clone(),
            pem,
            dir,
        }
    }

    fn cert_path(&self) -> String {
        self.dir.path().join("fullchain.pem").display().to_string()
    }

    fn key_path(&self) -> String {
        self.dir.path().join("privkey.pem").display().to_string()
    }

    /// The replacements for every certificate path the snippets use.
    fn paths(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for domain in ["example.org", "turn.example.org"] {
            for (file, path) in [
                ("fullchain.pem", self.cert_path()),
                ("privkey.pem", self.key_path()),
            ] {
                out.push((format!("/etc/letsencrypt/live/{domain}/{file}"), path));
            }
        }
        out
    }

    /// An HTTPS client that trusts this certificate and reaches `host` at `addr`.
    fn https_client(&self, host: &str, addr: SocketAddr) -> reqwest::Client {
        reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(self.pem.as_bytes()).expect("a PEM certificate"),
            )
            .resolve(host, addr)
            .build()
            .expect("the client builds")
    }
}

/// visavis with `flags`, the secret, and temporary static and data directories.
struct Visavis {
    port: u16,
    relay_tls: SocketAddr,
    _dirs: (TempDir, TempDir),
}

async fn start_visavis(flags: Vec<String>) -> Visavis {
    let static_dir = tempfile::tempdir().expect("a static directory");
    std::fs::write(static_dir.path().join("index.html"), "<html>visavis</html>").expect("writes");
    let data_dir = tempfile::tempdir().expect("a data directory");
    let mut args = vec!["visavis".to_owned()];
    args.extend(flags);
    args.extend([
        "--turn-secret".to_owned(),
        SECRET.to_owned(),
        "--turn-relay-ports".to_owned(),
        "45000-45199".to_owned(),
        "--static-dir".to_owned(),
        static_dir.path().display().to_string(),
        "--data-dir".to_owned(),
        data_dir.path().display().to_string(),
    ]);
    let config = Config::try_parse_from(&args)
        .unwrap_or_else(|err| panic!("the snippet's flags {args:?} do not parse: {err}"));
    let app = Application::build(config)
        .await
        .unwrap_or_else(|err| panic!("visavis starts with {args:?}: {err:#}"));
    let port = app.port();
    let relay_tls = app.relay_tls_addr().expect("the relay serves TLS");
    tokio::spawn(app.run_until_stopped());
    Visavis {
        port,
        relay_tls,
        _dirs: (static_dir, data_dir),
    }
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// Allocates over TLS at `addr`, checking the certificate for `turn.example.org`, with
/// credentials minted from the secret; returns the relayed address.
async fn allocate_over_tls(
    addr: SocketAddr,
    certificate: &Certificate,
) -> Result<SocketAddr, String> {
    let conn = tokio::time::timeout(
        STEP,
        stream_client::tls(addr, TURN_HOST, certificate.der.clone()),
    )
    .await
    .map_err(|_| "the TLS handshake timed out".to_owned())?
    .map_err(|err| format!("TLS to the relay: {err}"))?;
    let creds = credentials::issue(
        SECRET.as_bytes(),
        now_unix(),
        Duration::from_secs(600),
        "port443",
    );
    let client = Client::new(ClientConfig {
        stun_serv_addr: addr.to_string(),
        turn_serv_addr: addr.to_string(),
        username: creds.username,
        password: creds.credential,
        realm: "visavis".to_owned(),
        software: String::new(),
        rto_in_ms: 0,
        conn: Arc::new(conn),
        vnet: None,
    })
    .await
    .map_err(|err| err.to_string())?;
    client.listen().await.map_err(|err| err.to_string())?;
    let relay_conn = tokio::time::timeout(STEP, client.allocate())
        .await
        .map_err(|_| "the allocation timed out".to_owned())?
        .map_err(|err| err.to_string())?;
    let relayed = relay_conn.local_addr().map_err(|err| err.to_string())?;
    let _ = relay_conn.close().await;
    let _ = client.close().await;
    Ok(relayed)
}

async fn assert_healthz(client: &reqwest::Client, url: &str) {
    let response = tokio::time::timeout(STEP, client.get(url).send())
        .await
        .unwrap_or_else(|_| panic!("{url} timed out"))
        .unwrap_or_else(|err| panic!("{url}: {err}"));
    assert_eq!(response.status(), reqwest::StatusCode::OK, "{url}");
}

fn free_tcp_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_ip_address_serves_the_app_and_turn_over_tls_both_on_one_port() {
    let certificate = Certificate::new();
    // 127.0.0.1 and 127.0.0.2 stand for the two public addresses; one port stands for 443.
    let port = loop {
        let port = free_tcp_port("127.0.0.1");
        if std::net::TcpListener::bind(("127.0.0.2", port)).is_ok() {
            break port;
        }
    };
    let mut replace = vec![
        ("203.0.113.10:443".to_owned(), format!("127.0.0.1:{port}")),
        ("203.0.113.11:443".to_owned(), format!("127.0.0.2:{port}")),
        ("203.0.113.11:3478".to_owned(), "127.0.0.2:0".to_owned()),
        ("203.0.113.11".to_owned(), "127.0.0.2".to_owned()),
    ];
    replace.extend(certificate.paths());
    let app = start_visavis(visavis_flags(&snippet("second-ip"), &replace)).await;
    assert_eq!(app.port, port);
    assert_eq!(app.relay_tls, SocketAddr::from(([127, 0, 0, 2], port)));

    let https = certificate.https_client(APP_HOST, SocketAddr::from(([127, 0, 0, 1], port)));
    assert_healthz(&https, &format!("https://{APP_HOST}:{port}/healthz")).await;
    let relayed = allocate_over_tls(app.relay_tls, &certificate)
        .await
        .expect("an allocation over TLS on the second address");
    assert_eq!(relayed.ip().to_string(), "127.0.0.2");
}

/// nginx running the documented `stream` block; killed on drop.
struct Nginx {
    child: Child,
    _dir: TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_nginx(stream_block: &str) -> Nginx {
    assert!(
        Path::new(NGINX).is_file() && Path::new(NGINX_STREAM_MODULE).is_file(),
        "{NGINX} with its stream module is missing: this test needs nginx \
         (on Debian: `apt-get install nginx libnginx-mod-stream`)"
    );
    let dir = tempfile::tempdir().expect("nginx's directory");
    let conf: PathBuf = dir.path().join("nginx.conf");
    let text = format!(
        "load_module {NGINX_STREAM_MODULE};\n\
         pid {pid};\n\
         error_log {log} info;\n\
         events {{}}\n\
         {stream_block}\n",
        pid = dir.path().join("nginx.pid").display(),
        log = dir.path().join("error.log").display(),
    );
    std::fs::write(&conf, text).expect("writes nginx.conf");
    let child = Command::new(NGINX)
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(&conf)
        .args(["-g", "daemon off;"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx starts");
    Nginx { child, _dir: dir }
}

async fn wait_for_port(addr: SocketAddr) {
    let deadline = tokio::time::Instant::now() + STEP;
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing listens on {addr}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn nginx_ssl_preread_routes_turn_and_the_app_by_server_name_on_one_port() {
    let certificate = Certificate::new();
    let public = free_tcp_port("127.0.0.1");
    let mut replace = vec![
        ("127.0.0.1:8443".to_owned(), "127.0.0.1:0".to_owned()),
        ("0.0.0.0:3478".to_owned(), "127.0.0.1:0".to_owned()),
        ("203.0.113.10".to_owned(), "127.0.0.1".to_owned()),
        ("127.0.0.1:5349".to_owned(), "127.0.0.1:0".to_owned()),
        ("443".to_owned(), public.to_string()),
    ];
    replace.extend(certificate.paths());
    let app = start_visavis(visavis_flags(&snippet("ssl_preread-visavis"), &replace)).await;

    let stream_block = snippet("ssl_preread")
        .replace("listen 443;", &format!("listen 127.0.0.1:{public};"))
        .replace("127.0.0.1:5349", &app.relay_tls.to_string())
        .replace("127.0.0.1:8443", &format!("127.0.0.1:{}", app.port));
    let _nginx = start_nginx(&stream_block).await;
    let front = SocketAddr::from(([127, 0, 0, 1], public));
    wait_for_port(front).await;

    // turn.example.org goes to the relay...
    let relayed = allocate_over_tls(front, &certificate)
        .await
        .expect("an allocation over TLS through nginx");
    assert_eq!(relayed.ip().to_string(), "127.0.0.1");
    // ...and anything else to the app.
    let https = certificate.https_client(APP_HOST, front);
    assert_healthz(&https, &format!("https://{APP_HOST}:{public}/healthz")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_a_proxy_the_app_speaks_http_and_the_relay_serves_tls_itself() {
    let certificate = Certificate::new();
    let mut replace = vec![
        ("127.0.0.1:8080".to_owned(), "127.0.0.1:0".to_owned()),
        ("0.0.0.0:3478".to_owned(), "127.0.0.1:0".to_owned()),
        ("203.0.113.10".to_owned(), "127.0.0.1".to_owned()),
        ("0.0.0.0:443".to_owned(), "127.0.0.1:0".to_owned()),
    ];
    replace.extend(certificate.paths());
    let app = start_visavis(visavis_flags(&snippet("behind-proxy"), &replace)).await;

    let plain = reqwest::Client::new();
    assert_healthz(&plain, &format!("http://127.0.0.1:{}/healthz", app.port)).await;
    let relayed = allocate_over_tls(app.relay_tls, &certificate)
        .await
        .expect("an allocation over TLS with the certificate given next to --no-tls");
    assert_eq!(relayed.ip().to_string(), "127.0.0.1");
}
