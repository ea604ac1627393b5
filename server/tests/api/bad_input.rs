//! Bad frames get `error{code,message}`, change nothing, and leave the socket usable.

use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::{sample_sdp, spawn_app, TestApp};

/// A frame a broken or hostile client might send.
enum Frame {
    Text(String),
    Binary(Vec<u8>),
}

struct Case {
    what: String,
    frame: Frame,
    code: &'static str,
}

/// Frames that are not JSON at all.
const NOT_JSON: &[(&str, &str)] = &[
    ("truncated JSON", r#"{"type":"join","room":"a""#),
    ("plain words", "hello server"),
    ("an empty frame", ""),
    ("a trailing comma", r#"{"type":"join","room":"a",}"#),
];

/// JSON objects with a `type` this server does not know.
const UNKNOWN_TYPES: &[(&str, &str)] = &[
    ("an unknown type", r#"{"type":"dance"}"#),
    ("a server-only type", r#"{"type":"created","room":"a"}"#),
    ("a type in the wrong case", r#"{"type":"JOIN","room":"a"}"#),
];

/// JSON of the wrong shape: missing or mistyped fields, no object, no type.
const INVALID_MESSAGES: &[(&str, &str)] = &[
    ("join without a room", r#"{"type":"join"}"#),
    ("invite without an sdp", r#"{"type":"invite"}"#),
    ("ok without an sdp", r#"{"type":"ok"}"#),
    ("bye without a room", r#"{"type":"bye"}"#),
    ("a numeric room", r#"{"type":"join","room":5}"#),
    ("a null room", r#"{"type":"join","room":null}"#),
    ("a numeric sdp", r#"{"type":"invite","sdp":42}"#),
    ("an sdp object", r#"{"type":"ok","sdp":{"sdp":"v=0"}}"#),
    (
        "a string candidate",
        r#"{"type":"ice_candidate","candidate":"c"}"#,
    ),
    (
        "a candidate without its line",
        r#"{"type":"ice_candidate","candidate":{}}"#,
    ),
    ("an array", r#"[{"type":"join","room":"a"}]"#),
    ("a bare string", r#""join""#),
    ("a number", "42"),
    ("null", "null"),
    ("an object without a type", r#"{"room":"a"}"#),
    ("a numeric type", r#"{"type":7,"room":"a"}"#),
    ("a null type", r#"{"type":null}"#),
];

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let groups = [
        ("invalid_json", NOT_JSON),
        ("unknown_type", UNKNOWN_TYPES),
        ("invalid_message", INVALID_MESSAGES),
    ];
    for (code, group) in groups {
        for (what, frame) in group {
            cases.push(Case {
                what: what.to_string(),
                frame: Frame::Text(frame.to_string()),
                code,
            });
        }
    }
    let too_long = "a".repeat(65);
    let bad_rooms = ["", &too_long, "my room", "a/b", "<script>", "caf\u{e9}"];
    for room in bad_rooms {
        for kind in ["join", "bye"] {
            cases.push(Case {
                what: format!("{kind} with the room name {room:?}"),
                frame: Frame::Text(json!({"type": kind, "room": room}).to_string()),
                code: "invalid_room",
            });
        }
    }
    // The protocol is text only.
    cases.push(Case {
        what: "a binary frame".to_owned(),
        frame: Frame::Binary(br#"{"type":"join","room":"a"}"#.to_vec()),
        code: "binary_frame",
    });
    cases
}

/// Sends one bad frame from a fresh socket and checks the error, the silence after it, and
/// that a join then works.
async fn check_case(app: &TestApp, index: usize, case: Case) {
    let mut client = app.client(&format!("sender of {}", case.what)).await;
    match &case.frame {
        Frame::Text(text) => client.send_text(text).await,
        Frame::Binary(bytes) => client.send_binary(bytes).await,
    }

    let error = client.recv_json().await;
    assert_eq!(error["type"], "error", "{}: {error}", case.what);
    assert_eq!(error["code"], case.code, "{}: {error}", case.what);
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}: the error needs a message text: {error}",
        case.what
    );
    client.expect_nothing().await;

    // Nothing was joined, and the socket still works.
    client
        .join_expecting(&format!("after-bad-input-{index}"), "created")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_frames_get_an_error_and_the_socket_stays_usable() {
    let app = spawn_app().await;

    join_all(
        cases()
            .into_iter()
            .enumerate()
            .map(|(index, case)| check_case(&app, index, case)),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_frames_from_a_seated_peer_change_nothing_in_its_room() {
    let app = spawn_app().await;
    let (mut alice, mut bob) = app.seated_pair("kitchen").await;

    for case in cases() {
        match &case.frame {
            Frame::Text(text) => alice.send_text(text).await,
            Frame::Binary(bytes) => alice.send_binary(bytes).await,
        }
        let error = alice.recv_json().await;
        assert_eq!(error["type"], "error", "{}: {error}", case.what);
        assert_eq!(error["code"], case.code, "{}: {error}", case.what);
    }
    alice.expect_nothing().await;
    bob.expect_nothing().await;

    // Alice kept her seat next to Bob.
    let invite = json!({"type": "invite", "sdp": sample_sdp("alice")});
    alice.send_json(invite.clone()).await;
    assert_eq!(bob.recv_json().await, invite);
    let mut carol = app.client("carol").await;
    carol.join_expecting("kitchen", "full").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn many_bad_frames_in_a_row_do_not_close_the_socket() {
    let app = spawn_app().await;
    let mut alice = app.client("alice").await;

    for _ in 0..20 {
        alice.send_text("not json").await;
        alice.expect_error("invalid_json").await;
    }

    alice.join_expecting("kitchen", "created").await;
}
