//! Two people joining one room at the same moment through two nodes, many times over: the
//! room is never split in two halves, whoever's claim came first.

use serde_json::json;

use crate::harness::Cluster;
use crate::helpers::{sample_sdp, TestClient};

#[tokio::test(flavor = "multi_thread")]
async fn simultaneous_joins_through_two_nodes_never_split_a_room() {
    const ROUNDS: usize = 60;
    let cluster = Cluster::start(2).await;
    let mut first_wins = [0usize; 2];
    for round in 0..ROUNDS {
        let room = format!("race-{round}");
        let mut left = TestClient::connect(cluster.port(0), &format!("left of {room}")).await;
        let mut right = TestClient::connect(cluster.port(1), &format!("right of {room}")).await;
        let join = json!({"type": "join", "room": room});
        tokio::join!(left.send_json(join.clone()), right.send_json(join));
        let (left_reply, right_reply) = tokio::join!(left.recv_json(), right.recv_json());
        let kinds = (left_reply["type"].clone(), right_reply["type"].clone());
        let (creator, joiner) = match (kinds.0.as_str(), kinds.1.as_str()) {
            (Some("created"), Some("joined")) => {
                first_wins[0] += 1;
                (&mut left, &mut right)
            }
            (Some("joined"), Some("created")) => {
                first_wins[1] += 1;
                (&mut right, &mut left)
            }
            _ => panic!("round {round}: a split or refused room: {left_reply} / {right_reply}"),
        };
        creator.expect_type("new_peer").await;
        let invite = json!({"type": "invite", "sdp": sample_sdp(&room)});
        creator.send_json(invite.clone()).await;
        assert_eq!(joiner.recv_json().await, invite, "round {round}");
        let ok = json!({"type": "ok", "sdp": sample_sdp("answer")});
        joiner.send_json(ok.clone()).await;
        assert_eq!(creator.recv_json().await, ok, "round {round}");
    }
    eprintln!(
        "created first through n0: {}, through n1: {}",
        first_wins[0], first_wins[1]
    );
}
