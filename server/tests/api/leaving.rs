//! Leaving a room: `bye` and a clean close tell the other peer and free the seat at once; a lost
//! connection tells the other peer at once that it is reconnecting, and frees the seat (with
//! `bye`) when the grace period runs out. Reclaiming a seat is tested in `reconnect.rs`.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{sample_sdp, spawn_app, without_seat, TestApp, TestClient};

/// A departure noticed without a message must still be told well before the heartbeat (10 s)
/// would notice it.
const PROMPTLY: Duration = Duration::from_secs(3);

/// The grace period of the tests of lost connections, in seconds: short, to keep them fast,
/// but long enough that a newcomer can connect and join within it on a loaded machine (with
/// 1 s, a full CI run once saw the seat freed before the newcomer's `join` arrived).
const GRACE_SECS: u64 = 4;

#[tokio::test(flavor = "multi_thread")]
async fn bye_tells_the_other_peer() {
    let app = spawn_app().await;
    let (mut alice, mut bob) = app.seated_pair("kitchen").await;

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
async fn the_answering_bye_is_not_forwarded_and_gets_no_error() {
    let app = spawn_app().await;
    let (mut alice, mut bob) = app.seated_pair("kitchen").await;
    alice
        .send_json(json!({"type": "bye", "room": "kitchen"}))
        .await;
    bob.expect_type("bye").await;

    bob.send_json(json!({"type": "bye", "room": "kitchen"}))
        .await;

    bob.expect_nothing().await;
    alice.expect_nothing().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bye_from_a_socket_in_no_room_is_ignored_silently() {
    let app = spawn_app().await;
    let mut alice = app.client("alice").await;
    alice.join_expecting("kitchen", "created").await;
    let mut stranger = app.client("stranger").await;

    stranger
        .send_json(json!({"type": "bye", "room": "kitchen"}))
        .await;

    stranger.expect_nothing().await;
    // A stranger cannot hang up on someone else's room.
    alice.expect_nothing().await;
    stranger.join_expecting("kitchen", "joined").await;
    alice.expect_type("new_peer").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn after_both_leave_the_room_is_free_again() {
    let app = spawn_app().await;
    let (mut alice, mut bob) = app.seated_pair("kitchen").await;
    alice
        .send_json(json!({"type": "bye", "room": "kitchen"}))
        .await;
    bob.expect_type("bye").await;
    bob.send_json(json!({"type": "bye", "room": "kitchen"}))
        .await;
    bob.expect_nothing().await;

    let mut carol = app.client("carol").await;
    carol.join_expecting("kitchen", "created").await;
    let mut dave = app.client("dave").await;
    dave.join_expecting("kitchen", "joined").await;
    carol.expect_type("new_peer").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn after_one_leaves_the_remaining_peer_keeps_its_seat() {
    let app = spawn_app().await;
    let (mut alice, mut bob) = app.seated_pair("kitchen").await;
    alice
        .send_json(json!({"type": "bye", "room": "kitchen"}))
        .await;
    bob.expect_type("bye").await;

    let mut carol = app.client("carol").await;
    carol.join_expecting("kitchen", "joined").await;

    assert_eq!(
        without_seat(&bob.recv_json().await),
        json!({"type": "new_peer", "room": "kitchen"})
    );
    let invite = json!({"type": "invite", "sdp": sample_sdp("bob")});
    bob.send_json(invite.clone()).await;
    assert_eq!(carol.recv_json().await, invite);
    alice.expect_nothing().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_peer_that_said_bye_is_in_no_room_and_may_join_again() {
    let app = spawn_app().await;
    let (mut alice, mut bob) = app.seated_pair("kitchen").await;
    alice
        .send_json(json!({"type": "bye", "room": "kitchen"}))
        .await;
    bob.expect_type("bye").await;

    alice
        .send_json(json!({"type": "invite", "sdp": sample_sdp("alice")}))
        .await;
    alice.expect_error("not_in_room").await;
    bob.expect_nothing().await;

    alice.join_expecting("kitchen", "joined").await;
    bob.expect_type("new_peer").await;
}

/// How Alice's connection ends, and so what Bob must hear.
#[derive(Clone, Copy, PartialEq)]
enum Ending {
    /// A goodbye: `bye` at once.
    Clean,
    /// Possibly an accident: `peer_reconnecting` at once, `bye` after the grace period.
    Unclean,
}

/// Seats Alice and Bob, lets `leave` end Alice's connection, and checks that Bob is told
/// promptly, per `ending`, and that the seat is free for a newcomer afterwards.
async fn check_a_departed_peer_is_told_and_its_seat_freed(
    ending: Ending,
    leave: fn(TestClient) -> LeaveFuture,
) {
    let app = TestApp::builder()
        .reconnect_grace_secs(GRACE_SECS)
        .spawn()
        .await;
    let (alice, mut bob) = app.seated_pair("kitchen").await;

    leave(alice).await;

    if ending == Ending::Unclean {
        assert_eq!(
            bob.recv_json_within(PROMPTLY).await,
            json!({"type": "peer_reconnecting", "room": "kitchen", "grace_ms": GRACE_SECS * 1000})
        );
        // Held: a newcomer finds the room full.
        let mut early = app.client("early").await;
        early.join_expecting("kitchen", "full").await;
    }
    let limit = match ending {
        Ending::Clean => PROMPTLY,
        Ending::Unclean => PROMPTLY + Duration::from_secs(GRACE_SECS),
    };
    assert_eq!(
        bob.recv_json_within(limit).await,
        json!({"type": "bye", "room": "kitchen"})
    );
    let mut carol = app.client("carol").await;
    carol.join_expecting("kitchen", "joined").await;
    assert_eq!(
        without_seat(&bob.recv_json().await),
        json!({"type": "new_peer", "room": "kitchen"})
    );
    let invite = json!({"type": "invite", "sdp": sample_sdp("bob")});
    bob.send_json(invite.clone()).await;
    assert_eq!(carol.recv_json().await, invite);
}

type LeaveFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

#[tokio::test(flavor = "multi_thread")]
async fn closing_a_socket_cleanly_tells_the_other_peer_and_frees_the_seat() {
    check_a_departed_peer_is_told_and_its_seat_freed(Ending::Clean, |alice| {
        Box::pin(alice.close())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn closing_with_code_1000_tells_the_other_peer_and_frees_the_seat_at_once() {
    check_a_departed_peer_is_told_and_its_seat_freed(Ending::Clean, |alice| {
        Box::pin(alice.close_with(1000, "hang up"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn closing_with_code_1001_holds_the_seat_for_the_grace_period() {
    check_a_departed_peer_is_told_and_its_seat_freed(Ending::Unclean, |alice| {
        Box::pin(alice.close_with(1001, "going away"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_a_connection_without_a_close_frame_holds_the_seat_then_frees_it() {
    check_a_departed_peer_is_told_and_its_seat_freed(Ending::Unclean, |alice| {
        alice.drop_without_close_frame();
        Box::pin(async {})
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn resetting_a_connection_holds_the_seat_then_frees_it() {
    check_a_departed_peer_is_told_and_its_seat_freed(Ending::Unclean, |alice| {
        alice.reset_connection();
        Box::pin(async {})
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lone_peer_closing_its_socket_frees_the_room() {
    let app = spawn_app().await;
    let mut alice = app.client("alice").await;
    alice.join_expecting("kitchen", "created").await;

    alice.close().await;

    // The server handles the close on its own schedule, so Bob may still meet Alice's seat;
    // then he must be told she left, promptly. Either way he ends up alone in the room.
    let mut bob = app.client("bob").await;
    let reply = bob.join("kitchen").await;
    if reply["type"] == "joined" {
        assert_eq!(
            bob.recv_json_within(PROMPTLY).await,
            json!({"type": "bye", "room": "kitchen"}),
            "bob met alice's seat after her socket closed, and was not told she left"
        );
    } else {
        assert_eq!(
            without_seat(&reply),
            json!({"type": "created", "room": "kitchen"})
        );
    }
    let mut carol = app.client("carol").await;
    carol.join_expecting("kitchen", "joined").await;
    bob.expect_type("new_peer").await;
}

// --- `leaving`: a page going away holds its seat only for the short leaving grace ---

/// The leaving grace of these tests, in seconds, against a full grace period long enough
/// that the two cannot be mistaken for each other. Both leave a loaded machine seconds to
/// connect and send its `rejoin` or `join` within them.
const LEAVING_GRACE_SECS: u64 = 2;
const FULL_GRACE_SECS: u64 = 10;

async fn app_with_both_graces() -> TestApp {
    TestApp::builder()
        .reconnect_grace_secs(FULL_GRACE_SECS)
        .args(&["--leaving-grace-secs", &LEAVING_GRACE_SECS.to_string()])
        .spawn()
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn leaving_then_closing_with_1001_frees_the_seat_after_the_leaving_grace() {
    let app = app_with_both_graces().await;
    let (mut alice, mut bob) = app.seated_pair("kitchen").await;

    // What a closing tab sends from `pagehide`, then its socket closes as the page goes.
    alice.send_json(json!({"type": "leaving"})).await;
    alice.close_with(1001, "going away").await;

    assert_eq!(
        bob.recv_json_within(PROMPTLY).await,
        json!({"type": "peer_reconnecting", "room": "kitchen", "grace_ms": LEAVING_GRACE_SECS * 1000})
    );
    // Well before the full grace period would end.
    assert_eq!(
        bob.recv_json_within(PROMPTLY + Duration::from_secs(LEAVING_GRACE_SECS))
            .await,
        json!({"type": "bye", "room": "kitchen"})
    );
    let mut carol = app.client("carol").await;
    carol.join_expecting("kitchen", "joined").await;
    bob.expect_type("new_peer").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_after_leaving_takes_the_seat_back_within_the_leaving_grace() {
    let app = app_with_both_graces().await;
    let (mut alice, mut bob) = app.seated_pair("kitchen").await;
    let token = alice.seat();

    alice.send_json(json!({"type": "leaving"})).await;
    alice.close_with(1001, "going away").await;
    bob.expect_type("peer_reconnecting").await;
    let mut alice = app.client("alice reloaded").await;
    alice.rejoin_expecting("kitchen", &token, true, true).await;

    assert_eq!(
        without_seat(&bob.recv_json().await),
        json!({"type": "new_peer", "room": "kitchen"})
    );
    // The leaving grace runs out with the seat taken back: nobody hears a bye.
    bob.expect_silence(Duration::from_secs(LEAVING_GRACE_SECS + 1))
        .await;
    alice.expect_nothing().await;
    let invite = json!({"type": "invite", "sdp": sample_sdp("bob")});
    bob.send_json(invite.clone()).await;
    assert_eq!(alice.recv_json().await, invite);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_1001_close_without_leaving_still_holds_the_full_grace_period() {
    let app = app_with_both_graces().await;
    let (alice, mut bob) = app.seated_pair("kitchen").await;

    // A lost network, or a browser that never ran `pagehide`.
    alice.close_with(1001, "going away").await;

    assert_eq!(
        bob.recv_json_within(PROMPTLY).await,
        json!({"type": "peer_reconnecting", "room": "kitchen", "grace_ms": FULL_GRACE_SECS * 1000})
    );
    // Past the leaving grace, the seat is still held.
    bob.expect_silence(Duration::from_secs(LEAVING_GRACE_SECS + 2))
        .await;
    let mut early = app.client("early").await;
    early.join_expecting("kitchen", "full").await;
    assert_eq!(
        bob.recv_json_within(PROMPTLY + Duration::from_secs(FULL_GRACE_SECS))
            .await,
        json!({"type": "bye", "room": "kitchen"})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn leaving_is_never_answered_seated_or_not() {
    let app = spawn_app().await;
    let mut stranger = app.client("stranger").await;
    stranger.send_json(json!({"type": "leaving"})).await;
    stranger.expect_nothing().await;

    let (mut alice, mut bob) = app.seated_pair("kitchen").await;
    alice.send_json(json!({"type": "leaving"})).await;
    alice.expect_nothing().await;
    bob.expect_nothing().await;
    // Still seated: the call goes on until the socket actually ends.
    let invite = json!({"type": "invite", "sdp": sample_sdp("alice")});
    alice.send_json(invite.clone()).await;
    assert_eq!(bob.recv_json().await, invite);
}
