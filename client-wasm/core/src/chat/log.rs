//! Chat over the data channel: the framing of messages on the wire, the log shown on the page,
//! and time stamps. Pure Rust, unit-tested natively.
//!
//! Every data-channel message is a JSON object with a `kind`: `chat` for a message,
//! `chat_ack` to acknowledge one, and control messages: `media_state` (whether the sender's
//! microphone and camera are on), `video_quality` (the level the sender's video is stepped down
//! to, and why), `network_quality` (the sender's signal bars), `audio_only` (the call drops or
//! takes back its video) and `camera_paused` (the sender's browser stopped its camera while the
//! page was hidden). A receiver ignores kinds it does not know, so old and new pages can talk. Each chat message carries a random `id` so a message that
//! arrives twice is shown once.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::adapt::{Reason, SendLevel};

/// The longest chat message, in characters. Keeps every frame far below the data channel's
/// message size limit.
pub const MAX_CHAT_CHARS: usize = 2000;

/// The largest data-channel frame we try to decode, in bytes; anything bigger is dropped.
pub const MAX_FRAME_BYTES: usize = 16 * 1024;

/// One message on the data channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Frame {
    /// A chat message typed by a person.
    Chat {
        /// A random identifier, unique per message, used to drop duplicates.
        id: String,
        /// The text, shown as text (never as HTML).
        text: String,
        /// When it was sent, in milliseconds since the Unix epoch, by the sender's clock.
        sent_at_ms: f64,
    },
    /// The receiver got the chat message `id` (sent for duplicates too). Until it arrives the
    /// sender keeps the message and sends it again whenever the channel (re)opens, so a
    /// message typed during an outage is delivered once it is over.
    ChatAck {
        /// The id of the message received.
        id: String,
    },
    /// A control message: whether the sender's microphone and camera (or shared screen) are
    /// on. Sent when either changes and when the channel opens.
    MediaState {
        /// The microphone is sending sound.
        audio: bool,
        /// The camera (or a shared screen) is sending pictures.
        video: bool,
    },
    /// A control message: the level the sender's video is sent at, and why it is below full.
    /// Sent when the level changes and when the channel opens.
    VideoQuality {
        /// The level (see [`SendLevel`]).
        level: SendLevel,
        /// Why it was stepped down; `null` at full quality.
        reason: Option<Reason>,
    },
    /// A control message: the sender's network quality score, 0 to 4 bars, as it measures it.
    /// Sent when it changes and when the channel opens.
    NetworkQuality {
        /// The bars (values above 4 are read as 4).
        score: u8,
    },
    /// A control message: audio-only mode on or off for the whole call. The receiver stops
    /// (or resumes) sending video too, so no video flows either way.
    AudioOnly {
        /// Whether the call is audio only now.
        on: bool,
    },
    /// A control message: the sender's browser paused its camera (the page is in the
    /// background), or the camera is back.
    CameraPaused {
        /// Whether the camera is paused now.
        paused: bool,
    },
}

impl Frame {
    /// Encodes the frame as one JSON text message.
    pub fn to_json(&self) -> String {
        // The frame holds only strings and a number; serde_json cannot fail on those, but a
        // failure must not panic in the browser, so fall back to an empty object (ignored by
        // the receiver as an unknown kind).
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// Decodes a received message. `Ok(None)` means a kind this build does not know (or a frame
    /// too large to be ours), which is ignored.
    pub fn from_json(text: &str) -> Result<Option<Frame>, serde_json::Error> {
        if text.len() > MAX_FRAME_BYTES {
            return Ok(None);
        }
        let value: serde_json::Value = serde_json::from_str(text)?;
        let known = matches!(
            value.get("kind").and_then(|k| k.as_str()),
            Some(
                "chat"
                    | "chat_ack"
                    | "media_state"
                    | "video_quality"
                    | "network_quality"
                    | "audio_only"
                    | "camera_paused"
            )
        );
        if !known {
            return Ok(None);
        }
        serde_json::from_value(value).map(Some)
    }
}

/// Cleans up what the person typed before sending: trims it and cuts it to
/// [`MAX_CHAT_CHARS`]. `None` if nothing is left to send.
pub fn prepare_outgoing(typed: &str) -> Option<String> {
    let trimmed = typed.trim();
    if trimmed.is_empty() {
        return None;
    }
    Some(trimmed.chars().take(MAX_CHAT_CHARS).collect())
}

/// Turns random bytes into a message id (lowercase hex).
pub fn message_id(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Who wrote a chat line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Author {
    /// The person at this page.
    You,
    /// The other person.
    Them,
}

impl Author {
    /// The label shown before the message.
    pub fn label(self) -> &'static str {
        match self {
            Author::You => "You",
            Author::Them => "Them",
        }
    }
}

/// One line of the chat log as shown on the page.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatLine {
    /// Who wrote it.
    pub author: Author,
    /// The message id from the frame.
    pub id: String,
    /// The text.
    pub text: String,
    /// The time shown next to it, already formatted (`HH:MM`).
    pub time: String,
}

impl ChatLine {
    /// A key that is unique within a log, for keyed rendering.
    pub fn key(&self) -> (Author, String) {
        (self.author, self.id.clone())
    }
}

/// The chat log of the current call, without duplicates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatLog {
    lines: Vec<ChatLine>,
    seen: HashSet<(Author, String)>,
}

impl ChatLog {
    /// The lines, oldest first.
    pub fn lines(&self) -> &[ChatLine] {
        &self.lines
    }

    /// Appends a line unless one with the same author and id is already there. Returns whether
    /// it was added.
    pub fn push(&mut self, line: ChatLine) -> bool {
        if !self.seen.insert(line.key()) {
            return false;
        }
        self.lines.push(line);
        true
    }

    /// Empties the log (a new call starts with a new conversation).
    pub fn clear(&mut self) {
        self.lines.clear();
        self.seen.clear();
    }
}

/// Formats an instant as a 24-hour `HH:MM` clock time.
///
/// `utc_offset_minutes` is the local zone's offset east of UTC at that instant (the negation
/// of JavaScript's `getTimezoneOffset()`), passed in so this stays testable without a browser.
pub fn clock_time(epoch_ms: f64, utc_offset_minutes: i32) -> String {
    const MINUTES_PER_DAY: i64 = 24 * 60;
    if !epoch_ms.is_finite() {
        return "--:--".into();
    }
    // Floor, so instants before 1970 still land in the right minute.
    let minutes = (epoch_ms / 60_000.0).floor() as i64 + i64::from(utc_offset_minutes);
    let of_day = minutes.rem_euclid(MINUTES_PER_DAY);
    format!("{:02}:{:02}", of_day / 60, of_day % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(author: Author, id: &str) -> ChatLine {
        ChatLine {
            author,
            id: id.into(),
            text: "hi".into(),
            time: "12:00".into(),
        }
    }

    #[test]
    fn a_chat_frame_has_the_documented_wire_format() {
        let frame = Frame::Chat {
            id: "ab12".into(),
            text: "hello".into(),
            sent_at_ms: 1000.0,
        };
        let value: serde_json::Value = serde_json::from_str(&frame.to_json()).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"kind": "chat", "id": "ab12", "text": "hello", "sent_at_ms": 1000.0})
        );
    }

    #[test]
    fn a_chat_ack_has_the_documented_wire_format() {
        let frame = Frame::ChatAck { id: "ab12".into() };
        let value: serde_json::Value = serde_json::from_str(&frame.to_json()).unwrap();
        assert_eq!(value, serde_json::json!({"kind": "chat_ack", "id": "ab12"}));
        assert_eq!(Frame::from_json(&frame.to_json()).unwrap(), Some(frame));
    }

    #[test]
    fn a_chat_frame_survives_a_round_trip() {
        let frame = Frame::Chat {
            id: "x".into(),
            text: "<b>not html</b> & \"quotes\" 🎉".into(),
            sent_at_ms: 1_700_000_000_123.0,
        };
        assert_eq!(Frame::from_json(&frame.to_json()).unwrap(), Some(frame));
    }

    #[test]
    fn control_frames_have_the_documented_wire_format() {
        let cases = [
            (
                Frame::VideoQuality {
                    level: SendLevel::Low,
                    reason: Some(Reason::Loss),
                },
                serde_json::json!({"kind": "video_quality", "level": "low", "reason": "loss"}),
            ),
            (
                Frame::VideoQuality {
                    level: SendLevel::Full,
                    reason: None,
                },
                serde_json::json!({"kind": "video_quality", "level": "full", "reason": null}),
            ),
            (
                Frame::NetworkQuality { score: 3 },
                serde_json::json!({"kind": "network_quality", "score": 3}),
            ),
            (
                Frame::AudioOnly { on: true },
                serde_json::json!({"kind": "audio_only", "on": true}),
            ),
            (
                Frame::CameraPaused { paused: false },
                serde_json::json!({"kind": "camera_paused", "paused": false}),
            ),
        ];
        for (frame, wire) in cases {
            let json = frame.to_json();
            let parsed: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
            assert_eq!(parsed, wire);
            assert_eq!(Frame::from_json(&json).ok().flatten(), Some(frame));
        }
    }

    #[test]
    fn malformed_control_frames_are_errors() {
        assert!(Frame::from_json(r#"{"kind":"video_quality","level":"huge"}"#).is_err());
        assert!(Frame::from_json(r#"{"kind":"network_quality","score":-1}"#).is_err());
        assert!(Frame::from_json(r#"{"kind":"audio_only"}"#).is_err());
    }

    #[test]
    fn a_media_state_frame_has_the_documented_wire_format() {
        let frame = Frame::MediaState {
            audio: false,
            video: true,
        };
        let value: serde_json::Value = serde_json::from_str(&frame.to_json()).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"kind": "media_state", "audio": false, "video": true})
        );
        assert_eq!(Frame::from_json(&frame.to_json()).unwrap(), Some(frame));
    }

    #[test]
    fn a_media_state_frame_with_missing_fields_is_an_error() {
        assert!(Frame::from_json(r#"{"kind":"media_state","audio":true}"#).is_err());
    }

    #[test]
    fn an_unknown_kind_is_ignored() {
        assert_eq!(
            Frame::from_json(r#"{"kind":"typing","on":true}"#).unwrap(),
            None
        );
    }

    #[test]
    fn a_frame_without_a_kind_is_ignored() {
        assert_eq!(Frame::from_json(r#"{"text":"hi"}"#).unwrap(), None);
    }

    #[test]
    fn a_chat_frame_with_missing_fields_is_an_error() {
        assert!(Frame::from_json(r#"{"kind":"chat","text":"hi"}"#).is_err());
    }

    #[test]
    fn text_that_is_not_json_is_an_error() {
        assert!(Frame::from_json("hello").is_err());
    }

    #[test]
    fn an_oversized_frame_is_dropped_without_parsing() {
        let huge = format!(
            r#"{{"kind":"chat","id":"a","text":"{}","sent_at_ms":0}}"#,
            "x".repeat(MAX_FRAME_BYTES)
        );
        assert_eq!(Frame::from_json(&huge).unwrap(), None);
    }

    #[test]
    fn outgoing_text_is_trimmed() {
        assert_eq!(prepare_outgoing("  hi there \n"), Some("hi there".into()));
    }

    #[test]
    fn blank_text_is_not_sent() {
        assert_eq!(prepare_outgoing("   \n\t"), None);
    }

    #[test]
    fn long_text_is_cut_to_the_limit_on_a_character_boundary() {
        let sent = prepare_outgoing(&"é".repeat(MAX_CHAT_CHARS + 10)).unwrap();
        assert_eq!(sent.chars().count(), MAX_CHAT_CHARS);
    }

    #[test]
    fn message_ids_are_lowercase_hex() {
        assert_eq!(message_id(&[0x00, 0xab, 0x0f, 0xff]), "00ab0fff");
    }

    #[test]
    fn a_duplicate_message_is_shown_once() {
        let mut log = ChatLog::default();
        assert!(log.push(line(Author::Them, "1")));
        assert!(!log.push(line(Author::Them, "1")));
        assert_eq!(log.lines().len(), 1);
    }

    #[test]
    fn the_same_id_from_each_side_is_kept_twice() {
        let mut log = ChatLog::default();
        assert!(log.push(line(Author::You, "1")));
        assert!(log.push(line(Author::Them, "1")));
        assert_eq!(log.lines().len(), 2);
    }

    #[test]
    fn clearing_the_log_forgets_seen_ids() {
        let mut log = ChatLog::default();
        log.push(line(Author::You, "1"));
        log.clear();
        assert!(log.lines().is_empty());
        assert!(log.push(line(Author::You, "1")));
    }

    #[test]
    fn lines_keep_their_order() {
        let mut log = ChatLog::default();
        log.push(line(Author::You, "1"));
        log.push(line(Author::Them, "2"));
        let ids: Vec<_> = log.lines().iter().map(|l| l.id.as_str()).collect();
        assert_eq!(ids, ["1", "2"]);
    }

    #[test]
    fn authors_are_labelled_you_and_them() {
        assert_eq!(Author::You.label(), "You");
        assert_eq!(Author::Them.label(), "Them");
    }

    #[test]
    fn clock_time_in_utc() {
        // 2023-11-14T22:13:20Z
        assert_eq!(clock_time(1_700_000_000_000.0, 0), "22:13");
    }

    #[test]
    fn clock_time_applies_the_zone_offset_and_wraps_past_midnight() {
        assert_eq!(clock_time(1_700_000_000_000.0, 120), "00:13");
        assert_eq!(clock_time(1_700_000_000_000.0, -330), "16:43");
    }

    #[test]
    fn clock_time_before_1970_is_still_a_valid_time() {
        assert_eq!(clock_time(-60_000.0, 0), "23:59");
    }

    #[test]
    fn clock_time_of_a_nonsense_instant_is_a_placeholder() {
        assert_eq!(clock_time(f64::NAN, 0), "--:--");
    }
}
