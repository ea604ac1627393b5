//! File transfer's wire format on the `file` data channel: the control frames, the chunks, and
//! the limits applied to what the other side claims. No browser types, so all of it is
//! unit-tested natively; the browser crate's `files/` drives it with real files, Blobs and the
//! channel.
//!
//! # Wire format
//!
//! Text messages are JSON control frames, tagged by `kind`:
//!
//! - `{"kind":"offer","id":7,"name":"a.pdf","size":12345,"mime":"application/pdf"}`: the
//!   sender starts transfer 7. The receiver accepts it without a round trip (or refuses it
//!   with a `cancel`), so the bytes follow at once.
//! - `{"kind":"done","id":7,"sha256":"<64 hex digits>"}`: every byte of 7 was sent; the hash
//!   travels at the end so the sender can compute it while streaming, reading the file once.
//! - `{"kind":"cancel","id":7,"by":"sender"|"receiver","reason":"cancelled"|"too_large"|
//!   "damaged"}`: transfer 7 is over. `by` says whose transfer number `id` is: each side
//!   numbers its own outgoing transfers, so a bare id would be ambiguous when both people send
//!   at once.
//!
//! Binary messages are chunks: a 4-byte big-endian transfer id, then up to
//! [`CHUNK_PAYLOAD_BYTES`] of the file, in order (the channel is ordered and reliable). Several
//! transfers may interleave; the id says which one a chunk belongs to.
//!
//! Everything from the other side is untrusted: unknown or malformed frames are ignored,
//! names are cleaned and cut, sizes over the limit are refused, and a transfer that delivers
//! more bytes than it announced, or bytes whose hash differs, is discarded.

use serde::{Deserialize, Serialize};

use super::view::format_size;

/// The largest binary message sent: 16 KiB, the size every WebRTC implementation is known to
/// handle without splitting or refusing it.
pub const FRAME_BYTES: usize = 16 * 1024;

/// The bytes in front of each chunk: the transfer id.
pub const HEADER_BYTES: usize = 4;

/// The file bytes carried by one chunk.
pub const CHUNK_PAYLOAD_BYTES: usize = FRAME_BYTES - HEADER_BYTES;

/// How much of a file is read at once (`Blob.slice` + `arrayBuffer()`): fewer, larger reads
/// cost far less than one read per chunk, and this is small enough to keep memory flat.
pub const READ_BLOCK_BYTES: usize = 64 * CHUNK_PAYLOAD_BYTES;

/// The sender waits while the channel holds more than this many unsent bytes. Large enough to
/// keep the link busy, far below the browsers' send-buffer limit (16 MiB in Chromium, above
/// which the channel is closed).
pub const HIGH_WATER_BYTES: u32 = 4 * 1024 * 1024;

/// When the unsent bytes fall to this level, the channel's `bufferedamountlow` wakes the
/// sender again.
pub const LOW_WATER_BYTES: u32 = 1024 * 1024;

// Checked when compiling: a sender woken at the low-water mark must be below the high-water
// mark, and blocks must split into whole chunks.
const _: () = assert!(LOW_WATER_BYTES < HIGH_WATER_BYTES);
const _: () = assert!(READ_BLOCK_BYTES.is_multiple_of(CHUNK_PAYLOAD_BYTES));

/// The longest file name kept from an offer, in characters (common file systems allow 255).
pub const MAX_NAME_CHARS: usize = 255;

/// The longest media type kept from an offer, in characters.
pub const MAX_MIME_CHARS: usize = 127;

/// The largest control frame decoded, in bytes; anything bigger is dropped unparsed.
pub const MAX_CONTROL_BYTES: usize = 4 * 1024;

/// The limit used when the server did not name one (an older server): the server's default.
pub const FALLBACK_MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// What a name that cleans up to nothing is shown as.
const UNNAMED: &str = "file";

/// Who sent a `cancel`: the side that sends the file or the side that receives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The `id` is the cancelling side's own outgoing transfer.
    Sender,
    /// The `id` is the other side's transfer, which the cancelling side was receiving.
    Receiver,
}

/// Why a transfer was cancelled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// A person pressed Cancel.
    #[default]
    Cancelled,
    /// The receiver refused the offer: the file is over its limit.
    TooLarge,
    /// The receiver got bytes that do not match what was announced.
    Damaged,
    /// A reason this build does not know.
    #[serde(other)]
    Other,
}

/// One control message on the file channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Control {
    /// The sender starts a transfer.
    Offer {
        /// The sender's number for this transfer.
        id: u32,
        /// The file's name (untrusted: see [`clean_name`]).
        name: String,
        /// The file's size in bytes.
        size: u64,
        /// The file's media type, informational only.
        #[serde(default)]
        mime: String,
    },
    /// The sender has sent every byte.
    Done {
        /// The sender's number for this transfer.
        id: u32,
        /// The SHA-256 of the whole file, in lowercase hex.
        sha256: String,
    },
    /// The transfer is over, unfinished.
    Cancel {
        /// The transfer's number, in the numbering of the side it belongs to (see `by`).
        id: u32,
        /// Who cancels.
        by: Side,
        /// Why.
        #[serde(default)]
        reason: CancelReason,
    },
}

impl Control {
    /// Encodes the frame as one JSON text message.
    pub fn to_json(&self) -> String {
        // Only strings and numbers: serde_json cannot fail on them, but a failure must not
        // panic in the browser, so fall back to an empty object (ignored by the receiver).
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// Decodes a received text message. `Ok(None)` means a kind this build does not know, or a
    /// frame too large to be ours: both are ignored.
    pub fn from_json(text: &str) -> Result<Option<Control>, serde_json::Error> {
        if text.len() > MAX_CONTROL_BYTES {
            return Ok(None);
        }
        let value: serde_json::Value = serde_json::from_str(text)?;
        let known = matches!(
            value.get("kind").and_then(|k| k.as_str()),
            Some("offer" | "done" | "cancel")
        );
        if !known {
            return Ok(None);
        }
        serde_json::from_value(value).map(Some)
    }
}

/// Builds one binary chunk: the transfer id, then `payload`.
pub fn encode_chunk(id: u32, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(HEADER_BYTES + payload.len());
    frame.extend_from_slice(&id.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// Reads a binary chunk's transfer id; `None` if the message is too short to have one.
pub fn chunk_id(frame: &[u8]) -> Option<u32> {
    let header: [u8; HEADER_BYTES] = frame.get(..HEADER_BYTES)?.try_into().ok()?;
    Some(u32::from_be_bytes(header))
}

/// Makes a file name from the other side safe to show and to offer as a download name: no
/// control characters, no path separators (a name is never a path), no leading dots (no
/// hidden files), trimmed, at most [`MAX_NAME_CHARS`] characters, never empty. Markup is left
/// as it is: the page shows names as text, so `<b>` is just three characters.
pub fn clean_name(raw: &str) -> String {
    let replaced: String = raw
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if matches!(c, '/' | '\\') { '_' } else { c })
        .collect();
    let trimmed = replaced.trim().trim_start_matches('.').trim();
    let cut: String = trimmed.chars().take(MAX_NAME_CHARS).collect();
    let cut = cut.trim_end();
    if cut.is_empty() {
        UNNAMED.into()
    } else {
        cut.into()
    }
}

/// Keeps a media type only if it looks like one (`type/subtype`, a small set of characters),
/// else the generic binary type.
pub fn clean_mime(raw: &str) -> String {
    let plausible = !raw.is_empty()
        && raw.len() <= MAX_MIME_CHARS
        && raw.split('/').count() == 2
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/+-.".contains(c));
    if plausible {
        raw.to_ascii_lowercase()
    } else {
        "application/octet-stream".into()
    }
}

/// The limit in force: the operator's, or [`FALLBACK_MAX_FILE_BYTES`] if none was given.
pub fn effective_limit(operator_limit: Option<u64>) -> u64 {
    operator_limit.unwrap_or(FALLBACK_MAX_FILE_BYTES)
}

/// A file over the size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge {
    /// The file's size in bytes.
    pub size: u64,
    /// The limit in bytes.
    pub limit: u64,
}

impl TooLarge {
    /// What the sender is told.
    pub fn sender_text(&self, name: &str) -> String {
        format!(
            "“{name}” is too large to send: it is {}, and this server allows files up to {}.",
            format_size(self.size),
            format_size(self.limit)
        )
    }
}

/// Checks a size against the limit.
pub fn check_size(size: u64, limit: u64) -> Result<(), TooLarge> {
    if size > limit {
        Err(TooLarge { size, limit })
    } else {
        Ok(())
    }
}

/// Lowercase hex of bytes.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const EMPTY_SHA256: &str =
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    pub(crate) const ABC_SHA256: &str =
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn an_offer_has_the_documented_wire_format() {
        let offer = Control::Offer {
            id: 7,
            name: "a.pdf".into(),
            size: 12345,
            mime: "application/pdf".into(),
        };
        let value: serde_json::Value = serde_json::from_str(&offer.to_json()).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"kind": "offer", "id": 7, "name": "a.pdf", "size": 12345,
                               "mime": "application/pdf"})
        );
    }

    #[test]
    fn done_and_cancel_have_the_documented_wire_format() {
        let done = Control::Done {
            id: 1,
            sha256: ABC_SHA256.into(),
        };
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&done.to_json()).unwrap(),
            serde_json::json!({"kind": "done", "id": 1, "sha256": ABC_SHA256})
        );
        let cancel = Control::Cancel {
            id: 2,
            by: Side::Receiver,
            reason: CancelReason::TooLarge,
        };
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&cancel.to_json()).unwrap(),
            serde_json::json!({"kind": "cancel", "id": 2, "by": "receiver", "reason": "too_large"})
        );
    }

    #[test]
    fn every_control_frame_survives_a_round_trip() {
        for frame in [
            Control::Offer {
                id: u32::MAX,
                name: "<img src=x>.txt".into(),
                size: u64::MAX,
                mime: String::new(),
            },
            Control::Done {
                id: 0,
                sha256: EMPTY_SHA256.into(),
            },
            Control::Cancel {
                id: 3,
                by: Side::Sender,
                reason: CancelReason::Cancelled,
            },
        ] {
            assert_eq!(Control::from_json(&frame.to_json()).unwrap(), Some(frame));
        }
    }

    #[test]
    fn an_unknown_kind_is_ignored() {
        assert_eq!(
            Control::from_json(r#"{"kind":"pause","id":1}"#).unwrap(),
            None
        );
        assert_eq!(Control::from_json(r#"{"id":1}"#).unwrap(), None);
    }

    #[test]
    fn malformed_control_frames_are_errors_not_panics() {
        assert!(Control::from_json("not json").is_err());
        assert!(Control::from_json(r#"{"kind":"offer","id":1}"#).is_err());
        assert!(Control::from_json(r#"{"kind":"offer","id":-1,"name":"a","size":1}"#).is_err());
        assert!(Control::from_json(r#"{"kind":"cancel","id":1,"by":"someone"}"#).is_err());
    }

    #[test]
    fn an_offer_without_a_mime_type_is_accepted() {
        assert_eq!(
            Control::from_json(r#"{"kind":"offer","id":1,"name":"a","size":3}"#).unwrap(),
            Some(Control::Offer {
                id: 1,
                name: "a".into(),
                size: 3,
                mime: String::new()
            })
        );
    }

    #[test]
    fn a_cancel_with_an_unknown_reason_is_still_a_cancel() {
        assert_eq!(
            Control::from_json(r#"{"kind":"cancel","id":1,"by":"sender","reason":"bored"}"#)
                .unwrap(),
            Some(Control::Cancel {
                id: 1,
                by: Side::Sender,
                reason: CancelReason::Other
            })
        );
    }

    #[test]
    fn an_oversized_control_frame_is_dropped_without_parsing() {
        let huge = format!(
            r#"{{"kind":"offer","id":1,"name":"{}","size":1}}"#,
            "x".repeat(MAX_CONTROL_BYTES)
        );
        assert_eq!(Control::from_json(&huge).unwrap(), None);
    }

    #[test]
    fn a_chunk_carries_its_transfer_id_in_front() {
        let frame = encode_chunk(0x0102_0304, b"data");
        assert_eq!(frame, b"\x01\x02\x03\x04data");
        assert_eq!(chunk_id(&frame), Some(0x0102_0304));
        assert_eq!(&frame[HEADER_BYTES..], b"data");
    }

    #[test]
    fn a_message_shorter_than_the_header_is_not_a_chunk() {
        assert_eq!(chunk_id(b"\x01\x02\x03"), None);
        assert_eq!(chunk_id(b""), None);
        assert_eq!(chunk_id(b"\0\0\0\x05"), Some(5));
    }

    #[test]
    fn a_full_chunk_fits_the_frame_size() {
        assert_eq!(
            encode_chunk(1, &[0; CHUNK_PAYLOAD_BYTES]).len(),
            FRAME_BYTES
        );
    }

    #[test]
    fn names_keep_markup_as_plain_characters() {
        let payload = r#"<img src=x onerror="document.body.dataset.pwned=1">.txt"#;
        assert_eq!(clean_name(payload), payload);
    }

    #[test]
    fn names_lose_path_separators_control_characters_and_leading_dots() {
        assert_eq!(clean_name("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(clean_name("a\\b"), "a_b");
        assert_eq!(clean_name("line\nbreak\u{0}.txt"), "linebreak.txt");
        assert_eq!(clean_name("  .hidden "), "hidden");
    }

    #[test]
    fn an_empty_name_becomes_file() {
        assert_eq!(clean_name(""), "file");
        assert_eq!(clean_name(" \t\u{7}.. "), "file");
    }

    #[test]
    fn long_names_are_cut_on_a_character_boundary() {
        let name = clean_name(&"é".repeat(MAX_NAME_CHARS + 50));
        assert_eq!(name.chars().count(), MAX_NAME_CHARS);
    }

    #[test]
    fn only_plausible_media_types_are_kept() {
        assert_eq!(clean_mime("Image/PNG"), "image/png");
        assert_eq!(
            clean_mime("application/vnd.ms-excel"),
            "application/vnd.ms-excel"
        );
        for bad in ["", "text", "text/html; charset=utf-8", "a/b/c", "<x>/y"] {
            assert_eq!(clean_mime(bad), "application/octet-stream", "{bad:?}");
        }
    }

    #[test]
    fn the_operator_limit_wins_and_a_missing_one_falls_back() {
        assert_eq!(effective_limit(Some(1024)), 1024);
        assert_eq!(effective_limit(None), FALLBACK_MAX_FILE_BYTES);
    }

    #[test]
    fn a_size_at_the_limit_passes_and_one_byte_more_does_not() {
        assert_eq!(check_size(1024, 1024), Ok(()));
        assert_eq!(
            check_size(1025, 1024),
            Err(TooLarge {
                size: 1025,
                limit: 1024
            })
        );
    }

    #[test]
    fn the_refusal_names_the_file_its_size_and_the_limit() {
        let text = TooLarge {
            size: 2 * 1024 * 1024,
            limit: 1024 * 1024,
        }
        .sender_text("big.bin");
        assert!(text.contains("big.bin"), "{text}");
        assert!(text.contains("too large"), "{text}");
        assert!(text.contains("2.0 MB") && text.contains("1.0 MB"), "{text}");
    }
}
