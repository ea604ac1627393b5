//! Seats survive a lost connection: `peer_reconnecting`, `rejoin` with the seat token,
//! `rejoined` and `peer_reconnected`, the grace period, takeover, `fresh`, refused tokens, and a
//! server restart in the middle of a call.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{sample_sdp, without_seat, TestApp, TestClient};

/// The default grace period, as `peer_reconnecting` announces it.
const DEFAULT_GRACE_MS: u64 = 20_000;

const TOKEN: &str = "reconnect-metrics";

/// How long a departure may take to be noticed and told (no heartbeat involved).
const PROMPTLY: Duration = Duration::from_secs(3);

fn reconnecting(room: &str, grace_ms: u64) -> Value {
    json!({"type": "peer_reconnecting", "room": room, "grace_ms": grace_ms})
}

fn reconnected(room: &str) -> Value {
    json!({"type": "peer_reconnected", "room": room})
}

/// Checks that an offer and an answer get through between `a` and `b`.
async fn check_relay(a: &mut TestClient, b: &mut TestClient) {
    let invite = json!({"type": "invite", "sdp": sample_sdp("a")});
    a.send_json(invite.clone()).await;
    assert_eq!(b.recv_json().await, invite);
    let ok = json!({"type": "ok", "sdp": sample_sdp("b")});
    b.send_json(ok.clone()).await;
    assert_eq!(a.recv_json().await, ok);
}

/// The token with one character of its payload changed.
fn tampered(token: &str) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    assert_eq!(parts.len(), 3, "a token has three parts: {token}");
    let payload = &mut parts[1];
    let last = payload.pop().expect("a non-empty payload");
    payload.push(if last == 'A' { 'B' } else { 'A' });
    parts.join(".")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_abrupt_drop_is_announced_and_a_rejoin_takes_the_seat_back() {
    let app = TestApp::builder().spawn().await;
    let (alice, mut bob) = app.seated_pair("kitchen").await;
    let token = alice.seat();

    alice.drop_without_close_frame();

    assert_eq!(
        bob.recv_json_within(PROMPTLY).await,
        reconnecting("kitchen", DEFAULT_GRACE_MS)
    );
    let mut alice = app.client("alice again").await;
    alice.rejoin_expecting("kitchen", &token, false, true).await;
    assert_eq!(bob.recv_json().await, reconnected("kitchen"));
    check_relay(&mut alice, &mut bob).await;
    check_relay(&mut bob, &mut alice).await;
    alice.expect_nothing().await;
    bob.expect_nothing().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_close_with_1001_holds_the_seat_for_a_rejoin() {
    let app = TestApp::builder().spawn().await;
    let (alice, mut bob) = app.seated_pair("kitchen").await;
    let token = alice.seat();

    // What a browser sends when the page reloads.
    alice.close_with(1001, "going away").await;

    assert_eq!(
        bob.recv_json_within(PROMPTLY).await,
        reconnecting("kitchen", DEFAULT_GRACE_MS)
    );
    let mut alice = app.client("alice reloaded").await;
    alice.rejoin_expecting("kitchen", &token, false, true).await;
    assert_eq!(bob.recv_json().await, reconnected("kitchen"));
    check_relay(&mut alice, &mut bob).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_close_with_1000_frees_the_seat_at_once_and_spends_the_token() {
    let app = TestApp::builder().spawn().await;
    let (alice, mut bob) = app.seated_pair("kitchen").await;
    let token = alice.seat();

    alice.close_with(1000, "hung up").await;

    assert_eq!(
        bob.recv_json_within(PROMPTLY).await,
        json!({"type": "bye", "room": "kitchen"})
    );
    let mut alice = app.client("alice again").await;
    alice
        .send_json(json!({"type": "rejoin", "room": "kitchen", "seat": token}))
        .await;
    alice.expect_error("seat_expired").await;
    bob.expect_nothing().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn when_the_grace_period_runs_out_the_partner_gets_bye_and_the_seat_is_free() {
    let app = TestApp::builder()
        .reconnect_grace_secs(1)
        .args(&["--metrics-token", TOKEN])
        .spawn()
        .await;
    let (alice, mut bob) = app.seated_pair("kitchen").await;
    let token = alice.seat();

    alice.reset_connection();

    assert_eq!(
        bob.recv_json_within(PROMPTLY).await,
        reconnecting("kitchen", 1000)
    );
    assert_eq!(
        bob.recv_json_within(PROMPTLY + Duration::from_secs(1))
            .await,
        json!({"type": "bye", "room": "kitchen"})
    );
    let metrics = app.metrics_with_token(TOKEN).await;
    assert_eq!(metrics.value("visavis_seat_grace_expired_total"), 1.0);
    // Too late: the seat is gone, and someone new may take it.
    let mut late = app.client("alice, too late").await;
    let reply = late.rejoin("kitchen", &token, false).await;
    assert_eq!(reply["code"], "seat_expired", "{reply}");
    let mut carol = app.client("carol").await;
    carol.join_expecting("kitchen", "joined").await;
    assert_eq!(
        without_seat(&bob.recv_json().await),
        json!({"type": "new_peer", "room": "kitchen"})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_third_client_gets_full_while_a_seat_is_held_and_relays_to_it_vanish() {
    let app = TestApp::builder().spawn().await;
    let (alice, mut bob) = app.seated_pair("kitchen").await;
    let token = alice.seat();
    alice.drop_without_close_frame();
    assert_eq!(
        bob.recv_json_within(PROMPTLY).await,
        reconnecting("kitchen", DEFAULT_GRACE_MS)
    );

    let mut carol = app.client("carol").await;
    carol.join_expecting("kitchen", "full").await;
    // Bob's candidates for the absent Alice go nowhere, and are no error.
    bob.send_json(json!({"type": "ice_candidate", "candidate": null}))
        .await;
    bob.expect_nothing().await;

    let mut alice = app.client("alice again").await;
    alice.rejoin_expecting("kitchen", &token, false, true).await;
    assert_eq!(bob.recv_json().await, reconnected("kitchen"));
    // Nothing stale is delivered to the returning seat.
    alice.expect_nothing().await;
    carol.join_expecting("kitchen", "full").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejoin_of_a_seat_whose_old_socket_still_looks_alive_takes_it_over() {
    let app = TestApp::builder().spawn().await;
    let (mut old_alice, mut bob) = app.seated_pair("kitchen").await;

    // The server has not noticed that the old socket is dead (here it is not, which shows the
    // takeover is clean): the new one takes the seat.
    let mut alice = app.client("alice on a new network").await;
    alice
        .rejoin_expecting("kitchen", &old_alice.seat(), false, true)
        .await;

    assert_eq!(bob.recv_json().await, reconnected("kitchen"));
    old_alice.expect_closed_within(PROMPTLY).await;
    // No bye for Bob: Alice never left.
    bob.expect_nothing().await;
    check_relay(&mut alice, &mut bob).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_rejoin_makes_the_partner_start_the_call_again() {
    let app = TestApp::builder().spawn().await;
    let (alice, mut bob) = app.seated_pair("kitchen").await;
    let token = alice.seat();
    let bobs_old_token = bob.seat();
    alice.drop_without_close_frame();
    bob.expect_type("peer_reconnecting").await;

    let mut alice = app.client("alice reloaded").await;
    alice.rejoin_expecting("kitchen", &token, true, true).await;

    let new_peer = bob.recv_json().await;
    assert_eq!(
        without_seat(&new_peer),
        json!({"type": "new_peer", "room": "kitchen"})
    );
    assert_ne!(bob.seat(), bobs_old_token, "new_peer carries a new token");
    check_relay(&mut bob, &mut alice).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_replaced_and_garbage_tokens_are_seat_invalid() {
    let app = TestApp::builder()
        .args(&["--metrics-token", TOKEN])
        .spawn()
        .await;
    let mut alice = app.client("alice").await;
    alice.join_expecting("kitchen", "created").await;
    let spent = alice.seat();
    let mut bob = app.client("bob").await;
    bob.join_expecting("kitchen", "joined").await;
    alice.expect_type("new_peer").await;
    let used = alice.seat();
    assert_ne!(spent, used, "new_peer rotates the caller's token");
    alice.drop_without_close_frame();
    bob.expect_type("peer_reconnecting").await;
    // Alice uses the newer token once: the one from `created`, issued before it, is spent.
    let mut alice = app.client("alice again").await;
    alice.rejoin_expecting("kitchen", &used, false, true).await;
    assert_eq!(bob.recv_json().await, reconnected("kitchen"));
    let current = alice.seat();
    alice.drop_without_close_frame();
    bob.expect_type("peer_reconnecting").await;

    let mut mallory = app.client("mallory").await;
    for token in [tampered(&current), spent.clone(), "not-a-token".to_owned()] {
        let reply = mallory.rejoin("kitchen", &token, false).await;
        assert_eq!(reply["type"], "error", "{reply}");
        assert_eq!(reply["code"], "seat_invalid", "{reply}");
    }
    // A valid token in another room is no better.
    let reply = mallory.rejoin("garden", &current, false).await;
    assert_eq!(reply["code"], "seat_invalid", "{reply}");
    // An oversized token is refused by the decoder.
    let reply = mallory.rejoin("kitchen", &"A".repeat(513), false).await;
    assert_eq!(reply["code"], "invalid_message", "{reply}");
    bob.expect_nothing().await;
    let metrics = app.metrics_with_token(TOKEN).await;
    assert_eq!(
        metrics.value("visavis_rejected_inputs_total{reason=\"seat_invalid\"}"),
        4.0
    );

    // None of it disturbed the seat: the current token still works.
    let mut alice = app.client("alice again").await;
    alice
        .rejoin_expecting("kitchen", &current, false, true)
        .await;
    assert_eq!(bob.recv_json().await, reconnected("kitchen"));
    // Once rejoined, a socket with a seat cannot rejoin again.
    let reply = alice.rejoin("kitchen", &alice.seat(), false).await;
    assert_eq!(reply["code"], "already_in_room", "{reply}");
}

/// The server issued a new token in `rejoined`, but the socket died before the browser read
/// it: the browser's next `rejoin` carries the token it has, and must still get its seat back.
#[tokio::test(flavor = "multi_thread")]
async fn a_rejoin_whose_answer_was_never_read_can_be_made_again_with_the_same_token() {
    let app = TestApp::builder().spawn().await;
    let (alice, mut bob) = app.seated_pair("kitchen").await;
    let token = alice.seat();
    alice.drop_without_close_frame();
    bob.expect_type("peer_reconnecting").await;

    let mut doomed = app.client("alice, whose socket dies").await;
    doomed
        .send_json(json!({"type": "rejoin", "room": "kitchen", "seat": token, "fresh": false}))
        .await;
    // Bob hearing `peer_reconnected` proves the server seated her and issued a new token.
    assert_eq!(bob.recv_json().await, reconnected("kitchen"));
    doomed.drop_without_close_frame();
    bob.expect_type("peer_reconnecting").await;

    let mut alice = app.client("alice again").await;
    alice.rejoin_expecting("kitchen", &token, false, true).await;
    assert_eq!(bob.recv_json().await, reconnected("kitchen"));
    check_relay(&mut alice, &mut bob).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reclaimed_seats_are_counted() {
    let app = TestApp::builder()
        .args(&["--metrics-token", TOKEN])
        .spawn()
        .await;
    let before = app.metrics_with_token(TOKEN).await;
    assert_eq!(before.value("visavis_seat_reclaims_total"), 0.0);
    let (alice, mut bob) = app.seated_pair("kitchen").await;
    let token = alice.seat();
    alice.drop_without_close_frame();
    bob.expect_type("peer_reconnecting").await;

    let mut alice = app.client("alice again").await;
    alice.rejoin_expecting("kitchen", &token, false, true).await;

    // Counted before the reply was sent.
    let after = app.metrics_with_token(TOKEN).await;
    assert_eq!(after.value("visavis_seat_reclaims_total"), 1.0);
    assert_eq!(
        after.value("visavis_disconnects_total{reason=\"lost\"}"),
        1.0,
        "{}",
        after.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn seats_survive_a_server_restart() {
    let data = tempfile::tempdir().expect("a temporary data directory");
    let first = TestApp::builder().data_dir(data.path()).spawn().await;
    let (mut alice, mut bob) = first.seated_pair("kitchen").await;
    let (alice_token, bob_token) = (alice.seat(), bob.seat());

    first.stop().await;
    alice.expect_closed_within(PROMPTLY).await;
    bob.expect_closed_within(PROMPTLY).await;

    // A new process on the same data directory: same secret, no memory of the room.
    let second = TestApp::builder().data_dir(data.path()).spawn().await;
    let mut alice = second.client("alice after the restart").await;
    alice
        .rejoin_expecting("kitchen", &alice_token, false, false)
        .await;
    // Bob's seat is reserved for him.
    let mut carol = second.client("carol").await;
    carol.join_expecting("kitchen", "full").await;
    let mut bob = second.client("bob after the restart").await;
    bob.rejoin_expecting("kitchen", &bob_token, false, true)
        .await;
    assert_eq!(alice.recv_json().await, reconnected("kitchen"));

    check_relay(&mut alice, &mut bob).await;
    check_relay(&mut bob, &mut alice).await;
    // The tokens used to rebuild are spent.
    let reply = carol.rejoin("kitchen", &alice_token, false).await;
    assert_eq!(reply["code"], "seat_invalid", "{reply}");
    alice
        .send_json(json!({"type": "bye", "room": "kitchen"}))
        .await;
    assert_eq!(
        bob.recv_json().await,
        json!({"type": "bye", "room": "kitchen"})
    );
    alice.expect_nothing().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_restart_an_unclaimed_reservation_ends_in_bye() {
    let data = tempfile::tempdir().expect("a temporary data directory");
    let first = TestApp::builder().data_dir(data.path()).spawn().await;
    let (alice, bob) = first.seated_pair("kitchen").await;
    let alice_token = alice.seat();
    drop((alice, bob));
    first.stop().await;

    let second = TestApp::builder()
        .data_dir(data.path())
        .reconnect_grace_secs(1)
        .spawn()
        .await;
    let mut alice = second.client("alice after the restart").await;
    alice
        .rejoin_expecting("kitchen", &alice_token, false, false)
        .await;
    // Bob never comes back.
    assert_eq!(
        alice
            .recv_json_within(PROMPTLY + Duration::from_secs(1))
            .await,
        json!({"type": "bye", "room": "kitchen"})
    );
}
