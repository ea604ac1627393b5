//! The messages nodes send each other over Redis pub/sub, and the Redis names they use; no I/O.
//!
//! Every message travels in an [`Envelope`] naming its sender node, the sender's epoch (random
//! per process start, so a restarted node is never mistaken for its former self) and its
//! sequence number on the (sender -> receiver) stream, which `sequence.rs` checks for gaps.
//! Connection ids in a body are always the ids on the node holding the socket.

use serde::{Deserialize, Serialize};
use visavis_shared::{ClientMessage, RoomName};

use crate::relay_frame::RelayKind;
use crate::rooms::Input;

/// The longest node id accepted (it appears in Redis keys and metric labels).
pub const MAX_NODE_ID_BYTES: usize = 64;

/// One node of the cluster, by its id: letters, digits, `-`, `_` and `.` only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NodeId(String);

impl NodeId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for NodeId {
    type Error = String;

    fn try_from(id: String) -> Result<NodeId, String> {
        let valid = !id.is_empty()
            && id.len() <= MAX_NODE_ID_BYTES
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if valid {
            Ok(NodeId(id))
        } else {
            Err(format!(
                "{id:?} is not a node id (1 to {MAX_NODE_ID_BYTES} of A-Z a-z 0-9 - _ .)"
            ))
        }
    }
}

impl From<NodeId> for String {
    fn from(id: NodeId) -> String {
        id.0
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The pub/sub channel a node listens on.
pub fn inbox_channel(node: &NodeId) -> String {
    format!("visavis:inbox:{node}")
}

/// The key that says a node is alive (its value is the node's epoch; it expires unless renewed).
pub fn node_key(node: &NodeId) -> String {
    format!("visavis:node:{node}")
}

/// The key naming the node that owns a room.
pub fn room_key(room: &RoomName) -> String {
    format!("visavis:room:{room}")
}

/// An input of a connection, as it crosses nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "k", content = "m", rename_all = "snake_case")]
pub enum WireInput {
    Message(ClientMessage),
    Disconnected,
    Lost,
}

impl From<Input> for WireInput {
    fn from(input: Input) -> WireInput {
        match input {
            Input::Message(message) => WireInput::Message(message),
            Input::Disconnected => WireInput::Disconnected,
            Input::Lost => WireInput::Lost,
        }
    }
}

impl From<WireInput> for Input {
    fn from(input: WireInput) -> Input {
        match input {
            WireInput::Message(message) => Input::Message(message),
            WireInput::Disconnected => Input::Disconnected,
            WireInput::Lost => Input::Lost,
        }
    }
}

/// The kind of a relayed frame, as it crosses nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireRelayKind {
    Invite,
    Ok,
    IceCandidate,
}

impl From<RelayKind> for WireRelayKind {
    fn from(kind: RelayKind) -> WireRelayKind {
        match kind {
            RelayKind::Invite => WireRelayKind::Invite,
            RelayKind::Ok => WireRelayKind::Ok,
            RelayKind::IceCandidate => WireRelayKind::IceCandidate,
        }
    }
}

impl From<WireRelayKind> for RelayKind {
    fn from(kind: WireRelayKind) -> RelayKind {
        match kind {
            WireRelayKind::Invite => RelayKind::Invite,
            WireRelayKind::Ok => RelayKind::Ok,
            WireRelayKind::IceCandidate => RelayKind::IceCandidate,
        }
    }
}

/// What one node tells another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Body {
    /// Holder -> owner: an input of the holder's connection `conn`. `ack`: answer with
    /// [`Body::Ack`] (the input may change the seat).
    Input {
        conn: u64,
        input: WireInput,
        ack: bool,
    },
    /// Holder -> owner: a validated relay frame of `conn`, as its original text.
    Relay {
        conn: u64,
        kind: WireRelayKind,
        frame: String,
    },
    /// Owner -> holder: a text frame for the holder's connection `conn`.
    Deliver { conn: u64, text: String },
    /// Owner -> holder: whether `conn` holds a seat on the owner after its input. `redirect`:
    /// the owner found another live node owns the room; nothing was done.
    Ack {
        conn: u64,
        seated: bool,
        redirect: Option<NodeId>,
    },
    /// Owner -> holder: the owner let go of `conn` (replaced by a rejoin, not reading, or the
    /// room moved); close its socket as lost.
    Drop { conn: u64 },
}

/// One message on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub from: NodeId,
    pub epoch: u64,
    pub seq: u64,
    pub body: Body,
}

impl Envelope {
    /// The JSON text published.
    pub fn encode(&self) -> String {
        // Serializing these plain types cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a published text; `None` for anything that is not an envelope.
    pub fn decode(text: &[u8]) -> Option<Envelope> {
        serde_json::from_slice(text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str) -> NodeId {
        NodeId::try_from(id.to_owned()).expect("valid fixture")
    }

    #[test]
    fn node_ids_are_checked_because_they_end_up_in_keys() {
        assert!(NodeId::try_from("node-1.a_b".to_owned()).is_ok());
        for bad in ["", "a b", "a:b", "a*", &"x".repeat(65)] {
            assert!(NodeId::try_from(bad.to_owned()).is_err(), "{bad:?}");
        }
        assert!(serde_json::from_str::<NodeId>("\"a:b\"").is_err());
        assert_eq!(inbox_channel(&node("n1")), "visavis:inbox:n1");
        assert_eq!(node_key(&node("n1")), "visavis:node:n1");
        let room = RoomName::try_from("abc").expect("valid room");
        assert_eq!(room_key(&room), "visavis:room:abc");
    }

    #[test]
    fn every_body_survives_the_wire() {
        let room = RoomName::try_from("abc").expect("valid room");
        let bodies = [
            Body::Input {
                conn: 7,
                input: WireInput::Message(ClientMessage::Join { room }),
                ack: true,
            },
            Body::Input {
                conn: 7,
                input: WireInput::Lost,
                ack: false,
            },
            Body::Relay {
                conn: 8,
                kind: WireRelayKind::IceCandidate,
                frame: r#"{"type":"ice_candidate","candidate":"c"}"#.into(),
            },
            Body::Deliver {
                conn: 9,
                text: "{\"type\":\"bye\"}".into(),
            },
            Body::Ack {
                conn: 1,
                seated: false,
                redirect: Some(node("n3")),
            },
            Body::Drop { conn: 2 },
        ];
        for (seq, body) in bodies.into_iter().enumerate() {
            let envelope = Envelope {
                from: node("n1"),
                epoch: u64::MAX,
                seq: seq as u64,
                body,
            };
            let text = envelope.encode();
            assert_eq!(Envelope::decode(text.as_bytes()), Some(envelope));
        }
        assert_eq!(Envelope::decode(b"not json"), None);
        assert_eq!(
            Envelope::decode(br#"{"from":"a b","epoch":1,"seq":1,"body":{"t":"drop","conn":1}}"#),
            None
        );
    }

    #[test]
    fn inputs_and_relay_kinds_map_both_ways() {
        for input in [Input::Lost, Input::Disconnected] {
            assert_eq!(Input::from(WireInput::from(input.clone())), input);
        }
        for kind in [RelayKind::Invite, RelayKind::Ok, RelayKind::IceCandidate] {
            assert_eq!(RelayKind::from(WireRelayKind::from(kind)), kind);
        }
    }
}
