//! The lab's rules when the two people of a room sit on different nodes: created, joined,
//! new_peer, full, relay both ways and to no one else, bye, and a closed socket as bye; and
//! 200 rooms spread over three nodes without cross-talk.

use serde_json::json;

use crate::harness::Cluster;
use crate::helpers::{sample_candidate, sample_sdp, without_seat, TestClient};

#[tokio::test(flavor = "multi_thread")]
async fn two_people_on_two_nodes_meet_relay_and_leave_by_the_rules() {
    let cluster = Cluster::start(3).await;
    let (a, b, c) = (cluster.port(0), cluster.port(1), cluster.port(2));

    let mut alice = TestClient::connect(a, "alice on n0").await;
    let mut bob = TestClient::connect(b, "bob on n1").await;
    alice.join_expecting("kitchen", "created").await;
    bob.join_expecting("kitchen", "joined").await;
    let new_peer = alice.expect_type("new_peer").await;
    assert_eq!(
        without_seat(&new_peer),
        json!({"type": "new_peer", "room": "kitchen"})
    );

    // A third person, through the third node and through the owner: full, both times.
    let mut carol = TestClient::connect(c, "carol on n2").await;
    carol.join_expecting("kitchen", "full").await;
    let mut dave = TestClient::connect(a, "dave on n0").await;
    dave.join_expecting("kitchen", "full").await;
    // Someone in another room, on the node of bob, hears nothing of kitchen.
    let mut erin = TestClient::connect(b, "erin on n1").await;
    erin.join_expecting("garden", "created").await;

    // Relay both ways: owner -> remote, remote -> owner.
    let invite = json!({"type": "invite", "sdp": sample_sdp("alice")});
    alice.send_json(invite.clone()).await;
    assert_eq!(bob.recv_json().await, invite);
    let ok = json!({"type": "ok", "sdp": sample_sdp("bob")});
    bob.send_json(ok.clone()).await;
    assert_eq!(alice.recv_json().await, ok);
    let candidate = json!({"type": "ice_candidate", "candidate": sample_candidate("a")});
    alice.send_json(candidate.clone()).await;
    assert_eq!(bob.recv_json().await, candidate);
    let candidate = json!({"type": "ice_candidate", "candidate": sample_candidate("b")});
    bob.send_json(candidate.clone()).await;
    assert_eq!(alice.recv_json().await, candidate);
    // A relay from someone without a seat is refused where they are.
    carol
        .send_json(json!({"type": "invite", "sdp": sample_sdp("carol")}))
        .await;
    carol.expect_error("not_in_room").await;
    for quiet in [&mut alice, &mut bob, &mut dave, &mut erin] {
        quiet.expect_nothing().await;
    }

    // A second join from a seated remote connection is answered by the owner's rules.
    bob.send_json(json!({"type": "join", "room": "garden"}))
        .await;
    bob.expect_error("already_in_room").await;

    // bye from the remote side reaches the owner's side; the seat is free again.
    bob.send_json(json!({"type": "bye", "room": "kitchen"}))
        .await;
    assert_eq!(
        alice.recv_json().await,
        json!({"type": "bye", "room": "kitchen"})
    );
    carol.join_expecting("kitchen", "joined").await;
    alice.expect_type("new_peer").await;
    let invite = json!({"type": "invite", "sdp": sample_sdp("carol")});
    carol.send_json(invite.clone()).await;
    assert_eq!(alice.recv_json().await, invite);
    bob.expect_nothing().await;

    // A socket closed cleanly on the remote node counts as bye.
    carol.close().await;
    assert_eq!(
        alice.recv_json().await,
        json!({"type": "bye", "room": "kitchen"})
    );
    // And a closed socket on the owner's side reaches the remote node as bye.
    bob.join_expecting("kitchen", "joined").await;
    alice.expect_type("new_peer").await;
    alice.close().await;
    assert_eq!(
        bob.recv_json().await,
        json!({"type": "bye", "room": "kitchen"})
    );
    erin.expect_nothing().await;
    dave.expect_nothing().await;

    let metrics = cluster.nodes[0].metrics().await;
    assert!(
        metrics.contains("visavis_cluster_node_info{node=\"n0\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("visavis_cluster_redis_connected 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_rooms_over_three_nodes_keep_to_themselves() {
    const ROOMS: usize = 200;
    let cluster = Cluster::start(3).await;
    let mut pairs = Vec::with_capacity(ROOMS);
    for i in 0..ROOMS {
        let room = format!("room-{i}");
        let mut caller =
            TestClient::connect(cluster.port(i % 3), &format!("caller of {room}")).await;
        let mut callee =
            TestClient::connect(cluster.port((i + 1) % 3), &format!("callee of {room}")).await;
        caller.join_expecting(&room, "created").await;
        callee.join_expecting(&room, "joined").await;
        caller.expect_type("new_peer").await;
        pairs.push((room, caller, callee));
    }
    for (room, caller, callee) in &mut pairs {
        caller
            .send_json(json!({"type": "invite", "sdp": sample_sdp(room)}))
            .await;
        callee
            .send_json(json!({"type": "ok", "sdp": sample_sdp(&format!("{room}-answer"))}))
            .await;
    }
    for (room, caller, callee) in &mut pairs {
        assert_eq!(
            callee.recv_json().await,
            json!({"type": "invite", "sdp": sample_sdp(room)})
        );
        assert_eq!(
            caller.recv_json().await,
            json!({"type": "ok", "sdp": sample_sdp(&format!("{room}-answer"))})
        );
    }
    // Nothing more for anyone: no message went to a second room.
    for (_, caller, callee) in &mut pairs {
        caller
            .expect_silence(std::time::Duration::from_millis(5))
            .await;
        callee
            .expect_silence(std::time::Duration::from_millis(5))
            .await;
    }
    let mut forwarded = 0.0;
    for node in &cluster.nodes {
        let metrics = node.metrics().await;
        forwarded += metrics
            .lines()
            .find_map(|line| line.strip_prefix("visavis_cluster_messages_sent_total "))
            .and_then(|value| value.trim().parse::<f64>().ok())
            .expect("the forwarded counter");
    }
    // Every room has one remote side: at least its join, answer and both relays crossed.
    assert!(forwarded >= (ROOMS * 4) as f64, "forwarded {forwarded}");
}
