//! Redis stopped and started again in the middle of calls: meanwhile new joins get
//! `server_busy` and `/readyz` says not ready, a call whose two people share a node goes on
//! relaying, and the cross-node call's sockets are dropped; once Redis is back everything
//! works again without restarting anything, the dropped ones by rejoining.

use std::time::Duration;

use serde_json::json;

use crate::harness::{check_relay, rejoined, Cluster};
use crate::helpers::{sample_sdp, without_seat, TestClient};

/// How long the nodes may take to notice Redis is gone, or back.
const NOTICED: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread")]
async fn without_redis_new_joins_are_refused_and_service_returns_with_it() {
    let mut cluster = Cluster::start(2).await;
    let (a, b) = (cluster.port(0), cluster.port(1));
    // A cross-node call, and a call on n0 alone.
    let mut alice = TestClient::connect(a, "alice on n0").await;
    let mut bob = TestClient::connect(b, "bob on n1").await;
    alice.join_expecting("kitchen", "created").await;
    bob.join_expecting("kitchen", "joined").await;
    alice.expect_type("new_peer").await;
    let bob_token = bob.seat();
    let mut carol = TestClient::connect(a, "carol on n0").await;
    let mut dave = TestClient::connect(a, "dave on n0").await;
    carol.join_expecting("local", "created").await;
    dave.join_expecting("local", "joined").await;
    carol.expect_type("new_peer").await;

    cluster.redis.stop();
    for node in &cluster.nodes {
        node.wait_ready(503, NOTICED).await;
        let (_, body) = node.readyz().await;
        assert!(body.contains("\"redis\":false"), "{body}");
    }
    // The cross-node call lost its link: bob's socket is closed so that he rejoins, and alice
    // hears that he is away.
    bob.expect_closed_within(NOTICED).await;
    let away = alice.recv_json_within(NOTICED).await;
    assert_eq!(away["type"], "peer_reconnecting", "{away}");
    // The call on one node goes on.
    let invite = json!({"type": "invite", "sdp": sample_sdp("carol")});
    carol.send_json(invite.clone()).await;
    assert_eq!(dave.recv_json().await, invite);
    // New joins, on either node, are refused clearly; so is bob's rejoin for now.
    for port in [a, b] {
        let mut newcomer = TestClient::connect(port, "newcomer").await;
        newcomer
            .send_json(json!({"type": "join", "room": "attic"}))
            .await;
        newcomer.expect_error("server_busy").await;
    }
    let mut bob = TestClient::connect(b, "bob again on n1").await;
    let reply = bob.rejoin("kitchen", &bob_token, false).await;
    assert_eq!(reply["code"], "server_busy", "{reply}");

    cluster.redis.start_again().await;
    for node in &cluster.nodes {
        node.wait_ready(200, NOTICED).await;
    }
    let reply = bob.rejoin("kitchen", &bob_token, false).await;
    assert_eq!(without_seat(&reply), rejoined("kitchen", true), "{reply}");
    assert_eq!(
        alice.recv_json().await,
        json!({"type": "peer_reconnected", "room": "kitchen"})
    );
    check_relay(&mut alice, &mut bob).await;
    // New calls across nodes work again.
    let mut erin = TestClient::connect(b, "erin on n1").await;
    let mut frank = TestClient::connect(a, "frank on n0").await;
    erin.join_expecting("attic", "created").await;
    frank.join_expecting("attic", "joined").await;
    erin.expect_type("new_peer").await;
    carol.expect_nothing().await;
    dave.expect_nothing().await;
    // The loss was detected as such, and counted.
    let losses = cluster.nodes[1]
        .metric("visavis_cluster_losses_total{reason=\"resubscribed\"}")
        .await;
    assert!(losses >= 1.0, "losses counted on n1: {losses}");
    assert_eq!(
        cluster.nodes[0]
            .metric("visavis_cluster_redis_connected")
            .await,
        1.0
    );
}
