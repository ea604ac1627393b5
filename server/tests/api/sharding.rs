//! Rooms owned by several hub shards: many sockets joining one room at the same moment still
//! meet one owner (exactly one `created`, one `joined`, the rest `full`), a seated socket
//! cannot take a second seat in a room another shard owns, and a seat in a room of any shard
//! is reclaimed and relayed through as with one owner.

use futures_util::future::join_all;
use serde_json::json;
use visavis::hub::routing::RoomOwners;
use visavis_shared::RoomName;

use crate::helpers::{sample_candidate, spawn_app_with, without_seat, TestClient};

/// More shards than this machine's workers, so that several shards share a thread too.
const SHARDS: usize = 4;

/// Sockets racing for each room.
const RACERS: usize = 24;

fn owner(name: &str) -> usize {
    let room = RoomName::try_from(name).expect("test room names are valid");
    RoomOwners::new(SHARDS).owner(&room)
}

/// One room name per shard: `prefix-N` names picked so that every shard owns one.
fn one_room_per_shard(prefix: &str) -> Vec<String> {
    let mut rooms: Vec<Option<String>> = vec![None; SHARDS];
    for i in 0.. {
        let name = format!("{prefix}-{i}");
        let slot = &mut rooms[owner(&name)];
        if slot.is_none() {
            *slot = Some(name);
        }
        if rooms.iter().all(Option::is_some) {
            break;
        }
    }
    rooms.into_iter().flatten().collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn simultaneous_joins_of_one_room_meet_one_owner_on_every_shard() {
    let shards = SHARDS.to_string();
    let app = spawn_app_with(&["--hub-shards", &shards]).await;
    for round in 0..3 {
        for room in one_room_per_shard(&format!("race{round}")) {
            let clients = join_all((0..RACERS).map(|i| {
                let name = format!("racer{i}");
                async move { TestClient::connect(app.port, &name).await }
            }))
            .await;
            // Every socket sends its join before any answer is read.
            let replies = join_all(clients.into_iter().map(|mut client| {
                let room = room.clone();
                async move {
                    let reply = client.join(&room).await;
                    (client, reply)
                }
            }))
            .await;
            let kinds: Vec<&str> = replies
                .iter()
                .map(|(_, reply)| reply["type"].as_str().unwrap_or("?"))
                .collect();
            let count = |kind: &str| kinds.iter().filter(|k| **k == kind).count();
            assert_eq!(count("created"), 1, "{room}: {kinds:?}");
            assert_eq!(count("joined"), 1, "{room}: {kinds:?}");
            assert_eq!(count("full"), RACERS - 2, "{room}: {kinds:?}");
            // The two admitted are in one room: the creator hears new_peer, and relays flow
            // between exactly those two.
            let mut seated: Vec<(TestClient, String)> = replies
                .into_iter()
                .filter_map(|(client, reply)| {
                    let kind = reply["type"].as_str()?.to_owned();
                    (kind == "created" || kind == "joined").then_some((client, kind))
                })
                .collect();
            seated.sort_by(|a, b| a.1.cmp(&b.1));
            let (mut creator, _) = seated.remove(0);
            let (mut joiner, _) = seated.remove(0);
            creator.expect_type("new_peer").await;
            let candidate = json!({"type": "ice_candidate", "candidate": sample_candidate("race")});
            joiner.send_json(candidate.clone()).await;
            assert_eq!(creator.recv_json().await, candidate);
            creator.send_json(candidate.clone()).await;
            assert_eq!(joiner.recv_json().await, candidate);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_seated_socket_cannot_take_a_seat_in_a_room_of_another_shard() {
    let shards = SHARDS.to_string();
    let app = spawn_app_with(&["--hub-shards", &shards]).await;
    let rooms = one_room_per_shard("seat");
    let mut alice = app.client("alice").await;
    alice.join_expecting(&rooms[0], "created").await;
    for other in &rooms[1..] {
        let reply = alice.join(other).await;
        assert_eq!(reply["type"], "error", "{reply}");
        assert_eq!(reply["code"], "already_in_room", "{reply}");
        // The refused room stays free for others.
        let mut bob = app.client("bob").await;
        bob.join_expecting(other, "created").await;
        bob.close().await;
    }
    // After bye, a room of another shard is open to her, and the first is free again.
    alice
        .send_json(json!({"type": "bye", "room": rooms[0]}))
        .await;
    alice.join_expecting(&rooms[1], "created").await;
    let mut carol = app.client("carol").await;
    carol.join_expecting(&rooms[0], "created").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn many_joins_and_leaves_at_once_across_shards_leave_no_room_behind() {
    let shards = SHARDS.to_string();
    let app = spawn_app_with(&["--hub-shards", &shards, "--max-rooms", "8"]).await;
    // Eight rooms fill the limit, which counts the rooms of every shard together.
    let mut pairs = Vec::new();
    for i in 0..8 {
        pairs.push(app.seated_pair(&format!("limit-{i}")).await);
    }
    let mut late = app.client("late").await;
    late.send_json(json!({"type": "join", "room": "limit-overflow"}))
        .await;
    late.expect_error("server_busy").await;
    // Everyone leaves at once; every room closes, so the limit has room again.
    join_all(pairs.into_iter().map(|(a, b)| async move {
        a.close().await;
        b.close().await;
    }))
    .await;
    let mut reply = late.join("limit-overflow").await;
    for _ in 0..50 {
        if reply["type"] == "created" {
            break;
        }
        // The last closes may still be on their way to their shards: poll the state, briefly.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        reply = late.join("limit-overflow").await;
    }
    assert_eq!(
        without_seat(&reply),
        json!({"type": "created", "room": "limit-overflow"})
    );
}
