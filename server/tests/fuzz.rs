//! Property-based fuzzing of the frame decoder and the room logic: at least 100k generated inputs
//! per run. Nothing may panic, and the room invariants must hold after every step: at most two
//! per room, and no relay outside the sender's room.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};
use visavis::rooms::{ConnId, Input, Rooms};
use visavis_shared::{decode_client_message, ClientMessage, IceCandidate, RoomName, ServerMessage};

/// Generated inputs per property; the two properties together exceed 100k cases, and every room
/// case is a sequence of many steps.
const CASES: u32 = 60_000;

/// JSON values shaped like client messages, with every field sometimes missing, mistyped or
/// oversized, so the decoder's error paths are exercised as much as its happy path.
fn message_like_json() -> impl Strategy<Value = String> {
    let kind = prop_oneof![
        Just(json!("join")),
        Just(json!("invite")),
        Just(json!("ok")),
        Just(json!("ice_candidate")),
        Just(json!("bye")),
        Just(json!("report")),
        "[a-z_]{0,12}".prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        Just(Value::Null),
    ];
    let field_value = prop_oneof![
        "[A-Za-z0-9._ <>/-]{0,70}".prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
        Just(
            json!({"candidate": "candidate:1 1 udp 1 192.0.2.1 1 typ host", "sdpMid": "0", "sdpMLineIndex": 0})
        ),
        Just(json!([1, "two"])),
    ];
    let field_name = prop_oneof![
        Just("room".to_owned()),
        Just("sdp".to_owned()),
        Just("candidate".to_owned()),
        Just("setup_ms".to_owned()),
        Just("path".to_owned()),
        "[a-z]{1,6}",
    ];
    (
        kind,
        proptest::collection::vec((field_name, field_value), 0..4),
    )
        .prop_map(|(kind, fields)| {
            let mut object = serde_json::Map::new();
            object.insert("type".into(), kind);
            for (name, value) in fields {
                object.insert(name, value);
            }
            Value::Object(object).to_string()
        })
}

fn any_frame() -> impl Strategy<Value = String> {
    prop_oneof![
        message_like_json(),
        any::<String>(),
        "[{}\\[\\]\":,a-z0-9 ]{0,40}"
    ]
}

#[test]
fn the_decoder_never_panics_and_what_it_accepts_round_trips() {
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&any_frame(), |frame| {
            if let Ok(message) = decode_client_message(&frame) {
                let again = decode_client_message(&message.to_json());
                prop_assert_eq!(again, Ok(message));
            }
            Ok(())
        })
        .unwrap();
}

#[derive(Debug, Clone)]
enum Step {
    Join(u8),
    Invite,
    Answer,
    Candidate,
    Bye,
    Disconnect,
}

fn step() -> impl Strategy<Value = (u8, Step)> {
    let step = prop_oneof![
        (0u8..3).prop_map(Step::Join),
        Just(Step::Invite),
        Just(Step::Answer),
        Just(Step::Candidate),
        Just(Step::Bye),
        Just(Step::Disconnect),
    ];
    (0u8..6, step)
}

fn room(index: u8) -> RoomName {
    RoomName::try_from(format!("room-{index}")).expect("generated names are valid")
}

#[test]
fn room_invariants_hold_for_any_sequence_of_inputs() {
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&proptest::collection::vec(step(), 1..40), |steps| {
            let mut rooms = Rooms::new();
            for (conn, step) in steps {
                let conn = ConnId(u64::from(conn));
                let sender_room = rooms.room_of(conn).cloned();
                let input = match step {
                    Step::Join(r) => Input::Message(ClientMessage::Join { room: room(r) }),
                    Step::Invite => Input::Message(ClientMessage::Invite {
                        sdp: "offer".into(),
                    }),
                    Step::Answer => Input::Message(ClientMessage::Ok {
                        sdp: "answer".into(),
                    }),
                    Step::Candidate => Input::Message(ClientMessage::IceCandidate {
                        candidate: Some(IceCandidate {
                            candidate: "c".into(),
                            sdp_mid: None,
                            sdp_m_line_index: None,
                            username_fragment: None,
                        }),
                    }),
                    Step::Bye => Input::Message(ClientMessage::Bye { room: room(0) }),
                    Step::Disconnect => Input::Disconnected,
                };
                let out = rooms.handle(conn, input);
                rooms.check_invariants().map_err(TestCaseError::fail)?;
                for (to, message) in &out {
                    match message {
                        ServerMessage::Invite { .. }
                        | ServerMessage::Ok { .. }
                        | ServerMessage::IceCandidate { .. } => {
                            prop_assert_ne!(*to, conn, "a relay went back to its sender");
                            prop_assert!(sender_room.is_some(), "a relay from a socket in no room");
                            prop_assert_eq!(
                                rooms.room_of(*to),
                                sender_room.as_ref(),
                                "a relay left the sender's room"
                            );
                        }
                        ServerMessage::Error { .. } => {
                            prop_assert_eq!(*to, conn, "an error went to someone else")
                        }
                        _ => {}
                    }
                }
            }
            Ok(())
        })
        .unwrap();
}
