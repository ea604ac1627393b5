//! Size limits: SDP 64 KiB, candidates 2 KiB (sum of string fields), frames 128 KiB.

use std::time::Duration;

use serde_json::json;
use visavis_shared::limits::{MAX_CANDIDATE_BYTES, MAX_FRAME_BYTES, MAX_SDP_BYTES};

use crate::helpers::{sample_sdp, sdp_of_len, spawn_app};

#[test]
fn the_limits_are_the_documented_numbers() {
    assert_eq!(MAX_SDP_BYTES, 65536);
    assert_eq!(MAX_CANDIDATE_BYTES, 2048);
    assert_eq!(MAX_FRAME_BYTES, 131072);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_sdp_of_exactly_64_kib_is_relayed() {
    let app = spawn_app().await;
    let (mut alice, mut bob) = app.seated_pair("kitchen").await;

    let invite = json!({"type": "invite", "sdp": sdp_of_len(MAX_SDP_BYTES, "alice")});
    alice.send_json(invite.clone()).await;
    assert_eq!(bob.recv_json().await, invite);

    let ok = json!({"type": "ok", "sdp": sdp_of_len(MAX_SDP_BYTES, "bob")});
    bob.send_json(ok.clone()).await;
    assert_eq!(alice.recv_json().await, ok);

    alice.expect_nothing().await;
    bob.expect_nothing().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_sdp_over_64_kib_is_refused_and_not_relayed() {
    let app = spawn_app().await;
    let (mut alice, mut bob) = app.seated_pair("kitchen").await;

    alice
        .send_json(json!({"type": "invite", "sdp": sdp_of_len(MAX_SDP_BYTES + 1, "alice")}))
        .await;
    alice.expect_error("sdp_too_large").await;
    bob.expect_nothing().await;

    bob.send_json(json!({"type": "ok", "sdp": sdp_of_len(MAX_SDP_BYTES + 1, "bob")}))
        .await;
    bob.expect_error("sdp_too_large").await;
    alice.expect_nothing().await;

    // Both keep their seats and can still talk.
    let invite = json!({"type": "invite", "sdp": sample_sdp("alice")});
    alice.send_json(invite.clone()).await;
    assert_eq!(bob.recv_json().await, invite);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sdp_limit_counts_bytes_not_characters() {
    let app = spawn_app().await;
    let (mut alice, mut bob) = app.seated_pair("kitchen").await;

    // 32 769 two-byte characters: fewer characters than the limit, more bytes.
    let sdp = "\u{e9}".repeat(MAX_SDP_BYTES / 2 + 1);
    assert_eq!(sdp.len(), MAX_SDP_BYTES + 2);
    alice.send_json(json!({"type": "invite", "sdp": sdp})).await;
    alice.expect_error("sdp_too_large").await;
    bob.expect_nothing().await;

    // Exactly at the limit in bytes is fine.
    let invite = json!({"type": "invite", "sdp": "\u{e9}".repeat(MAX_SDP_BYTES / 2)});
    alice.send_json(invite.clone()).await;
    assert_eq!(bob.recv_json().await, invite);
}

/// A candidate whose string fields add up to `total` bytes, spread over all three fields.
fn candidate_of_len(total: usize) -> serde_json::Value {
    let mid = "0";
    let ufrag = "u".repeat(24);
    let head = "candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host x-pad ";
    let line = format!(
        "{head}{}",
        "x".repeat(total - mid.len() - ufrag.len() - head.len())
    );
    assert_eq!(line.len() + mid.len() + ufrag.len(), total);
    json!({"candidate": line, "sdpMid": mid, "sdpMLineIndex": 0, "usernameFragment": ufrag})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_candidate_of_exactly_2_kib_is_relayed() {
    let app = spawn_app().await;
    let (mut alice, mut bob) = app.seated_pair("kitchen").await;

    let message =
        json!({"type": "ice_candidate", "candidate": candidate_of_len(MAX_CANDIDATE_BYTES)});
    alice.send_json(message.clone()).await;

    assert_eq!(bob.recv_json().await, message);
    alice.expect_nothing().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_candidate_over_2_kib_is_refused_and_not_relayed() {
    let app = spawn_app().await;
    let (mut alice, mut bob) = app.seated_pair("kitchen").await;

    // The line alone is under the limit; the three string fields together are over it.
    let candidate = candidate_of_len(MAX_CANDIDATE_BYTES + 1);
    assert!(candidate["candidate"].as_str().unwrap().len() < MAX_CANDIDATE_BYTES);
    alice
        .send_json(json!({"type": "ice_candidate", "candidate": candidate}))
        .await;
    alice.expect_error("candidate_too_large").await;
    bob.expect_nothing().await;

    // The candidate line alone over the limit.
    bob.send_json(json!({
        "type": "ice_candidate",
        "candidate": {"candidate": "x".repeat(MAX_CANDIDATE_BYTES + 1), "sdpMid": null,
                      "sdpMLineIndex": null, "usernameFragment": null},
    }))
    .await;
    bob.expect_error("candidate_too_large").await;
    alice.expect_nothing().await;

    let ok = json!({"type": "ok", "sdp": sample_sdp("bob")});
    bob.send_json(ok.clone()).await;
    assert_eq!(alice.recv_json().await, ok);
}

/// An `invite` frame of exactly `len` bytes.
fn invite_frame_of_len(len: usize) -> String {
    let head = r#"{"type":"invite","sdp":""#;
    let tail = r#""}"#;
    let frame = format!("{head}{}{tail}", "x".repeat(len - head.len() - tail.len()));
    assert_eq!(frame.len(), len);
    frame
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frame_of_exactly_128_kib_is_read_and_answered() {
    let app = spawn_app().await;
    let (mut alice, mut bob) = app.seated_pair("kitchen").await;

    alice.send_text(&invite_frame_of_len(MAX_FRAME_BYTES)).await;

    // The SDP inside is too large, but the frame itself is allowed.
    alice.expect_error("sdp_too_large").await;
    bob.expect_nothing().await;
    let invite = json!({"type": "invite", "sdp": sample_sdp("alice")});
    alice.send_json(invite.clone()).await;
    assert_eq!(bob.recv_json().await, invite);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frame_over_128_kib_closes_that_socket_only() {
    let app = spawn_app().await;
    let (mut alice, mut bob) = app.seated_pair("kitchen").await;
    let (mut carol, mut dave) = app.seated_pair("garden").await;

    // The server may cut the connection while the frame is still being written.
    let _ = alice
        .try_send_text(&invite_frame_of_len(MAX_FRAME_BYTES + 1))
        .await;

    alice.expect_closed_within(Duration::from_secs(5)).await;
    // A closed socket counts as bye for Alice's peer...
    assert_eq!(
        bob.recv_json().await,
        json!({"type": "bye", "room": "kitchen"})
    );
    // ...and everyone else carries on.
    let invite = json!({"type": "invite", "sdp": sample_sdp("carol")});
    carol.send_json(invite.clone()).await;
    assert_eq!(dave.recv_json().await, invite);
    let ok = json!({"type": "ok", "sdp": sample_sdp("dave")});
    dave.send_json(ok.clone()).await;
    assert_eq!(carol.recv_json().await, ok);
    let mut erin = app.client("erin").await;
    erin.join_expecting("kitchen", "joined").await;
    bob.expect_type("new_peer").await;
}
