//! TURN in the `config` greeting: short-lived credentials derived from the shared secret (the
//! TURN REST API form coturn checks), per connection, and the built-in relay's own address.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha1::Sha1;

use crate::helpers::{spawn_app_with, TestApp, TestClient};

const SECRET: &str = "s3cret";
const EXTERNAL_TURN_URL: &str = "turn:turn.example.org:3478?transport=udp";

/// How far the expiry may be from now + TTL: the clocks are the same, but the test may be slow.
const EXPIRY_TOLERANCE_SECS: i64 = 60;

fn now_unix() -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970");
    i64::try_from(now.as_secs()).expect("a plausible time")
}

/// The password coturn expects for `username`: base64(HMAC-SHA1(secret, username)).
fn rest_api_password(secret: &str, username: &str) -> String {
    let mut mac =
        <Hmac<Sha1> as Mac>::new_from_slice(secret.as_bytes()).expect("any key length works");
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The raw first message of a new socket.
async fn first_message(app: &TestApp, name: &str) -> Value {
    let mut client = TestClient::connect_raw(app.port, name).await;
    let config = client.recv_json().await;
    assert_eq!(config["type"], "config", "{name}: got {config}");
    config
}

/// The ICE server entry that lists `url`.
fn server_with_url<'a>(config: &'a Value, url: &str) -> &'a Value {
    config["ice_servers"]
        .as_array()
        .unwrap_or_else(|| panic!("config needs an ice_servers list: {config}"))
        .iter()
        .find(|server| {
            server["urls"]
                .as_array()
                .is_some_and(|urls| urls.iter().any(|u| u == url))
        })
        .unwrap_or_else(|| panic!("no ice server lists {url}: {config}"))
}

/// Checks the credentials of a TURN entry and returns its username.
fn check_credentials(server: &Value, ttl_secs: i64) -> String {
    let username = server["username"]
        .as_str()
        .unwrap_or_else(|| panic!("a TURN entry needs a username: {server}"))
        .to_owned();
    let (expiry, id) = username
        .split_once(':')
        .unwrap_or_else(|| panic!("the username must be <expiry>:<id>, got {username:?}"));
    assert!(!id.is_empty(), "the id part of {username:?} is empty");
    let expiry: i64 = expiry
        .parse()
        .unwrap_or_else(|err| panic!("the expiry of {username:?} is not a number: {err}"));
    let expected = now_unix() + ttl_secs;
    assert!(
        (expiry - expected).abs() <= EXPIRY_TOLERANCE_SECS,
        "the username {username:?} expires at {expiry}, expected about {expected} (now + {ttl_secs} s)"
    );
    assert_eq!(
        server["credential"].as_str(),
        Some(rest_api_password(SECRET, &username).as_str()),
        "the credential must be base64(HMAC-SHA1(secret, username)) for {username:?}"
    );
    username
}

async fn app_with_external_turn() -> TestApp {
    spawn_app_with(&[
        "--turn-url",
        EXTERNAL_TURN_URL,
        "--turn-secret",
        SECRET,
        "--turn-ttl",
        "3600",
    ])
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_external_turn_server_is_handed_out_with_expiring_hmac_credentials() {
    let app = app_with_external_turn().await;

    let config = first_message(&app, "alice").await;

    let turn = server_with_url(&config, EXTERNAL_TURN_URL);
    check_credentials(turn, 3600);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_connection_gets_its_own_turn_username() {
    let app = app_with_external_turn().await;

    let alice = first_message(&app, "alice").await;
    let bob = first_message(&app, "bob").await;

    let alice_username = check_credentials(server_with_url(&alice, EXTERNAL_TURN_URL), 3600);
    let bob_username = check_credentials(server_with_url(&bob, EXTERNAL_TURN_URL), 3600);
    assert_ne!(alice_username, bob_username);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_turn_secret_never_reaches_the_browser() {
    let app = app_with_external_turn().await;

    let config = first_message(&app, "alice").await;

    assert!(
        !config.to_string().contains(SECRET),
        "the config message contains the secret: {config}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_builtin_relay_is_advertised_at_its_bound_port() {
    let app = spawn_app_with(&["--turn-secret", SECRET, "--turn-listen", "127.0.0.1:0"]).await;
    let relay = app
        .relay_addr
        .expect("--turn-listen starts the built-in relay");
    assert_ne!(relay.port(), 0);

    let config = first_message(&app, "alice").await;

    let url = format!("turn:127.0.0.1:{}?transport=udp", relay.port());
    let turn = server_with_url(&config, &url);
    check_credentials(turn, 3600);
    assert!(!config.to_string().contains(SECRET), "{config}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_builtin_relay_is_advertised_over_udp_tcp_and_tls_with_one_credential() {
    let app = spawn_app_with(&[
        "--turn-secret",
        SECRET,
        "--turn-listen",
        "127.0.0.1:0",
        "--turn-tls-listen",
        "127.0.0.1:0",
        "--turn-host",
        "turn.example.org",
    ])
    .await;
    let port = app.relay_addr.expect("the relay runs").port();

    let config = first_message(&app, "alice").await;

    let udp = format!("turn:turn.example.org:{port}?transport=udp");
    let turn = server_with_url(&config, &udp);
    let urls: Vec<&str> = turn["urls"]
        .as_array()
        .expect("a url list")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(urls.len(), 3, "{urls:?}");
    assert_eq!(urls[0], udp);
    assert_eq!(
        urls[1],
        format!("turn:turn.example.org:{port}?transport=tcp")
    );
    let tls_port = urls[2]
        .strip_prefix("turns:turn.example.org:")
        .and_then(|rest| rest.strip_suffix("?transport=tcp"))
        .and_then(|port| port.parse::<u16>().ok())
        .unwrap_or_else(|| panic!("the third URL should be turns: with a port: {urls:?}"));
    assert_ne!(tls_port, 0);
    assert_ne!(tls_port, port);
    check_credentials(turn, 3600);
}
