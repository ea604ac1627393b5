//! The documented HAProxy configuration (docs/deployment.md, run as written apart from the
//! addresses) in front of three nodes: two people who reach different nodes through it make a
//! call; the node of one is killed, and both get back through the balancer by rejoining.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;
use tokio::time::{sleep, Instant};

use crate::harness::{check_relay, free_port, rejoined, Cluster};
use crate::helpers::{sample_sdp, without_seat, TestClient};

/// The configuration block of docs/deployment.md, with the nodes' and the frontend's addresses
/// replaced by loopback ones.
fn documented_config(listen: u16, nodes: &[u16]) -> String {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/deployment.md"
    ))
    .expect("docs/deployment.md is readable");
    let start = doc
        .find("```haproxy\n")
        .expect("docs/deployment.md has a haproxy block")
        + 11;
    let length = doc[start..].find("```").expect("the haproxy block ends");
    let mut config = String::new();
    for line in doc[start..start + length].lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("bind :443 ") {
            config.push_str(&format!("    bind 127.0.0.1:{listen}\n"));
        } else if let Some(rest) = trimmed.strip_prefix("server n") {
            let index: usize = rest[..1].parse().expect("servers are numbered n1, n2, ...");
            let check = rest.split_once(' ').map_or("", |(_, tail)| tail);
            let check = check.split_once(' ').map_or("", |(_, tail)| tail);
            config.push_str(&format!(
                "    server n{index} 127.0.0.1:{} {check}\n",
                nodes[index - 1]
            ));
        } else {
            config.push_str(line);
            config.push('\n');
        }
    }
    assert!(config.contains("option httpchk GET /readyz"), "{config}");
    config
}

struct Haproxy(Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Connects through the balancer and rejoins until the reply is not `server_busy` and the
/// connection is not refused (a node just killed may still be in rotation for a moment).
async fn rejoin_via(
    port: u16,
    name: &str,
    room: &str,
    token: &str,
) -> (TestClient, serde_json::Value) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut client = TestClient::connect(port, name).await;
        let reply = client.rejoin(room, token, false).await;
        if reply["type"] == "rejoined" || Instant::now() > deadline {
            return (client, reply);
        }
        sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_through_haproxy_survives_the_loss_of_a_node() {
    let mut cluster = Cluster::start(3).await;
    let listen = free_port();
    let ports: Vec<u16> = (0..3).map(|i| cluster.port(i)).collect();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = dir.path().join("haproxy.cfg");
    std::fs::write(&config, documented_config(listen, &ports)).expect("the config is written");
    let _haproxy = Haproxy(
        Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("haproxy runs (apt-get install haproxy; scripts/setup.sh does)"),
    );
    // Wait until the balancer sees the nodes healthy.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ready = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{listen}/readyz"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|response| response.status().as_u16() == 200);
        if ready {
            break;
        }
        assert!(Instant::now() < deadline, "haproxy did not pass /readyz on");
        sleep(Duration::from_millis(100)).await;
    }

    let mut alice = TestClient::connect(listen, "alice via haproxy").await;
    let alice_node = node_with_sockets(&cluster, 1).await;
    let mut bob = TestClient::connect(listen, "bob via haproxy").await;
    alice.join_expecting("kitchen", "created").await;
    bob.join_expecting("kitchen", "joined").await;
    alice.expect_type("new_peer").await;
    let (alice_token, bob_token) = (alice.seat(), bob.seat());
    // leastconn put the two sockets on two different nodes.
    let counts = socket_counts(&cluster).await;
    assert_eq!(
        counts.iter().filter(|&&count| count == 1).count(),
        2,
        "{counts:?}"
    );
    let invite = json!({"type": "invite", "sdp": sample_sdp("alice")});
    alice.send_json(invite.clone()).await;
    assert_eq!(bob.recv_json().await, invite);

    // Kill the node holding alice's socket, which owns the room (she created it).
    cluster.nodes[alice_node].kill();
    alice.expect_closed_within(Duration::from_secs(3)).await;
    bob.expect_closed_within(Duration::from_secs(10)).await;
    let (mut alice, reply) = rejoin_via(listen, "alice back", "kitchen", &alice_token).await;
    assert_eq!(
        without_seat(&reply),
        json!({"type": "rejoined", "room": "kitchen", "peer_present": false}),
        "{reply}"
    );
    let (mut bob, reply) = rejoin_via(listen, "bob back", "kitchen", &bob_token).await;
    assert_eq!(without_seat(&reply), rejoined("kitchen", true), "{reply}");
    assert_eq!(
        alice.recv_json().await,
        json!({"type": "peer_reconnected", "room": "kitchen"})
    );
    check_relay(&mut bob, &mut alice).await;
    check_relay(&mut alice, &mut bob).await;
}

/// Open sockets per node (0 for a node that is gone).
async fn socket_counts(cluster: &Cluster) -> Vec<u32> {
    let mut counts = Vec::new();
    for node in &cluster.nodes {
        let count = if node.is_running() {
            node.metrics()
                .await
                .lines()
                .find_map(|line| line.strip_prefix("visavis_connections "))
                .and_then(|value| value.trim().parse::<u32>().ok())
                .expect("the connections gauge")
        } else {
            0
        };
        counts.push(count);
    }
    counts
}

/// The one node holding `count` sockets.
async fn node_with_sockets(cluster: &Cluster, count: u32) -> usize {
    let counts = socket_counts(cluster).await;
    let found: Vec<usize> = (0..counts.len()).filter(|&i| counts[i] == count).collect();
    assert_eq!(found.len(), 1, "sockets per node: {counts:?}");
    found[0]
}
