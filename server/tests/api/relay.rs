//! Relaying `invite`, `ok` and `ice_candidate`: unchanged, to the other peer of the sender's room
//! only.

use serde_json::{json, Value};

use crate::helpers::{sample_candidate, sample_sdp, spawn_app};

#[tokio::test(flavor = "multi_thread")]
async fn an_invite_is_relayed_unchanged_to_the_other_peer_only() {
    let app = spawn_app().await;
    let (mut alice, mut bob) = app.seated_pair("kitchen").await;
    // Unicode, quotes and backslashes must survive the trip too.
    let sdp = format!(
        "{}a=x-note:caf\u{e9} \u{2713} \"quoted\" back\\slash\ttab\r\n",
        sample_sdp("alice")
    );
    let invite = json!({"type": "invite", "sdp": sdp});

    alice.send_json(invite.clone()).await;

    assert_eq!(bob.recv_json().await, invite);
    alice.expect_nothing().await;
    bob.expect_nothing().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ok_is_relayed_unchanged_back_to_the_caller() {
    let app = spawn_app().await;
    let (mut alice, mut bob) = app.seated_pair("kitchen").await;
    let invite = json!({"type": "invite", "sdp": sample_sdp("alice")});
    alice.send_json(invite.clone()).await;
    assert_eq!(bob.recv_json().await, invite);

    let ok = json!({"type": "ok", "sdp": sample_sdp("bob")});
    bob.send_json(ok.clone()).await;

    assert_eq!(alice.recv_json().await, ok);
    bob.expect_nothing().await;
    alice.expect_nothing().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ice_candidates_are_relayed_unchanged_in_both_directions() {
    let app = spawn_app().await;
    let (mut alice, mut bob) = app.seated_pair("kitchen").await;
    let candidates: [Value; 3] = [
        sample_candidate("alice"),
        // What a browser gives for a candidate without a mid or fragment.
        json!({
            "candidate": "candidate:2 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active",
            "sdpMid": null,
            "sdpMLineIndex": 1,
            "usernameFragment": null,
        }),
        // The end of candidates.
        Value::Null,
    ];

    for candidate in candidates {
        let message = json!({"type": "ice_candidate", "candidate": candidate});

        alice.send_json(message.clone()).await;
        assert_eq!(bob.recv_json().await, message, "alice to bob");
        alice.expect_nothing().await;

        bob.send_json(message.clone()).await;
        assert_eq!(alice.recv_json().await, message, "bob to alice");
        bob.expect_nothing().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn relayed_messages_never_reach_another_room() {
    let app = spawn_app().await;
    let (mut alice, mut bob) = app.seated_pair("kitchen").await;
    let (mut carol, mut dave) = app.seated_pair("garden").await;

    let kitchen_invite = json!({"type": "invite", "sdp": sample_sdp("alice")});
    let garden_invite = json!({"type": "invite", "sdp": sample_sdp("carol")});
    alice.send_json(kitchen_invite.clone()).await;
    carol.send_json(garden_invite.clone()).await;
    assert_eq!(bob.recv_json().await, kitchen_invite);
    assert_eq!(dave.recv_json().await, garden_invite);

    let kitchen_ok = json!({"type": "ok", "sdp": sample_sdp("bob")});
    let garden_ok = json!({"type": "ok", "sdp": sample_sdp("dave")});
    bob.send_json(kitchen_ok.clone()).await;
    dave.send_json(garden_ok.clone()).await;
    assert_eq!(alice.recv_json().await, kitchen_ok);
    assert_eq!(carol.recv_json().await, garden_ok);

    let kitchen_candidate = json!({"type": "ice_candidate", "candidate": sample_candidate("bob")});
    let garden_candidate = json!({"type": "ice_candidate", "candidate": sample_candidate("dave")});
    bob.send_json(kitchen_candidate.clone()).await;
    dave.send_json(garden_candidate.clone()).await;
    assert_eq!(alice.recv_json().await, kitchen_candidate);
    assert_eq!(carol.recv_json().await, garden_candidate);

    alice.expect_nothing().await;
    bob.expect_nothing().await;
    carol.expect_nothing().await;
    dave.expect_nothing().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn relayed_messages_arrive_in_the_order_they_were_sent() {
    let app = spawn_app().await;
    let (mut alice, mut bob) = app.seated_pair("kitchen").await;
    let mut sent = vec![json!({"type": "invite", "sdp": sample_sdp("alice")})];
    for i in 0..30 {
        sent.push(
            json!({"type": "ice_candidate", "candidate": sample_candidate(&format!("c{i}"))}),
        );
    }
    sent.push(json!({"type": "ice_candidate", "candidate": null}));

    for message in &sent {
        alice.send_json(message.clone()).await;
    }

    for (i, message) in sent.iter().enumerate() {
        assert_eq!(&bob.recv_json().await, message, "message {i} out of order");
    }
    bob.expect_nothing().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bursts_both_ways_arrive_whole_and_in_order_around_a_non_relayed_message() {
    let app = spawn_app().await;
    let (mut alice, mut bob) = app.seated_pair("kitchen").await;
    let candidate = |who: &str, i: usize| json!({"type": "ice_candidate", "candidate": sample_candidate(&format!("{who}{i}"))});

    // Both send at once; in the middle, a message the room rules answer themselves (a second
    // join), so the relays after it must wait their turn behind it, then go on as before.
    for i in 0..150 {
        alice.send_json(candidate("a", i)).await;
        bob.send_json(candidate("b", i)).await;
        if i == 75 {
            alice
                .send_json(json!({"type": "join", "room": "kitchen"}))
                .await;
        }
    }

    for i in 0..150 {
        assert_eq!(
            bob.recv_json().await,
            candidate("a", i),
            "alice's message {i}"
        );
    }
    // Alice's own answer comes somewhere among Bob's messages: they are sent independently.
    let mut from_bob = Vec::new();
    let mut answers = Vec::new();
    while from_bob.len() < 150 {
        let message = alice.recv_json().await;
        if message["type"] == "error" {
            answers.push(message["code"].clone());
        } else {
            from_bob.push(message);
        }
    }
    for (i, message) in from_bob.iter().enumerate() {
        assert_eq!(message, &candidate("b", i), "bob's message {i}");
    }
    if answers.is_empty() {
        answers.push(alice.expect_error("already_in_room").await["code"].clone());
    }
    assert_eq!(answers, vec![json!("already_in_room")]);
    alice.expect_nothing().await;
    bob.expect_nothing().await;
}
