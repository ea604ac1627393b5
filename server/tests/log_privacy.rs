//! Log privacy, checked on the real binary: an SDP and a candidate carrying a marker string and
//! an IP address pass through the server, and neither appears in its log at the default level;
//! nor do the seat tokens the server hands out and takes back.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const MARKER: &str = "PRIVATE-MARKER-5f1c";
const ADDRESS: &str = "203.0.113.77";

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn next_json(
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a message within 5 s")
            .expect("the socket stays open")
            .expect("a valid frame");
        if let Message::Text(text) = frame {
            return serde_json::from_str(&text).expect("the server sends JSON");
        }
    }
}

#[tokio::test]
async fn sdp_and_candidates_never_reach_the_log_at_the_default_level() {
    let static_dir = tempfile::tempdir().unwrap();
    std::fs::write(static_dir.path().join("index.html"), "<html></html>").unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_visavis"))
        .args([
            "--no-tls",
            "--listen",
            "127.0.0.1:0",
            "--rate-limit-exempt-loopback",
        ])
        .arg("--static-dir")
        .arg(static_dir.path())
        .arg("--data-dir")
        .arg(data_dir.path())
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the visavis binary starts");
    let mut server = Server(child);

    // Both output streams are collected line by line on their own threads.
    let (lines_tx, lines) = mpsc::channel::<String>();
    for stream in [
        Box::new(server.0.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(server.0.stderr.take().unwrap()),
    ] {
        let tx = lines_tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    let mut log = Vec::new();
    let port = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(20))
            .expect("the server logs that it listens");
        log.push(line.clone());
        if let Some(rest) = line.split("port=").nth(1) {
            break rest
                .split_whitespace()
                .next()
                .unwrap()
                .parse::<u16>()
                .unwrap();
        }
    };

    let url = format!("ws://127.0.0.1:{port}/ws");
    let (mut alice, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let (mut bob, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    next_json(&mut alice).await; // config
    next_json(&mut bob).await;
    alice
        .send(Message::text(
            json!({"type":"join","room":"privacy"}).to_string(),
        ))
        .await
        .unwrap();
    let mut tokens = Vec::new();
    let created = next_json(&mut alice).await;
    assert_eq!(created["type"], "created");
    tokens.push(created["seat"].as_str().expect("a seat token").to_owned());
    bob.send(Message::text(
        json!({"type":"join","room":"privacy"}).to_string(),
    ))
    .await
    .unwrap();
    let joined = next_json(&mut bob).await;
    assert_eq!(joined["type"], "joined");
    tokens.push(joined["seat"].as_str().expect("a seat token").to_owned());
    let new_peer = next_json(&mut alice).await;
    assert_eq!(new_peer["type"], "new_peer");
    let alice_token = new_peer["seat"].as_str().expect("a seat token").to_owned();
    tokens.push(alice_token.clone());

    // Alice's socket drops and she takes her seat back: the token goes through the log's
    // neighbourhood twice (rejoin in, rejoined out).
    drop(alice);
    assert_eq!(next_json(&mut bob).await["type"], "peer_reconnecting");
    let (mut alice, _) = tokio_tungstenite::connect_async(&url)
        .await
        .expect("alice reconnects");
    next_json(&mut alice).await; // config
    alice
        .send(Message::text(
            json!({"type":"rejoin","room":"privacy","seat":alice_token}).to_string(),
        ))
        .await
        .expect("the rejoin is sent");
    let rejoined = next_json(&mut alice).await;
    assert_eq!(rejoined["type"], "rejoined", "{rejoined}");
    tokens.push(rejoined["seat"].as_str().expect("a seat token").to_owned());
    assert_eq!(next_json(&mut bob).await["type"], "peer_reconnected");

    let sdp = format!("v=0\r\no=- 1 2 IN IP4 {ADDRESS}\r\ns={MARKER}\r\nc=IN IP4 {ADDRESS}\r\n");
    let candidate = json!({
        "candidate": format!("candidate:1 1 udp 2122260223 {ADDRESS} 54400 typ host ufrag {MARKER}"),
        "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": MARKER
    });
    alice
        .send(Message::text(
            json!({"type":"invite","sdp":sdp}).to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(next_json(&mut bob).await["sdp"], sdp.as_str());
    bob.send(Message::text(json!({"type":"ok","sdp":sdp}).to_string()))
        .await
        .unwrap();
    assert_eq!(next_json(&mut alice).await["sdp"], sdp.as_str());
    alice
        .send(Message::text(
            json!({"type":"ice_candidate","candidate":candidate}).to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(next_json(&mut bob).await["candidate"], candidate);
    // A malformed candidate is refused; the refusal must not echo it into the log either.
    alice
        .send(Message::text(
            json!({"type":"ice_candidate","candidate":format!("{MARKER} {ADDRESS}")}).to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(next_json(&mut alice).await["type"], "error");
    alice
        .send(Message::text(
            json!({"type":"bye","room":"privacy"}).to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(next_json(&mut bob).await["type"], "bye");
    drop(alice);
    drop(bob);

    // The server logs the bye and the three closes (Alice twice, Bob); wait for the last so the
    // log is complete.
    let mut closed = 0;
    while closed < 3 {
        let line = lines
            .recv_timeout(Duration::from_secs(20))
            .expect("the server logs both closes");
        if line.contains("socket closed") {
            closed += 1;
        }
        log.push(line);
    }
    let log = log.join("\n");
    assert!(
        log.contains("join"),
        "the log records events at info level:\n{log}"
    );
    assert!(
        !log.contains(MARKER),
        "the log holds SDP or candidate text:\n{log}"
    );
    assert!(
        !log.contains(ADDRESS),
        "the log holds an address from the SDP:\n{log}"
    );
    assert!(!log.contains("v=0"), "the log holds SDP:\n{log}");
    for token in &tokens {
        // Any sizeable piece of a token would do; the MAC part is the secret-looking one.
        let mac = token.rsplit('.').next().expect("a token has parts");
        assert!(!log.contains(mac), "the log holds a seat token:\n{log}");
    }
    assert!(
        log.contains("seat reclaimed"),
        "the rejoin is logged (without its token):\n{log}"
    );
}
