//! The fast path for relayed frames: `invite`, `ok` and `ice_candidate` are validated in one
//! borrowed parse and then forwarded as the very text the browser sent, instead of being decoded
//! into owned strings and encoded again.
//!
//! Only frames that hold exactly the protocol's fields, each well-typed and within its size
//! limit, take this path. Anything else (an unknown or duplicate field, a wrong type, an
//! oversized SDP or candidate) goes through the full decoder and the room rules as before,
//! which answer it exactly as they always did. So the receiver gets the same message either
//! way: a frame taken here is one that re-encoding would only have reformatted.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};
use visavis_shared::limits::{MAX_CANDIDATE_BYTES, MAX_SDP_BYTES};

/// Which relayed message a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayKind {
    Invite,
    Ok,
    IceCandidate,
}

impl RelayKind {
    /// The wire name, for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            RelayKind::Invite => "invite",
            RelayKind::Ok => "ok",
            RelayKind::IceCandidate => "ice_candidate",
        }
    }
}

/// The shape of every relayed message at once; which fields must be present depends on `type`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    sdp: Option<Cow<'a, str>>,
    /// `Some(None)` is an explicit `null` (the end of candidates); `None` is no field at all.
    #[serde(default, borrow, deserialize_with = "present")]
    candidate: Option<Option<Candidate<'a>>>,
}

/// The candidate object, with exactly the fields `IceCandidate` has.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Candidate<'a> {
    #[serde(borrow)]
    candidate: Cow<'a, str>,
    #[serde(default, borrow)]
    sdp_mid: Option<Cow<'a, str>>,
    #[serde(default, rename = "sdpMLineIndex")]
    _sdp_m_line_index: Option<u16>,
    #[serde(default, borrow)]
    username_fragment: Option<Cow<'a, str>>,
}

impl Candidate<'_> {
    /// The same measure as `IceCandidate::size_bytes`.
    fn size_bytes(&self) -> usize {
        self.candidate.len()
            + self.sdp_mid.as_ref().map_or(0, |mid| mid.len())
            + self
                .username_fragment
                .as_ref()
                .map_or(0, |ufrag| ufrag.len())
    }
}

fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// The relayed message `text` is, if it can be forwarded as it is: a well-formed `invite`,
/// `ok` or `ice_candidate` with no other fields and within the size limits. `None` means "use
/// the full decoder", never "invalid".
pub fn forwardable(text: &str) -> Option<RelayKind> {
    // Cheap pre-check: only frames that mention a relayed type are parsed here at all.
    if !(text.contains("ice_candidate") || text.contains("invite") || text.contains("\"ok\"")) {
        return None;
    }
    let frame: Frame = serde_json::from_str(text).ok()?;
    match (frame.kind.as_ref(), &frame.sdp, &frame.candidate) {
        ("invite", Some(sdp), None) if sdp.len() <= MAX_SDP_BYTES => Some(RelayKind::Invite),
        ("ok", Some(sdp), None) if sdp.len() <= MAX_SDP_BYTES => Some(RelayKind::Ok),
        ("ice_candidate", None, Some(candidate))
            if candidate
                .as_ref()
                .is_none_or(|c| c.size_bytes() <= MAX_CANDIDATE_BYTES) =>
        {
            Some(RelayKind::IceCandidate)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use visavis_shared::{decode_client_message, ClientMessage, ServerMessage};

    /// What the receiver would have got through the full path.
    fn relayed_by_full_path(text: &str) -> Option<ServerMessage> {
        match decode_client_message(text).ok()? {
            ClientMessage::Invite { sdp } if sdp.len() <= MAX_SDP_BYTES => {
                Some(ServerMessage::Invite { sdp })
            }
            ClientMessage::Ok { sdp } if sdp.len() <= MAX_SDP_BYTES => {
                Some(ServerMessage::Ok { sdp })
            }
            ClientMessage::IceCandidate { candidate }
                if candidate
                    .as_ref()
                    .is_none_or(|c| c.size_bytes() <= MAX_CANDIDATE_BYTES) =>
            {
                Some(ServerMessage::IceCandidate { candidate })
            }
            _ => None,
        }
    }

    /// A forwarded frame must decode, on the receiving side, to exactly what the full path
    /// would have sent.
    fn assert_same_as_full_path(text: &str) {
        let kind = forwardable(text).unwrap_or_else(|| panic!("not forwardable: {text}"));
        let full = relayed_by_full_path(text).expect("the full path relays it too");
        let received = ServerMessage::from_json(text)
            .expect("the receiver decodes it")
            .expect("a known type");
        assert_eq!(received, full, "{text}");
        assert_eq!(received.kind(), kind.as_str());
    }

    #[test]
    fn well_formed_relays_are_forwarded_as_they_are() {
        for text in [
            r#"{"type":"invite","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}"#,
            r#"{"type":"ok","sdp":"v=0"}"#,
            r#"{"sdp":"v=0","type":"ok"}"#,
            r#"{"type":"ice_candidate","candidate":null}"#,
            r#"{"type":"ice_candidate","candidate":{"candidate":"candidate:1 1 udp 1 192.0.2.1 1 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"ab"}}"#,
            r#"{"type":"ice_candidate","candidate":{"candidate":"","sdpMid":null,"sdpMLineIndex":null}}"#,
            r#"{"type":"invite","sdp":"caf\u00e9 \"quoted\"\r\n"}"#,
        ] {
            assert_same_as_full_path(text);
        }
    }

    #[test]
    fn anything_unusual_takes_the_full_path() {
        let big_sdp = "x".repeat(MAX_SDP_BYTES + 1);
        let big_candidate = "c".repeat(MAX_CANDIDATE_BYTES + 1);
        for text in [
            // Extra fields are stripped by the full path, so they must not be forwarded.
            r#"{"type":"invite","sdp":"v=0","extra":"x"}"#.to_owned(),
            r#"{"type":"ice_candidate","candidate":{"candidate":"a","ip":"192.0.2.1"}}"#.to_owned(),
            // Duplicates, missing or mistyped fields, or fields of another message.
            r#"{"type":"invite","sdp":"a","sdp":"b"}"#.to_owned(),
            r#"{"type":"invite"}"#.to_owned(),
            r#"{"type":"invite","sdp":null}"#.to_owned(),
            r#"{"type":"invite","sdp":1}"#.to_owned(),
            r#"{"type":"ice_candidate"}"#.to_owned(),
            r#"{"type":"ice_candidate","candidate":{"sdpMid":"0"}}"#.to_owned(),
            r#"{"type":"ice_candidate","candidate":{"candidate":"a","sdpMLineIndex":-1}}"#
                .to_owned(),
            r#"{"type":"ok","candidate":null,"sdp":"v=0"}"#.to_owned(),
            r#"{"type":"join","room":"invite"}"#.to_owned(),
            r#"{"type":"bye","room":"ok"}"#.to_owned(),
            // Over the limits: the room rules refuse these with their own error codes.
            format!(r#"{{"type":"invite","sdp":"{big_sdp}"}}"#),
            format!(r#"{{"type":"ice_candidate","candidate":{{"candidate":"{big_candidate}"}}}}"#),
            // An escaped type name is valid but rare: the cheap pre-check leaves it to the
            // full path.
            r#"{"type":"\u0069nvite","sdp":"v=0"}"#.to_owned(),
            // Not JSON, or not an object.
            "invite".to_owned(),
            r#"["invite"]"#.to_owned(),
        ] {
            assert_eq!(forwardable(&text), None, "{text}");
        }
    }
}
