//! Golden JSON for every message, round trips, and the decoder's error codes. These pin the wire
//! format: a failing test here means a browser or server of another version would break.

use serde_json::{json, Value};
use visavis_shared::{
    decode_client_message, ClientMessage, ErrorCode, IceCandidate, IceServer, MediaPath,
    RelayTransport, RoomName, ServerMessage,
};

fn room(name: &str) -> RoomName {
    RoomName::try_from(name).expect("test room names are valid")
}

fn candidate() -> IceCandidate {
    IceCandidate {
        candidate: "candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host".into(),
        sdp_mid: Some("0".into()),
        sdp_m_line_index: Some(0),
        username_fragment: Some("abcd".into()),
    }
}

fn candidate_json() -> Value {
    json!({
        "candidate": "candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host",
        "sdpMid": "0",
        "sdpMLineIndex": 0,
        "usernameFragment": "abcd"
    })
}

fn client_cases() -> Vec<(ClientMessage, Value)> {
    vec![
        (
            ClientMessage::Join { room: room("r1") },
            json!({"type":"join","room":"r1"}),
        ),
        (
            ClientMessage::Invite {
                sdp: "v=0 offer".into(),
            },
            json!({"type":"invite","sdp":"v=0 offer"}),
        ),
        (
            ClientMessage::Ok {
                sdp: "v=0 answer".into(),
            },
            json!({"type":"ok","sdp":"v=0 answer"}),
        ),
        (
            ClientMessage::IceCandidate {
                candidate: Some(candidate()),
            },
            json!({"type":"ice_candidate","candidate": candidate_json()}),
        ),
        (
            ClientMessage::IceCandidate { candidate: None },
            json!({"type":"ice_candidate","candidate": null}),
        ),
        (
            ClientMessage::Bye { room: room("r1") },
            json!({"type":"bye","room":"r1"}),
        ),
        (ClientMessage::Leaving, json!({"type":"leaving"})),
        (
            ClientMessage::Rejoin {
                room: room("r1"),
                seat: "v1.abc.def".into(),
                fresh: false,
            },
            json!({"type":"rejoin","room":"r1","seat":"v1.abc.def","fresh":false}),
        ),
        (
            ClientMessage::Rejoin {
                room: room("r1"),
                seat: "v1.abc.def".into(),
                fresh: true,
            },
            json!({"type":"rejoin","room":"r1","seat":"v1.abc.def","fresh":true}),
        ),
        (
            ClientMessage::Report {
                setup_ms: 850,
                path: MediaPath::Relay,
                relay_transport: None,
            },
            json!({"type":"report","setup_ms":850,"path":"relay"}),
        ),
        (
            ClientMessage::Report {
                setup_ms: 120,
                path: MediaPath::Direct,
                relay_transport: None,
            },
            json!({"type":"report","setup_ms":120,"path":"direct"}),
        ),
        (
            ClientMessage::Report {
                setup_ms: 2100,
                path: MediaPath::Relay,
                relay_transport: Some(RelayTransport::Tcp),
            },
            json!({"type":"report","setup_ms":2100,"path":"relay","relay_transport":"tcp"}),
        ),
        (
            ClientMessage::Report {
                setup_ms: 2600,
                path: MediaPath::Relay,
                relay_transport: Some(RelayTransport::Tls),
            },
            json!({"type":"report","setup_ms":2600,"path":"relay","relay_transport":"tls"}),
        ),
        (
            ClientMessage::Report {
                setup_ms: 900,
                path: MediaPath::Relay,
                relay_transport: Some(RelayTransport::Udp),
            },
            json!({"type":"report","setup_ms":900,"path":"relay","relay_transport":"udp"}),
        ),
    ]
}

fn server_cases() -> Vec<(ServerMessage, Value)> {
    vec![
        (
            ServerMessage::Config {
                ice_servers: vec![
                    IceServer {
                        urls: vec!["stun:stun.example.org:3478".into()],
                        username: None,
                        credential: None,
                    },
                    IceServer {
                        urls: vec!["turn:turn.example.org:3478?transport=udp".into()],
                        username: Some("1700000000:abc".into()),
                        credential: Some("c2VjcmV0".into()),
                    },
                ],
                max_file_bytes: Some(536_870_912),
            },
            json!({"type":"config","ice_servers":[
                {"urls":["stun:stun.example.org:3478"]},
                {"urls":["turn:turn.example.org:3478?transport=udp"],"username":"1700000000:abc","credential":"c2VjcmV0"}
            ],"max_file_bytes":536_870_912}),
        ),
        (
            ServerMessage::Config {
                ice_servers: vec![],
                max_file_bytes: None,
            },
            json!({"type":"config","ice_servers":[]}),
        ),
        (
            ServerMessage::Created {
                room: room("r1"),
                seat: Some("v1.abc.def".into()),
            },
            json!({"type":"created","room":"r1","seat":"v1.abc.def"}),
        ),
        (
            ServerMessage::Created {
                room: room("r1"),
                seat: None,
            },
            json!({"type":"created","room":"r1"}),
        ),
        (
            ServerMessage::Joined {
                room: room("r1"),
                seat: Some("v1.abc.def".into()),
            },
            json!({"type":"joined","room":"r1","seat":"v1.abc.def"}),
        ),
        (
            ServerMessage::Joined {
                room: room("r1"),
                seat: None,
            },
            json!({"type":"joined","room":"r1"}),
        ),
        (
            ServerMessage::Full { room: room("r1") },
            json!({"type":"full","room":"r1"}),
        ),
        (
            ServerMessage::NewPeer {
                room: room("r1"),
                seat: Some("v1.abc.def".into()),
            },
            json!({"type":"new_peer","room":"r1","seat":"v1.abc.def"}),
        ),
        (
            ServerMessage::NewPeer {
                room: room("r1"),
                seat: None,
            },
            json!({"type":"new_peer","room":"r1"}),
        ),
        (
            ServerMessage::Rejoined {
                room: room("r1"),
                seat: "v1.abc.def".into(),
                peer_present: true,
            },
            json!({"type":"rejoined","room":"r1","seat":"v1.abc.def","peer_present":true}),
        ),
        (
            ServerMessage::PeerReconnecting {
                room: room("r1"),
                grace_ms: 20_000,
            },
            json!({"type":"peer_reconnecting","room":"r1","grace_ms":20_000}),
        ),
        (
            ServerMessage::PeerReconnected { room: room("r1") },
            json!({"type":"peer_reconnected","room":"r1"}),
        ),
        (
            ServerMessage::Invite {
                sdp: "v=0 offer".into(),
            },
            json!({"type":"invite","sdp":"v=0 offer"}),
        ),
        (
            ServerMessage::Ok {
                sdp: "v=0 answer".into(),
            },
            json!({"type":"ok","sdp":"v=0 answer"}),
        ),
        (
            ServerMessage::IceCandidate {
                candidate: Some(candidate()),
            },
            json!({"type":"ice_candidate","candidate": candidate_json()}),
        ),
        (
            ServerMessage::IceCandidate { candidate: None },
            json!({"type":"ice_candidate","candidate": null}),
        ),
        (
            ServerMessage::Bye { room: room("r1") },
            json!({"type":"bye","room":"r1"}),
        ),
        (
            ServerMessage::error(ErrorCode::NotInRoom, "join a room first"),
            json!({"type":"error","code":"not_in_room","message":"join a room first"}),
        ),
    ]
}

#[test]
fn every_client_message_has_its_golden_json() {
    for (message, golden) in client_cases() {
        let encoded: Value = serde_json::from_str(&message.to_json()).unwrap();
        assert_eq!(encoded, golden, "{message:?}");
    }
}

#[test]
fn every_client_message_round_trips_through_the_decoder() {
    for (message, golden) in client_cases() {
        assert_eq!(decode_client_message(&golden.to_string()), Ok(message));
    }
}

#[test]
fn every_server_message_has_its_golden_json() {
    for (message, golden) in server_cases() {
        let encoded: Value = serde_json::from_str(&message.to_json()).unwrap();
        assert_eq!(encoded, golden, "{message:?}");
    }
}

#[test]
fn every_server_message_round_trips() {
    for (message, golden) in server_cases() {
        assert_eq!(
            ServerMessage::from_json(&golden.to_string()).unwrap(),
            Some(message)
        );
    }
}

#[test]
fn every_error_code_has_its_wire_name() {
    let codes = [
        ErrorCode::InvalidJson,
        ErrorCode::UnknownType,
        ErrorCode::InvalidMessage,
        ErrorCode::InvalidRoom,
        ErrorCode::BinaryFrame,
        ErrorCode::NotInRoom,
        ErrorCode::AlreadyInRoom,
        ErrorCode::SdpTooLarge,
        ErrorCode::CandidateTooLarge,
        ErrorCode::RateLimited,
        ErrorCode::ServerBusy,
        ErrorCode::SeatInvalid,
        ErrorCode::SeatExpired,
    ];
    for code in codes {
        assert_eq!(serde_json::to_value(code).unwrap(), json!(code.as_str()));
    }
}

#[test]
fn a_client_ignores_a_server_message_type_it_does_not_know() {
    assert_eq!(
        ServerMessage::from_json(r#"{"type":"from_the_future","x":1}"#).unwrap(),
        None
    );
}

#[test]
fn a_client_reads_an_error_code_it_does_not_know_as_unknown() {
    let message = ServerMessage::from_json(r#"{"type":"error","code":"new_code","message":"m"}"#);
    assert_eq!(
        message.unwrap(),
        Some(ServerMessage::error(ErrorCode::Unknown, "m"))
    );
}

#[test]
fn a_known_server_type_with_a_bad_shape_is_an_error() {
    assert!(ServerMessage::from_json(r#"{"type":"created"}"#).is_err());
}

#[test]
fn a_candidate_from_tojson_with_nulls_decodes() {
    let text = r#"{"type":"ice_candidate","candidate":{"candidate":"c","sdpMid":null,"sdpMLineIndex":null,"usernameFragment":null}}"#;
    let decoded = decode_client_message(text).unwrap();
    assert_eq!(
        decoded,
        ClientMessage::IceCandidate {
            candidate: Some(IceCandidate {
                candidate: "c".into(),
                sdp_mid: None,
                sdp_m_line_index: None,
                username_fragment: None
            })
        }
    );
}

fn code_of(text: &str) -> ErrorCode {
    decode_client_message(text).expect_err(text).code
}

#[test]
fn text_that_is_not_json_is_invalid_json() {
    assert_eq!(code_of("{not json"), ErrorCode::InvalidJson);
}

#[test]
fn json_that_is_not_an_object_is_an_invalid_message() {
    assert_eq!(code_of("[1,2]"), ErrorCode::InvalidMessage);
}

#[test]
fn a_message_without_a_type_is_an_invalid_message() {
    assert_eq!(code_of(r#"{"room":"r"}"#), ErrorCode::InvalidMessage);
}

#[test]
fn a_type_that_is_not_a_string_is_an_invalid_message() {
    assert_eq!(code_of(r#"{"type":7}"#), ErrorCode::InvalidMessage);
}

#[test]
fn an_unknown_type_is_unknown_type() {
    assert_eq!(code_of(r#"{"type":"dance"}"#), ErrorCode::UnknownType);
}

#[test]
fn a_join_without_a_room_is_an_invalid_message() {
    assert_eq!(code_of(r#"{"type":"join"}"#), ErrorCode::InvalidMessage);
}

#[test]
fn a_join_with_a_numeric_room_is_an_invalid_message() {
    assert_eq!(
        code_of(r#"{"type":"join","room":5}"#),
        ErrorCode::InvalidMessage
    );
}

#[test]
fn a_join_with_a_bad_room_name_is_invalid_room() {
    assert_eq!(
        code_of(r#"{"type":"join","room":"no spaces"}"#),
        ErrorCode::InvalidRoom
    );
    assert_eq!(
        code_of(r#"{"type":"join","room":""}"#),
        ErrorCode::InvalidRoom
    );
}

#[test]
fn an_invite_without_sdp_is_an_invalid_message() {
    assert_eq!(code_of(r#"{"type":"invite"}"#), ErrorCode::InvalidMessage);
}

#[test]
fn a_candidate_that_is_a_string_is_an_invalid_message() {
    assert_eq!(
        code_of(r#"{"type":"ice_candidate","candidate":"candidate:1"}"#),
        ErrorCode::InvalidMessage
    );
}

#[test]
fn a_report_with_a_relay_transport_this_version_does_not_know_still_counts() {
    let text = r#"{"type":"report","setup_ms":700,"path":"relay","relay_transport":"quic"}"#;
    assert_eq!(
        decode_client_message(text).expect("a report with an unknown transport decodes"),
        ClientMessage::Report {
            setup_ms: 700,
            path: MediaPath::Relay,
            relay_transport: None,
        }
    );
}

#[test]
fn an_unknown_extra_field_is_ignored_for_forward_compatibility() {
    let decoded = decode_client_message(r#"{"type":"ok","sdp":"s","added_later":1}"#);
    assert_eq!(decoded, Ok(ClientMessage::Ok { sdp: "s".into() }));
}

#[test]
fn a_candidate_message_without_its_candidate_field_is_an_invalid_message() {
    assert_eq!(
        code_of(r#"{"type":"ice_candidate"}"#),
        ErrorCode::InvalidMessage
    );
}

#[test]
fn a_rejoin_without_fresh_keeps_the_peer_connection() {
    let message = decode_client_message(r#"{"type":"rejoin","room":"r1","seat":"t"}"#)
        .expect("a rejoin without fresh decodes");
    assert_eq!(
        message,
        ClientMessage::Rejoin {
            room: room("r1"),
            seat: "t".into(),
            fresh: false
        }
    );
}

#[test]
fn a_rejoin_with_an_oversized_token_is_an_invalid_message() {
    let seat = "x".repeat(visavis_shared::limits::MAX_SEAT_TOKEN_BYTES + 1);
    let frame = json!({"type":"rejoin","room":"r1","seat":seat}).to_string();
    assert_eq!(code_of(&frame), ErrorCode::InvalidMessage);
}

#[test]
fn a_rejoin_with_a_bad_room_name_is_invalid_room() {
    assert_eq!(
        code_of(r#"{"type":"rejoin","room":"a b/c","seat":"t"}"#),
        ErrorCode::InvalidRoom
    );
}

#[test]
fn an_unknown_type_with_junk_is_not_echoed() {
    let err = decode_client_message(r#"{"type":"<script>alert(1)</script>"}"#).unwrap_err();
    assert!(!err.message.contains("<script>"));
}

#[test]
fn a_leaving_with_extra_fields_still_decodes() {
    // A later client may say why it leaves; this version only needs the type.
    assert_eq!(
        decode_client_message(r#"{"type":"leaving","reason":"pagehide"}"#),
        Ok(ClientMessage::Leaving)
    );
}
