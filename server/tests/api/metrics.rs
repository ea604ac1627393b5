//! `/metrics`: where it is served and to whom, and that a call moves the counters and gauges.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    sample_candidate, sample_sdp, spawn_app, spawn_app_with, MetricsText, TestApp,
};

const TOKEN: &str = "let-me-see-the-metrics";

/// How long a gauge may take to follow what the clients did.
const GAUGE_TIMEOUT: Duration = Duration::from_secs(5);

async fn status_of(request: reqwest::RequestBuilder) -> StatusCode {
    request
        .send()
        .await
        .expect("GET /metrics gets an answer")
        .status()
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_not_served_on_the_main_listener_by_default() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();

    assert_eq!(
        status_of(client.get(app.http_url("/metrics"))).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status_of(client.get(app.http_url("/metrics")).bearer_auth("anything")).await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_token_metrics_on_the_main_listener_need_that_bearer_token() {
    let app = spawn_app_with(&["--metrics-token", TOKEN]).await;
    let client = reqwest::Client::new();
    let url = app.http_url("/metrics");

    assert_eq!(
        status_of(client.get(&url)).await,
        StatusCode::UNAUTHORIZED,
        "no token"
    );
    assert_eq!(
        status_of(client.get(&url).bearer_auth("wrong-token")).await,
        StatusCode::UNAUTHORIZED,
        "a wrong token"
    );
    assert_eq!(
        status_of(client.get(&url).bearer_auth(&TOKEN[..TOKEN.len() - 1])).await,
        StatusCode::UNAUTHORIZED,
        "a prefix of the token"
    );
    assert_eq!(
        status_of(client.get(&url).header("Authorization", TOKEN)).await,
        StatusCode::UNAUTHORIZED,
        "the token without the Bearer scheme"
    );

    let response = client
        .get(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("GET /metrics gets an answer");
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.text().await.expect("a body");
    assert!(
        body.contains("# TYPE visavis_connections gauge"),
        "the Prometheus text format, got:\n{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_metrics_listen_metrics_are_served_on_their_own_port_only() {
    let app = spawn_app_with(&["--metrics-listen", "127.0.0.1:0"]).await;
    let metrics_port = app
        .metrics_port
        .expect("--metrics-listen starts a metrics listener");
    assert_ne!(metrics_port, app.port);
    let client = reqwest::Client::new();

    let response = client
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await
        .expect("GET /metrics on the metrics port gets an answer");
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.text().await.expect("a body");
    assert!(body.contains("# TYPE visavis_connections gauge"), "{body}");

    assert_eq!(
        status_of(client.get(app.http_url("/metrics"))).await,
        StatusCode::NOT_FOUND,
        "the main listener still does not serve /metrics"
    );
}

/// Polls `/metrics` until `done` holds, for at most [`GAUGE_TIMEOUT`].
async fn wait_for_metrics(
    app: &TestApp,
    what: &str,
    done: impl Fn(&MetricsText) -> bool,
) -> MetricsText {
    app.wait_for_metrics(TOKEN, GAUGE_TIMEOUT, what, done).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_moves_the_counters_and_the_gauges_go_back_down_afterwards() {
    let app = spawn_app_with(&["--metrics-token", TOKEN]).await;
    let before = app.metrics_with_token(TOKEN).await;
    let delta = |now: &MetricsText, series: &str| now.value(series) - before.value(series);

    // Two take seats, a third finds the room full.
    let (mut alice, mut bob) = app.seated_pair("kitchen").await;
    let mut carol = app.client("carol").await;
    carol.join_expecting("kitchen", "full").await;
    // One of each relayed message.
    let invite = json!({"type": "invite", "sdp": sample_sdp("alice")});
    alice.send_json(invite.clone()).await;
    assert_eq!(bob.recv_json().await, invite);
    let ok = json!({"type": "ok", "sdp": sample_sdp("bob")});
    bob.send_json(ok.clone()).await;
    assert_eq!(alice.recv_json().await, ok);
    let candidate = json!({"type": "ice_candidate", "candidate": sample_candidate("alice")});
    alice.send_json(candidate.clone()).await;
    assert_eq!(bob.recv_json().await, candidate);
    // A frame that is not JSON.
    carol.send_text("{not json").await;
    carol.expect_error("invalid_json").await;

    // Counters move before the reply that follows from them is sent.
    let during = app.metrics_with_token(TOKEN).await;
    for (series, expected) in [
        ("visavis_joins_total{result=\"created\"}", 1.0),
        ("visavis_joins_total{result=\"joined\"}", 1.0),
        ("visavis_joins_total{result=\"full\"}", 1.0),
        ("visavis_relayed_messages_total{type=\"invite\"}", 1.0),
        ("visavis_relayed_messages_total{type=\"ok\"}", 1.0),
        (
            "visavis_relayed_messages_total{type=\"ice_candidate\"}",
            1.0,
        ),
        (
            "visavis_rejected_inputs_total{reason=\"invalid_json\"}",
            1.0,
        ),
    ] {
        assert_eq!(
            delta(&during, series),
            expected,
            "{series}; the metrics are:\n{}",
            during.0
        );
    }
    // The gauges: three sockets, one room.
    wait_for_metrics(&app, "three connections and one room are counted", |m| {
        delta(m, "visavis_connections") == 3.0 && delta(m, "visavis_rooms") == 1.0
    })
    .await;

    // The client's report of how the call went; it has no reply, so the counter is polled.
    alice
        .send_json(json!({"type": "report", "setup_ms": 1200, "path": "relay"}))
        .await;
    let reported = wait_for_metrics(&app, "the report is counted", |m| {
        delta(m, "visavis_media_paths_total{path=\"relay\"}") == 1.0
    })
    .await;
    assert_eq!(delta(&reported, "visavis_call_setup_seconds_count"), 1.0);
    assert!(
        (delta(&reported, "visavis_call_setup_seconds_sum") - 1.2).abs() < 1e-9,
        "1200 ms are recorded as 1.2 s; the metrics are:\n{}",
        reported.0
    );
    assert_eq!(
        delta(&reported, "visavis_media_paths_total{path=\"direct\"}"),
        0.0
    );

    // Everyone hangs up cleanly.
    alice.close().await;
    bob.expect_type("bye").await;
    bob.close().await;
    carol.close().await;
    let after = wait_for_metrics(&app, "the gauges are back where they started", |m| {
        delta(m, "visavis_connections") == 0.0 && delta(m, "visavis_rooms") == 0.0
    })
    .await;
    assert_eq!(
        delta(&after, "visavis_disconnects_total{reason=\"close\"}"),
        3.0,
        "the metrics are:\n{}",
        after.0
    );
}
