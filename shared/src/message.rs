//! The message enums, named by direction: `ClientMessage` (browser to server) and `ServerMessage`
//! (server to browser). JSON, internally tagged by `"type"` in snake_case.
//!
//! Compatibility rule: only ever add variants and optional fields. Receivers ignore message types
//! they do not know.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::room::RoomName;

/// A message a browser sends to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
// Unknown extra fields are ignored rather than refused, so a newer client that adds an optional
// field still works with this server.
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Take a seat in `room`.
    Join { room: RoomName },
    /// An SDP offer, relayed to the other peer of the sender's room.
    Invite { sdp: String },
    /// An SDP answer, relayed to the other peer of the sender's room.
    Ok { sdp: String },
    /// A trickled ICE candidate (`null` marks the end of candidates), relayed like SDP.
    /// The field is required: only an explicit `null` means the end of candidates.
    IceCandidate {
        #[serde(deserialize_with = "Option::deserialize")]
        candidate: Option<IceCandidate>,
    },
    /// Leave the room; the other peer is told.
    Bye { room: RoomName },
    /// The page is going away (`pagehide`: the tab closed, or it navigates or reloads). Sent
    /// just before the socket closes with 1001, which alone cannot tell a closed tab from a
    /// reload: after `leaving` the seat is held only for the short leaving grace, long enough
    /// for a reload to `rejoin`, instead of the full grace period of a lost network. Harmless
    /// without a seat; never answered.
    Leaving,
    /// Take back our seat in `room` after the signaling socket dropped (or the page reloaded,
    /// or the server restarted), proving it with the `seat` token from `created`, `joined`,
    /// `new_peer` or `rejoined`. Answered with `rejoined`, or `error` with `seat_invalid` or
    /// `seat_expired`. Never answered with `full`.
    Rejoin {
        room: RoomName,
        /// The latest seat token the server gave us; opaque to the client.
        seat: String,
        /// True when this page no longer has its peer connection (it was reloaded): the other
        /// peer is then sent `new_peer` and starts the call afresh. False keeps the existing
        /// connection, and nothing is renegotiated.
        #[serde(default)]
        fresh: bool,
    },
    /// How the call went, for the operator's metrics: the time from joining to media flowing,
    /// and whether the media path is direct or relayed. Carries no addresses.
    Report {
        setup_ms: u32,
        path: MediaPath,
        /// For a relayed path: how this browser reaches its relay (the selected pair's local
        /// relay candidate's `relayProtocol`). Absent for direct paths, from older clients, or
        /// when the relay is on the other end only. A value this version does not know reads
        /// as absent, so a newer client's report still counts.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "lenient_relay_transport"
        )]
        relay_transport: Option<RelayTransport>,
    },
}

/// Reads an optional relay transport, taking unknown strings as absent.
fn lenient_relay_transport<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<RelayTransport>, D::Error> {
    let text: Option<String> = Option::deserialize(deserializer)?;
    Ok(text
        .as_deref()
        .and_then(RelayTransport::from_relay_protocol))
}

/// How a browser reaches its TURN relay: `relayProtocol` in `getStats`. Toward the other peer a
/// relay always sends UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelayTransport {
    /// TURN over UDP.
    Udp,
    /// TURN over TCP.
    Tcp,
    /// TURN over TLS over TCP.
    Tls,
}

impl RelayTransport {
    /// The wire name, for metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            RelayTransport::Udp => "udp",
            RelayTransport::Tcp => "tcp",
            RelayTransport::Tls => "tls",
        }
    }

    /// Parses `getStats`' `relayProtocol` (`udp`, `tcp` or `tls`); anything else is `None`.
    pub fn from_relay_protocol(protocol: &str) -> Option<RelayTransport> {
        match protocol {
            "udp" => Some(RelayTransport::Udp),
            "tcp" => Some(RelayTransport::Tcp),
            "tls" => Some(RelayTransport::Tls),
            _ => None,
        }
    }
}

/// Whether a call's media flows directly between the browsers or through a TURN relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaPath {
    /// host, srflx or prflx candidates on both ends.
    Direct,
    /// A relay candidate on at least one end.
    Relay,
}

impl MediaPath {
    /// The wire name, for metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaPath::Direct => "direct",
            MediaPath::Relay => "relay",
        }
    }
}

/// A message the server sends to a browser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Sent right after the socket opens, and again before TURN credentials expire: the ICE
    /// servers the page should use, and the largest file a peer may send. An extension of the
    /// lab's message set; older clients ignore it.
    Config {
        ice_servers: Vec<IceServer>,
        /// The operator's limit on one file transfer, in bytes; absent means no limit was set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_file_bytes: Option<u64>,
    },
    /// You are the first in `room`: you are the Caller, wait for `new_peer`. `seat` is the token
    /// that reclaims this seat with `rejoin`.
    Created {
        room: RoomName,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seat: Option<String>,
    },
    /// You are the second in `room`: you are the Callee, wait for `invite`. `seat` as in
    /// `created`.
    Joined {
        room: RoomName,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seat: Option<String>,
    },
    /// `room` already has two people; you were not admitted.
    Full { room: RoomName },
    /// Someone joined your room (or the other peer came back without its peer connection):
    /// send the offer now, on a new peer connection. `seat` replaces your seat token.
    NewPeer {
        room: RoomName,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seat: Option<String>,
    },
    /// Your `rejoin` worked: you have your seat back. `seat` replaces your token (the old one no
    /// longer works); `peer_present` says whether the other person is connected right now.
    Rejoined {
        room: RoomName,
        seat: String,
        peer_present: bool,
    },
    /// The other peer's connection dropped without a goodbye. Its seat is held for `grace_ms`;
    /// `peer_reconnected` follows if it comes back in time, `bye` if not.
    PeerReconnecting { room: RoomName, grace_ms: u64 },
    /// The other peer took its seat back and kept its peer connection.
    PeerReconnected { room: RoomName },
    /// The other peer's SDP offer, unchanged.
    Invite { sdp: String },
    /// The other peer's SDP answer, unchanged.
    Ok { sdp: String },
    /// The other peer's ICE candidate, unchanged.
    IceCandidate { candidate: Option<IceCandidate> },
    /// The other peer left `room` (hung up, closed the tab or lost its connection).
    Bye { room: RoomName },
    /// Your last message was refused; nothing else happened.
    Error { code: ErrorCode, message: String },
}

/// An ICE candidate as `RTCIceCandidate.toJSON()` gives it. The server relays it without looking
/// inside `candidate`, which carries an IP address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IceCandidate {
    /// The `candidate:` attribute line.
    pub candidate: String,
    /// The media stream identification tag, if any.
    #[serde(default)]
    pub sdp_mid: Option<String>,
    /// The index of the m-line, if any.
    #[serde(default, rename = "sdpMLineIndex")]
    pub sdp_m_line_index: Option<u16>,
    /// The ICE username fragment, if any.
    #[serde(default)]
    pub username_fragment: Option<String>,
}

impl IceCandidate {
    /// The size the server's limit applies to: the bytes of all string fields.
    pub fn size_bytes(&self) -> usize {
        self.candidate.len()
            + self.sdp_mid.as_ref().map_or(0, String::len)
            + self.username_fragment.as_ref().map_or(0, String::len)
    }
}

/// One entry of `RTCConfiguration.iceServers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// `stun:`, `turn:` or `turns:` URLs.
    pub urls: Vec<String>,
    /// The TURN username, if the server needs one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The TURN password, if the server needs one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// Why the server refused a message. Serialised as a snake_case string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not JSON.
    InvalidJson,
    /// The JSON has a `type` this server does not know.
    UnknownType,
    /// A field is missing, mistyped or unexpected.
    InvalidMessage,
    /// The room name breaks the naming rules.
    InvalidRoom,
    /// A binary frame; the protocol is text only.
    BinaryFrame,
    /// A relay message from a socket that has not joined a room.
    NotInRoom,
    /// A `join` from a socket that already has a seat.
    AlreadyInRoom,
    /// An SDP over the size limit; not relayed.
    SdpTooLarge,
    /// A candidate over the size limit; not relayed.
    CandidateTooLarge,
    /// Too many messages too fast.
    RateLimited,
    /// The server is at a capacity limit.
    ServerBusy,
    /// A `rejoin` token that this server did not sign, that names another room, or that is
    /// spent (a newer token of the seat has been used since).
    SeatInvalid,
    /// A `rejoin` for a seat that no longer exists: its grace period ran out or the call ended.
    SeatExpired,
    /// A code from a newer server; clients keep working.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The wire name of the code, for logs and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::InvalidMessage => "invalid_message",
            ErrorCode::InvalidRoom => "invalid_room",
            ErrorCode::BinaryFrame => "binary_frame",
            ErrorCode::NotInRoom => "not_in_room",
            ErrorCode::AlreadyInRoom => "already_in_room",
            ErrorCode::SdpTooLarge => "sdp_too_large",
            ErrorCode::CandidateTooLarge => "candidate_too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::ServerBusy => "server_busy",
            ErrorCode::SeatInvalid => "seat_invalid",
            ErrorCode::SeatExpired => "seat_expired",
            ErrorCode::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ClientMessage {
    /// The wire name of the message type, safe to log (it carries no SDP or addresses).
    pub fn kind(&self) -> &'static str {
        match self {
            ClientMessage::Join { .. } => "join",
            ClientMessage::Invite { .. } => "invite",
            ClientMessage::Ok { .. } => "ok",
            ClientMessage::IceCandidate { .. } => "ice_candidate",
            ClientMessage::Bye { .. } => "bye",
            ClientMessage::Leaving => "leaving",
            ClientMessage::Rejoin { .. } => "rejoin",
            ClientMessage::Report { .. } => "report",
        }
    }
}

impl ServerMessage {
    /// Shorthand for an error reply.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> ServerMessage {
        ServerMessage::Error {
            code,
            message: message.into(),
        }
    }

    /// The wire name of the message type, safe to log.
    pub fn kind(&self) -> &'static str {
        match self {
            ServerMessage::Config { .. } => "config",
            ServerMessage::Created { .. } => "created",
            ServerMessage::Joined { .. } => "joined",
            ServerMessage::Full { .. } => "full",
            ServerMessage::NewPeer { .. } => "new_peer",
            ServerMessage::Invite { .. } => "invite",
            ServerMessage::Ok { .. } => "ok",
            ServerMessage::IceCandidate { .. } => "ice_candidate",
            ServerMessage::Bye { .. } => "bye",
            ServerMessage::Rejoined { .. } => "rejoined",
            ServerMessage::PeerReconnecting { .. } => "peer_reconnecting",
            ServerMessage::PeerReconnected { .. } => "peer_reconnected",
            ServerMessage::Error { .. } => "error",
        }
    }

    /// Encodes the message as one JSON text frame.
    pub fn to_json(&self) -> String {
        // unwrap: every field is a string, number, bool, Option or Vec of those, which
        // serde_json always serialises.
        serde_json::to_string(self).expect("server messages always serialise")
    }

    /// Decodes a server frame. `Ok(None)` means a well-formed message of a type this build
    /// does not know, which a client must ignore.
    pub fn from_json(text: &str) -> Result<Option<ServerMessage>, serde_json::Error> {
        match serde_json::from_str::<ServerMessage>(text) {
            Ok(message) => Ok(Some(message)),
            Err(err) => {
                let value: serde_json::Value = serde_json::from_str(text)?;
                let known = value
                    .get("type")
                    .and_then(|t| t.as_str())
                    .is_some_and(|t| SERVER_TYPES.contains(&t));
                if known {
                    Err(err)
                } else {
                    Ok(None)
                }
            }
        }
    }
}

impl ClientMessage {
    /// Encodes the message as one JSON text frame.
    pub fn to_json(&self) -> String {
        // unwrap: as for ServerMessage, every field serialises.
        serde_json::to_string(self).expect("client messages always serialise")
    }
}

/// Every `type` a `ServerMessage` can carry.
pub const SERVER_TYPES: &[&str] = &[
    "config",
    "created",
    "joined",
    "full",
    "new_peer",
    "invite",
    "ok",
    "ice_candidate",
    "bye",
    "rejoined",
    "peer_reconnecting",
    "peer_reconnected",
    "error",
];

/// Every `type` a `ClientMessage` can carry.
pub const CLIENT_TYPES: &[&str] = &[
    "join",
    "invite",
    "ok",
    "ice_candidate",
    "bye",
    "leaving",
    "rejoin",
    "report",
];
