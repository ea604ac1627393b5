//! A client that stops reading its socket is let go: its partner is told `peer_reconnecting`
//! and, after the (here short) grace period, `bye`; and the server frees everything the
//! connection held (its task, its place under `--max-connections`, its
//! queued messages) even while the client keeps its TCP connection open.

use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::{interval, timeout, Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::{sdp_of_len, spawn_app_with, TestApp, TestClient};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const TOKEN: &str = "slow-reader-metrics";

/// Large relays fill the reader's buffers quickly.
const RELAY_BYTES: usize = 60 * 1024;

/// The partner stays under the budget of 20 messages a second.
const RELAY_INTERVAL: Duration = Duration::from_millis(55);

/// How long the partner may wait for `bye`.
const BYE_DEADLINE: Duration = Duration::from_secs(40);

/// How long the server may take to let go of the reader once its partner heard `bye`.
const RELEASE_DEADLINE: Duration = Duration::from_secs(30);

/// How a reader that does not read behaves otherwise.
#[derive(Clone, Copy)]
enum Reader {
    /// Sends nothing at all.
    Silent,
    /// Keeps sending WebSocket pings, so it looks alive to the heartbeat.
    Pinging,
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_reader_that_stops_reading_is_let_go_and_its_slot_freed() {
    check_the_reader_is_let_go(Reader::Silent, Some(150)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reader_that_stops_reading_but_keeps_pinging_is_let_go_and_its_slot_freed() {
    check_the_reader_is_let_go(Reader::Pinging, None).await;
}

/// Seats a reader that never reads with a partner that sends it large offers (first `burst` at
/// once, if given, then at a steady pace) until it hears `bye`; then checks that the server let
/// go of the reader completely while the reader's TCP connection stays open.
async fn check_the_reader_is_let_go(reader: Reader, burst: Option<usize>) {
    // Room for exactly the reader and its partner.
    let app = spawn_app_with(&[
        "--metrics-token",
        TOKEN,
        "--max-connections",
        "2",
        "--reconnect-grace-secs",
        "1",
    ])
    .await;
    let (slow, partner) = app.seated_pair("slow").await;
    let (slow_sink, slow_stream) = slow.into_inner().split();
    let slow_sink = match reader {
        Reader::Silent => tokio::spawn(async move { slow_sink }),
        Reader::Pinging => tokio::spawn(ping_forever(slow_sink)),
    };

    let (mut sink, stream) = partner.into_inner().split();
    let listener = wait_for_bye(stream);
    let frame = json!({"type": "invite", "sdp": sdp_of_len(RELAY_BYTES, "partner")}).to_string();
    let started = Instant::now();
    let mut pace = interval(RELAY_INTERVAL);
    pace.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut sent = 0;
    while !listener.is_finished() && started.elapsed() < BYE_DEADLINE {
        if burst.is_none_or(|burst| sent >= burst) {
            pace.tick().await;
        }
        sink.send(Message::text(frame.clone()))
            .await
            .expect("the partner keeps its connection");
        sent += 1;
    }
    let (stream, got_bye) = timeout(Duration::from_secs(1), listener)
        .await
        .unwrap_or_else(|_| panic!("the partner heard no bye within {BYE_DEADLINE:?}"))
        .expect("the partner's listener does not panic");
    assert!(got_bye, "the partner was closed instead of being told bye");
    println!(
        "the partner heard bye after {:?} and {sent} relays of {RELAY_BYTES} bytes",
        started.elapsed()
    );

    // The partner hangs up; the reader keeps its TCP connection open (and unread).
    sink.close()
        .await
        .expect("the partner's close frame is sent");
    drop(stream);
    app.wait_for_metrics(
        TOKEN,
        RELEASE_DEADLINE,
        "the server to count neither the slow reader nor its partner any more",
        |m| m.value("visavis_connections") == 0.0 && m.value("visavis_rooms") == 0.0,
    )
    .await;
    // Both places under --max-connections 2 are free again.
    let first = wait_until_admitted(&app, "newcomer 1").await;
    let second = wait_until_admitted(&app, "newcomer 2").await;

    drop((first, second));
    slow_sink.abort();
    drop(slow_stream);
}

/// Sends a WebSocket ping every millisecond, far more often than the partner relays, so the
/// server has a pong to write whenever it reads; when the server stops reading, keeps the socket
/// open.
async fn ping_forever(mut sink: SplitSink<Socket, Message>) -> SplitSink<Socket, Message> {
    let mut tick = interval(Duration::from_millis(1));
    loop {
        tick.tick().await;
        if sink.send(Message::Ping(Vec::new().into())).await.is_err() {
            return sink;
        }
    }
}

/// Reads until `bye` for room `slow` (true) or the end of the connection (false); the only
/// message allowed before it is `peer_reconnecting`, since the reader was dropped as lost.
fn wait_for_bye(mut stream: SplitStream<Socket>) -> JoinHandle<(SplitStream<Socket>, bool)> {
    let bye = json!({"type": "bye", "room": "slow"});
    let reconnecting = json!({"type": "peer_reconnecting", "room": "slow", "grace_ms": 1000});
    tokio::spawn(async move {
        let mut told_reconnecting = false;
        while let Some(frame) = stream.next().await {
            match frame {
                Ok(Message::Text(text)) => {
                    let message: serde_json::Value =
                        serde_json::from_str(text.as_str()).expect("JSON from the server");
                    if message == reconnecting && !told_reconnecting {
                        told_reconnecting = true;
                        continue;
                    }
                    assert_eq!(message, bye, "the partner got something else than bye");
                    assert!(
                        told_reconnecting,
                        "bye came without peer_reconnecting first"
                    );
                    return (stream, true);
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        (stream, false)
    })
}

/// Connects until the server admits the client (sends `config` rather than `server_busy`).
async fn wait_until_admitted(app: &TestApp, name: &str) -> TestClient {
    let deadline = Instant::now() + RELEASE_DEADLINE;
    loop {
        let mut client = TestClient::connect_raw(app.port, name).await;
        let first = client.recv_json().await;
        if first["type"] == "config" {
            return client;
        }
        assert_eq!(first["code"], "server_busy", "{name} got {first}");
        assert!(
            Instant::now() < deadline,
            "{name} was still refused with server_busy {RELEASE_DEADLINE:?} after the slow \
             reader was let go: its place under --max-connections was never freed"
        );
        client.expect_closed_within(Duration::from_secs(5)).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
