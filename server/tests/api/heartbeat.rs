//! The heartbeat: the server pings every 3 s and drops a client silent for 10 s.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{sample_sdp, spawn_app, TestApp};

#[tokio::test(flavor = "multi_thread")]
async fn the_server_pings_an_idle_client() {
    let app = spawn_app().await;
    let mut alice = app.client("alice").await;

    // Pings come every 3 s; allow for a loaded machine.
    alice.expect_ping_within(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_stops_answering_is_dropped_and_its_peer_gets_bye() {
    // A silent client may be on a train in a tunnel: its seat is held for the grace period.
    let app = TestApp::builder().reconnect_grace_secs(1).spawn().await;
    let (mut alice, mut bob) = app.seated_pair("kitchen").await;

    // From here on nothing reads Alice's socket, so her pings go unanswered. Bob keeps
    // reading (and so answering pings) while he waits.
    let reconnecting = bob.recv_json_within(Duration::from_secs(16)).await;
    assert_eq!(
        reconnecting,
        json!({"type": "peer_reconnecting", "room": "kitchen", "grace_ms": 1000})
    );
    let bye = bob.recv_json_within(Duration::from_secs(4)).await;

    assert_eq!(bye, json!({"type": "bye", "room": "kitchen"}));
    let mut carol = app.client("carol").await;
    carol.join_expecting("kitchen", "joined").await;
    bob.expect_type("new_peer").await;
    // Alice's connection was really closed by the server.
    alice.expect_closed_within(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn clients_that_answer_pings_are_kept_while_quiet() {
    let app = spawn_app().await;
    let (mut alice, mut bob) = app.seated_pair("kitchen").await;

    // Longer than the 10 s limit: both read (and so answer pings) but send nothing.
    let quiet = Duration::from_secs(12);
    tokio::join!(alice.expect_silence(quiet), bob.expect_silence(quiet));

    let invite = json!({"type": "invite", "sdp": sample_sdp("alice")});
    alice.send_json(invite.clone()).await;
    assert_eq!(bob.recv_json().await, invite);
}
