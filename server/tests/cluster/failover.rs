//! A node killed (SIGKILL) in the middle of a call: both people rejoin through the nodes that
//! are left, with their seat tokens, and relay again; whether the dead node owned the room
//! or only held one of the sockets.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{check_relay, rejoined, Cluster};
use crate::helpers::{without_seat, TestClient};

/// How long a killed node's sockets may take to be noticed and dropped on the other nodes:
/// its liveness key expires within 3 s, and peers look once a second.
const DETECTED: Duration = Duration::from_secs(10);

/// Rejoins through `port` until the reply is not `server_busy` (a room whose owner just died
/// may need its takeover to become possible), and returns it.
async fn rejoin_through(port: u16, name: &str, room: &str, token: &str) -> (TestClient, Value) {
    let mut client = TestClient::connect(port, name).await;
    let deadline = tokio::time::Instant::now() + DETECTED;
    loop {
        let reply = client.rejoin(room, token, false).await;
        if reply["code"] != "server_busy" || tokio::time::Instant::now() > deadline {
            return (client, reply);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Alice on n0 (which then owns "kitchen") and Bob on n1, seated together.
async fn seated_across(cluster: &Cluster) -> (TestClient, TestClient) {
    let mut alice = TestClient::connect(cluster.port(0), "alice on n0").await;
    let mut bob = TestClient::connect(cluster.port(1), "bob on n1").await;
    alice.join_expecting("kitchen", "created").await;
    bob.join_expecting("kitchen", "joined").await;
    alice.expect_type("new_peer").await;
    (alice, bob)
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_the_owner_mid_call_both_rejoin_through_the_survivors() {
    let mut cluster = Cluster::start(3).await;
    let (mut alice, mut bob) = seated_across(&cluster).await;
    check_relay(&mut alice, &mut bob).await;
    let (alice_token, bob_token) = (alice.seat(), bob.seat());

    // n0 owns the room and holds alice's socket.
    cluster.nodes[0].kill();
    alice.expect_closed_within(Duration::from_secs(3)).await;
    // n1 notices its peer is gone and closes bob's socket as lost.
    bob.expect_closed_within(DETECTED).await;

    let (mut alice, reply) =
        rejoin_through(cluster.port(2), "alice on n2", "kitchen", &alice_token).await;
    assert_eq!(without_seat(&reply), rejoined("kitchen", false), "{reply}");
    let (mut bob, reply) =
        rejoin_through(cluster.port(1), "bob on n1", "kitchen", &bob_token).await;
    assert_eq!(without_seat(&reply), rejoined("kitchen", true), "{reply}");
    assert_eq!(
        alice.recv_json().await,
        json!({"type": "peer_reconnected", "room": "kitchen"})
    );
    check_relay(&mut alice, &mut bob).await;
    check_relay(&mut bob, &mut alice).await;
    alice.expect_nothing().await;
    bob.expect_nothing().await;
    let takeovers = cluster.nodes[2]
        .metric("visavis_cluster_takeovers_total")
        .await;
    assert_eq!(takeovers, 1.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_a_node_that_only_held_a_socket_the_owner_keeps_the_room() {
    let mut cluster = Cluster::start(3).await;
    let (mut alice, mut bob) = seated_across(&cluster).await;
    let bob_token = bob.seat();

    cluster.nodes[1].kill();
    bob.expect_closed_within(Duration::from_secs(3)).await;
    // The owner notices the holder died and tells alice her partner is away.
    let away = alice.recv_json_within(DETECTED).await;
    assert_eq!(away["type"], "peer_reconnecting", "{away}");

    let (mut bob, reply) =
        rejoin_through(cluster.port(2), "bob on n2", "kitchen", &bob_token).await;
    assert_eq!(without_seat(&reply), rejoined("kitchen", true), "{reply}");
    assert_eq!(
        alice.recv_json().await,
        json!({"type": "peer_reconnected", "room": "kitchen"})
    );
    check_relay(&mut alice, &mut bob).await;
    check_relay(&mut bob, &mut alice).await;
    let gone = cluster.nodes[0]
        .metric("visavis_cluster_losses_total{reason=\"node_gone\"}")
        .await;
    assert!(gone >= 1.0, "the owner counted the dead holder: {gone}");
}

/// A forwarding node's socket dies right after a `rejoin` it forwarded (or gives up waiting for
/// the owner's answer, which closes the socket as lost the same way): the owner seated the
/// person and issued a token the browser never read. The browser's next `rejoin`, with the
/// token it has, through any node, still gets its seat back.
#[tokio::test(flavor = "multi_thread")]
async fn a_forwarded_rejoin_whose_answer_was_lost_can_be_made_again_through_another_node() {
    let cluster = Cluster::start(3).await;
    let (mut alice, bob) = seated_across(&cluster).await;
    let bob_token = bob.seat();
    bob.drop_without_close_frame();
    alice.expect_type("peer_reconnecting").await;

    // n1 forwards the rejoin to n0, the owner; alice hearing `peer_reconnected` proves that n0
    // seated bob and issued him a new token, which his dying socket never reads.
    let mut doomed = TestClient::connect(cluster.port(1), "bob on n1, dying").await;
    doomed
        .send_json(json!({"type": "rejoin", "room": "kitchen", "seat": bob_token, "fresh": false}))
        .await;
    assert_eq!(
        alice.recv_json().await,
        json!({"type": "peer_reconnected", "room": "kitchen"})
    );
    doomed.drop_without_close_frame();
    alice.expect_type("peer_reconnecting").await;

    let (mut bob, reply) =
        rejoin_through(cluster.port(2), "bob on n2", "kitchen", &bob_token).await;
    assert_eq!(without_seat(&reply), rejoined("kitchen", true), "{reply}");
    assert_eq!(
        alice.recv_json().await,
        json!({"type": "peer_reconnected", "room": "kitchen"})
    );
    check_relay(&mut alice, &mut bob).await;
    check_relay(&mut bob, &mut alice).await;
}
