//! The `config` greeting: the first frame on every socket, carrying the configured STUN URLs.

use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with, TestClient, STUN_URL};

#[tokio::test(flavor = "multi_thread")]
async fn the_first_message_is_the_configured_ice_servers() {
    let app = spawn_app().await;
    let mut client = TestClient::connect_raw(app.port, "alice").await;

    let first = client.recv_json().await;

    assert_eq!(
        first,
        json!({"type": "config", "ice_servers": [{"urls": [STUN_URL]}], "max_file_bytes": 536_870_912})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_config_message_is_sent_once_and_nothing_follows_unasked() {
    let app = spawn_app().await;
    let mut client = app.client("alice").await;

    client.expect_nothing().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_stun_setting_gives_an_empty_ice_server_list() {
    let app = spawn_app_with(&["--stun", ""]).await;
    let mut client = TestClient::connect_raw(app.port, "alice").await;

    let first = client.recv_json().await;

    assert_eq!(
        first,
        json!({"type": "config", "ice_servers": [], "max_file_bytes": 536_870_912})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_socket_gets_its_own_config_message() {
    let app = spawn_app().await;
    let mut alice = TestClient::connect_raw(app.port, "alice").await;
    let mut bob = TestClient::connect_raw(app.port, "bob").await;

    let expected = json!({"type": "config", "ice_servers": [{"urls": [STUN_URL]}], "max_file_bytes": 536_870_912});
    assert_eq!(alice.recv_json().await, expected);
    assert_eq!(bob.recv_json().await, expected);
}
