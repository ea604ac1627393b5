//! TURN across a cluster: two nodes sharing Redis, one `--turn-secret` and one seat secret,
//! each running its own built-in relay. A browser may get its `config` from one node and its
//! relay from the other (the balancer decides the first, the URL the second), so credentials
//! minted by any node must allocate on every node's relay, and `/check` must look the same
//! wherever it is served from.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::net::UdpSocket;
use turn::client::{Client, ClientConfig};
use visavis::turn::credentials;
use webrtc_util::Conn;

use crate::harness::{free_port, Cluster};
use crate::helpers::TestClient;

const SECRET: &str = "one turn secret for the whole cluster";
/// Bound on any single network step, so a bug hangs no test.
const STEP: Duration = Duration::from_secs(10);

/// Two nodes, node `i` with its relay on `relays[i]` (UDP and TCP) and its own relay ports.
async fn turn_cluster() -> (Cluster, [SocketAddr; 2]) {
    let relays = [free_port(), free_port()].map(|port| SocketAddr::from(([127, 0, 0, 1], port)));
    let cluster = Cluster::start_with(2, |index| {
        let first = 47_200 + 100 * index;
        vec![
            "--turn-secret".to_owned(),
            SECRET.to_owned(),
            "--turn-listen".to_owned(),
            relays[index].to_string(),
            "--turn-relay-ports".to_owned(),
            format!("{first}-{}", first + 99),
            // The test's peer is on loopback.
            "--turn-allow-private-peers".to_owned(),
        ]
    })
    .await;
    (cluster, relays)
}

/// The `config` greeting a new connection to `port` gets.
async fn config_from(port: u16, name: &str) -> Value {
    let mut client = TestClient::connect_raw(port, name).await;
    let config = client.recv_json().await;
    assert_eq!(config["type"], "config", "{name}: got {config}");
    config
}

/// The one ICE server entry with credentials, as (urls, username, credential).
fn turn_entry(config: &Value) -> (Vec<String>, String, String) {
    let servers = config["ice_servers"]
        .as_array()
        .unwrap_or_else(|| panic!("config needs an ice_servers list: {config}"));
    let with_credentials: Vec<&Value> = servers
        .iter()
        .filter(|server| server.get("username").is_some_and(|u| !u.is_null()))
        .collect();
    assert_eq!(with_credentials.len(), 1, "one TURN entry: {config}");
    let server = with_credentials[0];
    let urls = server["urls"]
        .as_array()
        .unwrap_or_else(|| panic!("urls is a list: {server}"))
        .iter()
        .map(|url| url.as_str().expect("a URL string").to_owned())
        .collect();
    let text = |field: &str| {
        server[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} is a string: {server}"))
            .to_owned()
    };
    (urls, text("username"), text("credential"))
}

/// The config with the TURN credentials blanked, to compare two nodes' shapes.
fn shape(config: &Value, relay: SocketAddr) -> Value {
    let mut config = config.clone();
    for server in config["ice_servers"].as_array_mut().expect("a list") {
        if let Some(object) = server.as_object_mut() {
            for field in ["username", "credential"] {
                if object.get(field).is_some_and(|v| !v.is_null()) {
                    object.insert(field.to_owned(), Value::from("<minted>"));
                }
            }
        }
        if let Some(urls) = server["urls"].as_array_mut() {
            for url in urls {
                let text = url.as_str().expect("a URL string");
                *url = Value::from(text.replace(&relay.to_string(), "<own relay>"));
            }
        }
    }
    config
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// A real TURN Allocate over UDP at `relay` with the long-term credential; on success it also
/// relays one datagram to a loopback peer through the allocation, proving it is usable.
async fn allocate_and_relay(
    relay: SocketAddr,
    username: &str,
    password: &str,
) -> Result<(), String> {
    let socket = UdpSocket::bind("127.0.0.1:0")
        .await
        .map_err(|err| err.to_string())?;
    let conn: Arc<dyn Conn + Send + Sync> = Arc::new(socket);
    let client = Client::new(ClientConfig {
        stun_serv_addr: relay.to_string(),
        turn_serv_addr: relay.to_string(),
        username: username.to_owned(),
        password: password.to_owned(),
        realm: "visavis".to_owned(),
        software: String::new(),
        rto_in_ms: 0,
        conn,
        vnet: None,
    })
    .await
    .map_err(|err| err.to_string())?;
    client.listen().await.map_err(|err| err.to_string())?;
    let outcome = async {
        let relay_conn = tokio::time::timeout(STEP, client.allocate())
            .await
            .map_err(|_| "the allocation timed out".to_owned())?
            .map_err(|err| err.to_string())?;
        let peer = UdpSocket::bind("127.0.0.1:0")
            .await
            .map_err(|err| err.to_string())?;
        let peer_addr = peer.local_addr().map_err(|err| err.to_string())?;
        relay_conn
            .send_to(b"through the relay", peer_addr)
            .await
            .map_err(|err| format!("send through the allocation: {err}"))?;
        let mut buf = [0u8; 64];
        let (len, from) = tokio::time::timeout(STEP, peer.recv_from(&mut buf))
            .await
            .map_err(|_| "the peer got nothing through the relay".to_owned())?
            .map_err(|err| err.to_string())?;
        let relayed = relay_conn.local_addr().map_err(|err| err.to_string())?;
        let _ = relay_conn.close().await;
        if &buf[..len] != b"through the relay" || from != relayed {
            return Err(format!("the peer got {:?} from {from}", &buf[..len]));
        }
        Ok(())
    }
    .await;
    let _ = client.close().await;
    outcome
}

#[tokio::test(flavor = "multi_thread")]
async fn both_nodes_hand_out_the_same_config_naming_their_own_relay() {
    let (cluster, relays) = turn_cluster().await;
    let configs = [
        config_from(cluster.port(0), "on n0").await,
        config_from(cluster.port(1), "on n1").await,
    ];
    for (index, config) in configs.iter().enumerate() {
        let (urls, username, credential) = turn_entry(config);
        let relay = relays[index];
        assert_eq!(
            urls,
            [
                format!("turn:{relay}?transport=udp"),
                format!("turn:{relay}?transport=tcp")
            ],
            "n{index} advertises its own relay: {config}"
        );
        assert_eq!(
            credential,
            credentials::password_for(SECRET.as_bytes(), &username),
            "n{index}: the credential is the HMAC of the username under the shared secret"
        );
        let expiry = credentials::expiry_of(&username).expect("an expiry:id username");
        assert!(
            expiry > now_unix(),
            "n{index}: {username} is not yet expired"
        );
        assert!(!config.to_string().contains(SECRET), "{config}");
    }
    assert_eq!(
        shape(&configs[0], relays[0]),
        shape(&configs[1], relays[1]),
        "the two nodes' config differ in more than their relay and the minted credentials"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_minted_by_one_node_allocate_on_the_other_nodes_relay() {
    let (cluster, relays) = turn_cluster().await;
    for (from, on) in [(0, 1), (1, 0), (0, 0)] {
        let config = config_from(cluster.port(from), &format!("on n{from}")).await;
        let (_, username, credential) = turn_entry(&config);
        allocate_and_relay(relays[on], &username, &credential)
            .await
            .unwrap_or_else(|err| panic!("credentials from n{from} on n{on}'s relay: {err}"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn both_relays_refuse_bad_credentials() {
    let (cluster, relays) = turn_cluster().await;
    let config = config_from(cluster.port(0), "on n0").await;
    let (_, username, credential) = turn_entry(&config);
    let other_secret = credentials::issue(b"another secret", now_unix(), STEP * 60, "x");
    let expired = credentials::issue(SECRET.as_bytes(), now_unix() - 7200, STEP, "old");
    let bad: [(&str, String, String); 3] = [
        (
            "a wrong password",
            username.clone(),
            format!("{credential}x"),
        ),
        (
            "another secret",
            other_secret.username,
            other_secret.credential,
        ),
        ("an expired username", expired.username, expired.credential),
    ];
    for (index, relay) in relays.iter().enumerate() {
        for (what, username, password) in &bad {
            // A refusal is the relay's error answer to the Allocate, not a timeout.
            match allocate_and_relay(*relay, username, password).await {
                Ok(()) => panic!("n{index}'s relay accepted {what}"),
                Err(err) => assert!(
                    err.starts_with("Allocate error response"),
                    "n{index}'s relay did not answer {what} with an error: {err}"
                ),
            }
        }
        // The same relay still serves the good credentials: it refused the bad ones.
        allocate_and_relay(*relay, &username, &credential)
            .await
            .unwrap_or_else(|err| panic!("n{index}'s relay refused good credentials: {err}"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_check_page_is_served_the_same_by_both_nodes() {
    let (cluster, relays) = turn_cluster().await;
    let http = reqwest::Client::new();
    let mut pages = Vec::new();
    for index in 0..2 {
        let response = tokio::time::timeout(
            STEP,
            http.get(format!("http://127.0.0.1:{}/check", cluster.port(index)))
                .send(),
        )
        .await
        .expect("/check answers in time")
        .expect("/check answers");
        assert_eq!(response.status().as_u16(), 200, "n{index} /check");
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        pages.push((content_type, response.text().await.expect("a body")));
    }
    assert!(pages[0].0.starts_with("text/html"), "{:?}", pages[0].0);
    assert_eq!(
        pages[0], pages[1],
        "the two nodes serve different /check pages"
    );
    // The check itself takes its ICE servers from the `config` greeting on /ws, the same one
    // a call gets: on each node it names that node's relay with working credentials.
    for index in 0..2 {
        let config = config_from(cluster.port(index), &format!("check on n{index}")).await;
        let (urls, username, credential) = turn_entry(&config);
        assert!(!urls.is_empty(), "{config}");
        let other = 1 - index;
        allocate_and_relay(relays[other], &username, &credential)
            .await
            .unwrap_or_else(|err| panic!("/check credentials from n{index} on n{other}: {err}"));
    }
}
