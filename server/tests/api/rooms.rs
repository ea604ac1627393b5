//! Taking seats: `created`, `joined`, `new_peer`, `full`, and the one-room-per-socket rule.

use serde_json::{json, Value};

use crate::helpers::{sample_candidate, sample_sdp, spawn_app, without_seat};

#[tokio::test(flavor = "multi_thread")]
async fn the_first_join_of_a_room_gets_created() {
    let app = spawn_app().await;
    let mut alice = app.client("alice").await;

    let reply = alice.join("kitchen").await;

    assert_eq!(
        without_seat(&reply),
        json!({"type": "created", "room": "kitchen"})
    );
    alice.expect_nothing().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_second_join_gets_joined_and_the_first_peer_gets_new_peer() {
    let app = spawn_app().await;
    let mut alice = app.client("alice").await;
    let mut bob = app.client("bob").await;
    alice.join_expecting("kitchen", "created").await;

    let reply = bob.join("kitchen").await;

    assert_eq!(
        without_seat(&reply),
        json!({"type": "joined", "room": "kitchen"})
    );
    assert_eq!(
        without_seat(&alice.recv_json().await),
        json!({"type": "new_peer", "room": "kitchen"})
    );
    bob.expect_nothing().await;
    alice.expect_nothing().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_third_peer_gets_full_and_is_not_admitted() {
    let app = spawn_app().await;
    let (mut alice, mut bob) = app.seated_pair("kitchen").await;
    let mut carol = app.client("carol").await;

    let reply = carol.join("kitchen").await;

    assert_eq!(reply, json!({"type": "full", "room": "kitchen"}));
    alice.expect_nothing().await;
    bob.expect_nothing().await;

    // Carol has no seat: her relays are refused and reach no one.
    carol
        .send_json(json!({"type": "invite", "sdp": sample_sdp("carol")}))
        .await;
    carol.expect_error("not_in_room").await;
    alice.expect_nothing().await;
    bob.expect_nothing().await;

    // And the seated peers' relays do not reach her.
    let invite = json!({"type": "invite", "sdp": sample_sdp("alice")});
    alice.send_json(invite.clone()).await;
    assert_eq!(bob.recv_json().await, invite);
    carol.expect_nothing().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_peer_turned_away_as_full_can_join_another_room() {
    let app = spawn_app().await;
    let (_alice, _bob) = app.seated_pair("kitchen").await;
    let mut carol = app.client("carol").await;
    carol.join_expecting("kitchen", "full").await;

    carol.join_expecting("garden", "created").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_join_while_seated_gets_already_in_room_and_changes_nothing() {
    let app = spawn_app().await;
    let (mut alice, mut bob) = app.seated_pair("kitchen").await;

    alice
        .send_json(json!({"type": "join", "room": "garden"}))
        .await;
    alice.expect_error("already_in_room").await;
    alice
        .send_json(json!({"type": "join", "room": "kitchen"}))
        .await;
    alice.expect_error("already_in_room").await;
    bob.expect_nothing().await;

    // Alice is still Bob's peer.
    let invite = json!({"type": "invite", "sdp": sample_sdp("alice")});
    alice.send_json(invite.clone()).await;
    assert_eq!(bob.recv_json().await, invite);

    // She took no seat in "garden", and "kitchen" still has its two people.
    let mut dave = app.client("dave").await;
    dave.join_expecting("garden", "created").await;
    let mut erin = app.client("erin").await;
    erin.join_expecting("kitchen", "full").await;
    alice.expect_nothing().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn joining_the_same_room_twice_does_not_take_two_seats() {
    let app = spawn_app().await;
    let mut alice = app.client("alice").await;
    alice.join_expecting("kitchen", "created").await;

    alice
        .send_json(json!({"type": "join", "room": "kitchen"}))
        .await;
    alice.expect_error("already_in_room").await;

    // The room still has one free seat.
    let mut bob = app.client("bob").await;
    bob.join_expecting("kitchen", "joined").await;
    assert_eq!(
        without_seat(&alice.recv_json().await),
        json!({"type": "new_peer", "room": "kitchen"})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn relays_before_join_get_not_in_room() {
    let app = spawn_app().await;
    let mut alice = app.client("alice").await;
    // Someone is waiting in a room, to show that nothing leaks to a seated stranger.
    let mut bob = app.client("bob").await;
    bob.join_expecting("kitchen", "created").await;

    let relays: [Value; 4] = [
        json!({"type": "invite", "sdp": sample_sdp("alice")}),
        json!({"type": "ok", "sdp": sample_sdp("alice")}),
        json!({"type": "ice_candidate", "candidate": sample_candidate("alice")}),
        json!({"type": "ice_candidate", "candidate": null}),
    ];
    for relay in relays {
        alice.send_json(relay.clone()).await;
        let error = alice.recv_json().await;
        assert_eq!(error["type"], "error", "reply to {relay}: {error}");
        assert_eq!(error["code"], "not_in_room", "reply to {relay}: {error}");
        alice.expect_nothing().await;
    }
    bob.expect_nothing().await;

    // The socket is still usable.
    alice.join_expecting("kitchen", "joined").await;
    assert_eq!(
        without_seat(&bob.recv_json().await),
        json!({"type": "new_peer", "room": "kitchen"})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rooms_with_different_names_are_independent() {
    let app = spawn_app().await;
    let mut alice = app.client("alice").await;
    let mut bob = app.client("bob").await;

    alice.join_expecting("kitchen", "created").await;
    bob.join_expecting("garden", "created").await;

    alice.expect_nothing().await;
    bob.expect_nothing().await;
}
