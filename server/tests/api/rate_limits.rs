//! Abuse limits: the per-connection message budget, the per-IP budgets for upgrades and joins,
//! the global caps on connections and rooms, and which address a trusted proxy reports.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::time::Instant;

use crate::helpers::{sample_sdp, spawn_app_with, TestApp, TestClient};

/// A budget of 5 messages at once, refilled at one a second: the 6th quick message is over it.
const SMALL_BUDGET: [&str; 4] = ["--messages-per-second", "1", "--message-burst", "5"];

fn invite(tag: &str) -> serde_json::Value {
    json!({"type": "invite", "sdp": sample_sdp(tag)})
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sixth_quick_message_is_refused_with_rate_limited_and_not_relayed() {
    let app = spawn_app_with(&SMALL_BUDGET).await;
    // Alice's join is her first message.
    let (mut alice, mut bob) = app.seated_pair("kitchen").await;

    // Messages 2 to 5 are within the burst, the 6th is not. They are sent back to back, far
    // inside the second it takes to earn another message.
    for n in 2..=6 {
        alice.send_json(invite(&format!("n{n}"))).await;
    }

    alice.expect_error("rate_limited").await;
    for n in 2..=5 {
        assert_eq!(bob.recv_json().await, invite(&format!("n{n}")));
    }
    // The refused 6th invite went nowhere.
    bob.expect_nothing().await;
    alice.expect_nothing().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_keeps_flooding_is_closed_and_others_carry_on() {
    let app = spawn_app_with(&SMALL_BUDGET).await;
    let (mut alice, mut bob) = app.seated_pair("kitchen").await;
    let (mut carol, mut dave) = app.seated_pair("garden").await;

    // Alice ignores every rate_limited answer and keeps sending; the server may cut her off
    // while she is still writing.
    for n in 0..2_000 {
        if alice
            .try_send_text(&invite(&format!("flood{n}")).to_string())
            .await
            .is_err()
        {
            break;
        }
    }

    alice.expect_closed_within(Duration::from_secs(10)).await;
    // Bob hears at most what fit into Alice's budget, then that she is gone.
    loop {
        let message = bob.recv_json().await;
        if message["type"] == "bye" {
            assert_eq!(message, json!({"type": "bye", "room": "kitchen"}));
            break;
        }
        assert_eq!(message["type"], "invite", "Bob got {message}");
    }
    // Everyone else is unaffected: their budgets are their own.
    carol.send_json(invite("carol")).await;
    assert_eq!(dave.recv_json().await, invite("carol"));
    let ok = json!({"type": "ok", "sdp": sample_sdp("dave")});
    dave.send_json(ok.clone()).await;
    assert_eq!(carol.recv_json().await, ok);
    let mut erin = app.client("erin").await;
    erin.join_expecting("kitchen", "joined").await;
    bob.expect_type("new_peer").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_fourth_websocket_upgrade_from_one_ip_in_a_minute_gets_429() {
    let app = TestApp::builder()
        .without_loopback_exemption()
        .args(&["--ip-connections-per-minute", "3"])
        .spawn()
        .await;

    let mut open = Vec::new();
    for n in 1..=3 {
        let client = TestClient::try_connect_with_headers(app.port, &format!("client {n}"), &[])
            .await
            .unwrap_or_else(|status| panic!("upgrade {n} of 3 was refused with {status}"));
        open.push(client);
    }
    let fourth = TestClient::try_connect_with_headers(app.port, "client 4", &[]).await;

    assert_eq!(fourth.err(), Some(StatusCode::TOO_MANY_REQUESTS));
    // The refusal concerns new upgrades only; open sockets keep working.
    open[0].join_expecting("kitchen", "created").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_third_join_from_one_ip_in_a_minute_gets_rate_limited() {
    let app = TestApp::builder()
        .without_loopback_exemption()
        .args(&["--ip-joins-per-minute", "2"])
        .spawn()
        .await;
    let mut alice = app.client("alice").await;
    let mut bob = app.client("bob").await;
    let mut carol = app.client("carol").await;

    alice.join_expecting("kitchen", "created").await;
    bob.join_expecting("garden", "created").await;
    carol
        .send_json(json!({"type": "join", "room": "kitchen"}))
        .await;

    carol.expect_error("rate_limited").await;
    // Carol's join was not acted on: Alice has no new peer, and Carol is in no room.
    alice.expect_nothing().await;
    carol.send_json(invite("carol")).await;
    carol.expect_error("not_in_room").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn beyond_max_connections_a_socket_gets_server_busy_and_is_closed() {
    let app = spawn_app_with(&["--max-connections", "2"]).await;
    let alice = app.client("alice").await;
    let mut bob = app.client("bob").await;

    // The third socket is accepted only to be told why it is refused: no config, just the error.
    let mut carol = TestClient::connect_raw(app.port, "carol").await;
    carol.expect_error("server_busy").await;
    carol.expect_closed_within(Duration::from_secs(5)).await;

    // The two admitted sockets work as usual.
    bob.join_expecting("kitchen", "created").await;

    // Once a socket ends, its slot is free again (the server frees it just after the close,
    // so the newcomer retries until then).
    alice.close().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut dave = TestClient::connect_raw(app.port, "dave").await;
        let first = dave.recv_json().await;
        if first["type"] == "config" {
            dave.join_expecting("kitchen", "joined").await;
            break;
        }
        assert_eq!(first["code"], "server_busy", "dave got {first}");
        assert!(
            Instant::now() < deadline,
            "the closed socket's slot was not freed within 5 s"
        );
        dave.expect_closed_within(Duration::from_secs(5)).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bob.expect_type("new_peer").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn beyond_max_rooms_a_new_room_gets_server_busy_while_open_rooms_still_admit() {
    let app = spawn_app_with(&["--max-rooms", "1"]).await;
    let mut alice = app.client("alice").await;
    let mut bob = app.client("bob").await;
    let mut carol = app.client("carol").await;

    alice.join_expecting("kitchen", "created").await;
    carol
        .send_json(json!({"type": "join", "room": "garden"}))
        .await;
    carol.expect_error("server_busy").await;

    // The open room still admits its second person.
    bob.join_expecting("kitchen", "joined").await;
    alice.expect_type("new_peer").await;
    // Carol was not seated anywhere.
    carol.send_json(invite("carol")).await;
    carol.expect_error("not_in_room").await;
}

/// Opens `/ws` claiming to be forwarded for `client_ip`, returning the HTTP status of a refusal.
async fn connect_forwarded_for(app: &TestApp, client_ip: &str) -> Result<TestClient, StatusCode> {
    TestClient::try_connect_with_headers(
        app.port,
        &format!("client at {client_ip}"),
        &[("X-Forwarded-For", client_ip)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_a_trusted_proxy_each_forwarded_address_has_its_own_budget() {
    let app = TestApp::builder()
        .without_loopback_exemption()
        .args(&[
            "--trusted-proxy",
            "127.0.0.1",
            "--ip-connections-per-minute",
            "1",
        ])
        .spawn()
        .await;

    let first = connect_forwarded_for(&app, "203.0.113.1").await;
    let second = connect_forwarded_for(&app, "203.0.113.2").await;
    let first_again = connect_forwarded_for(&app, "203.0.113.1").await;

    assert!(first.is_ok(), "203.0.113.1 has a budget of its own");
    assert!(second.is_ok(), "203.0.113.2 has a budget of its own");
    assert_eq!(
        first_again.err(),
        Some(StatusCode::TOO_MANY_REQUESTS),
        "203.0.113.1 spent its one upgrade"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_trusted_proxy_x_forwarded_for_is_ignored() {
    let app = TestApp::builder()
        .without_loopback_exemption()
        .args(&["--ip-connections-per-minute", "1"])
        .spawn()
        .await;

    let first = connect_forwarded_for(&app, "203.0.113.1").await;
    let second = connect_forwarded_for(&app, "203.0.113.2").await;

    assert!(first.is_ok(), "the first upgrade from 127.0.0.1 is allowed");
    // Both came from 127.0.0.1, whatever the header claims.
    assert_eq!(second.err(), Some(StatusCode::TOO_MANY_REQUESTS));
}
