//! File transfer, the plain-logic half: the wire format of the `file` data channel, the
//! bookkeeping of one transfer in each direction (bytes counted, SHA-256 computed as the bytes
//! go by, the result checked), the limits applied to what the other side claims, and the rows
//! the page shows. No browser types, so all of it is unit-tested natively; `transfers.rs`
//! drives it with real files, Blobs and the channel.
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
use sha2::{Digest, Sha256};

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

/// The sending side of one transfer: counts and hashes the bytes as they are read.
#[derive(Debug, Clone)]
pub struct Outgoing {
    size: u64,
    sent: u64,
    hasher: Sha256,
}

impl Outgoing {
    /// Starts sending a file of `size` bytes.
    pub fn new(size: u64) -> Outgoing {
        Outgoing {
            size,
            sent: 0,
            hasher: Sha256::new(),
        }
    }

    /// Takes the next bytes of the file, in order.
    pub fn add(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.sent += bytes.len() as u64;
    }

    /// The bytes taken so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Whether every byte of the file was taken.
    pub fn is_complete(&self) -> bool {
        self.sent == self.size
    }

    /// The SHA-256 of the bytes taken, in lowercase hex.
    pub fn finish(self) -> String {
        to_hex(&self.hasher.finalize())
    }
}

/// Why a received transfer is discarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Damage {
    /// More bytes arrived than the offer announced.
    Overrun,
    /// `done` came before all the announced bytes.
    Short {
        /// Bytes announced.
        expected: u64,
        /// Bytes received.
        received: u64,
    },
    /// The bytes' hash differs from the sender's.
    HashMismatch,
}

/// The receiving side of one transfer: the validated offer, the bytes counted and hashed as
/// they arrive, and the final check. The bytes themselves are kept by the caller (as browser
/// Blobs, so they are never copied into this module's memory for longer than a hash update).
#[derive(Debug, Clone)]
pub struct Incoming {
    name: String,
    size: u64,
    received: u64,
    hasher: Sha256,
}

impl Incoming {
    /// Accepts an offer of `size` bytes named `raw_name`, or refuses it if it is over `limit`.
    pub fn from_offer(raw_name: &str, size: u64, limit: u64) -> Result<Incoming, TooLarge> {
        check_size(size, limit)?;
        Ok(Incoming {
            name: clean_name(raw_name),
            size,
            received: 0,
            hasher: Sha256::new(),
        })
    }

    /// The cleaned name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The announced size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Takes the next chunk. Refuses (and the transfer must be dropped) if it would make the
    /// file longer than announced: a peer must not make us hold more than the limit allowed.
    pub fn accept(&mut self, payload: &[u8]) -> Result<(), Damage> {
        let len = payload.len() as u64;
        if self.received + len > self.size {
            return Err(Damage::Overrun);
        }
        self.hasher.update(payload);
        self.received += len;
        Ok(())
    }

    /// Checks the whole file against the sender's hash; gives the verified hash (lowercase
    /// hex) on success.
    pub fn finish(self, claimed_sha256: &str) -> Result<String, Damage> {
        if self.received != self.size {
            return Err(Damage::Short {
                expected: self.size,
                received: self.received,
            });
        }
        let actual = to_hex(&self.hasher.finalize());
        if claimed_sha256.eq_ignore_ascii_case(&actual) {
            Ok(actual)
        } else {
            Err(Damage::HashMismatch)
        }
    }
}

/// Which way a transfer goes, seen from this page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From this page to the other person.
    Outgoing,
    /// From the other person to this page.
    Incoming,
}

impl Direction {
    /// The value of the row's `data-direction`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Outgoing => "outgoing",
            Direction::Incoming => "incoming",
        }
    }
}

/// Where a transfer is, as the page shows it (and publishes in `data-state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferState {
    /// Announced; no bytes yet.
    Offered,
    /// This page is sending bytes.
    Sending,
    /// This page is receiving bytes.
    Receiving,
    /// Sent completely, or received and verified.
    Done,
    /// Stopped by one of the two people.
    Cancelled,
    /// Refused, damaged, or cut off by the connection.
    Failed,
}

impl TransferState {
    /// The value of the row's `data-state`.
    pub fn as_str(self) -> &'static str {
        match self {
            TransferState::Offered => "offered",
            TransferState::Sending => "sending",
            TransferState::Receiving => "receiving",
            TransferState::Done => "done",
            TransferState::Cancelled => "cancelled",
            TransferState::Failed => "failed",
        }
    }

    /// Whether bytes may still move (and Cancel makes sense).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            TransferState::Offered | TransferState::Sending | TransferState::Receiving
        )
    }
}

/// One row of the transfers list: plain data, written by the controller, read by the page.
#[derive(Debug, Clone, PartialEq)]
pub struct TransferView {
    /// Which way it goes.
    pub direction: Direction,
    /// The sending side's number for it.
    pub id: u32,
    /// The cleaned file name, shown as text.
    pub name: String,
    /// The size in bytes.
    pub size: u64,
    /// Bytes moved so far.
    pub bytes: u64,
    /// Where it is.
    pub state: TransferState,
    /// The file's SHA-256 (lowercase hex): once computed (sender) or verified (receiver).
    pub sha256: Option<String>,
    /// The `blob:` URL of a received, verified file.
    pub url: Option<String>,
    /// A sentence about the outcome (why it failed, who cancelled), if any.
    pub note: Option<String>,
}

impl TransferView {
    /// A new row at the start of a transfer.
    pub fn new(direction: Direction, id: u32, name: String, size: u64) -> TransferView {
        TransferView {
            direction,
            id,
            name,
            size,
            bytes: 0,
            state: TransferState::Offered,
            sha256: None,
            url: None,
            note: None,
        }
    }

    /// A key unique within the list, for keyed rendering.
    pub fn key(&self) -> (Direction, u32) {
        (self.direction, self.id)
    }

    /// The whole percentage done, 100 only when every byte has moved.
    pub fn percent(&self) -> u8 {
        percent(self.bytes, self.size)
    }

    /// The `max` of the progress bar (never 0, so an empty file shows as a full bar).
    pub fn progress_max(&self) -> u64 {
        self.size.max(1)
    }

    /// The `value` of the progress bar.
    pub fn progress_value(&self) -> u64 {
        if self.size == 0 && self.state == TransferState::Done {
            1
        } else {
            self.bytes.min(self.size)
        }
    }

    /// The short text next to the bar.
    pub fn label(&self) -> String {
        let percent = self.percent();
        match (self.state, self.direction) {
            (TransferState::Offered, Direction::Outgoing) => "Waiting to send…".into(),
            (TransferState::Offered, Direction::Incoming) => "Waiting for the first bytes…".into(),
            (TransferState::Sending, _) => format!("Sending… {percent}%"),
            (TransferState::Receiving, _) => format!("Receiving… {percent}%"),
            (TransferState::Done, Direction::Outgoing) => "Sent".into(),
            (TransferState::Done, Direction::Incoming) => "Received and verified".into(),
            (TransferState::Cancelled, _) => "Cancelled".into(),
            (TransferState::Failed, _) => "Failed".into(),
        }
    }
}

/// The whole percentage of `done` out of `total`, rounded down so that 100 means complete.
pub fn percent(done: u64, total: u64) -> u8 {
    if total == 0 {
        return if done == 0 { 0 } else { 100 };
    }
    let done = done.min(total);
    // u128: done * 100 cannot overflow.
    (u128::from(done) * 100 / u128::from(total)) as u8
}

/// A byte count for people: `512 bytes`, `1.5 KB`, `20.0 MB`, `1.2 GB` (powers of 1024).
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return if bytes == 1 {
            "1 byte".into()
        } else {
            format!("{bytes} bytes")
        };
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

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

    #[test]
    fn the_sender_hashes_what_it_sends() {
        let mut out = Outgoing::new(3);
        out.add(b"a");
        assert!(!out.is_complete());
        out.add(b"bc");
        assert!(out.is_complete());
        assert_eq!(out.sent(), 3);
        assert_eq!(out.finish(), ABC_SHA256);
    }

    #[test]
    fn a_file_received_whole_and_unchanged_is_verified() {
        let mut incoming = Incoming::from_offer("abc.txt", 3, 10).unwrap();
        incoming.accept(b"ab").unwrap();
        assert_eq!(incoming.received(), 2);
        incoming.accept(b"c").unwrap();
        assert_eq!(
            incoming.finish(&ABC_SHA256.to_uppercase()),
            Ok(ABC_SHA256.into())
        );
    }

    #[test]
    fn an_empty_file_is_verified_without_chunks() {
        let incoming = Incoming::from_offer("empty", 0, 10).unwrap();
        assert_eq!(incoming.finish(EMPTY_SHA256), Ok(EMPTY_SHA256.into()));
    }

    #[test]
    fn changed_bytes_are_reported_as_damage() {
        let mut incoming = Incoming::from_offer("abc.txt", 3, 10).unwrap();
        incoming.accept(b"abd").unwrap();
        assert_eq!(incoming.finish(ABC_SHA256), Err(Damage::HashMismatch));
    }

    #[test]
    fn a_hash_that_is_not_hex_is_damage() {
        let mut incoming = Incoming::from_offer("abc.txt", 3, 10).unwrap();
        incoming.accept(b"abc").unwrap();
        assert_eq!(incoming.finish("<script>"), Err(Damage::HashMismatch));
    }

    #[test]
    fn done_before_every_byte_arrived_is_damage() {
        let mut incoming = Incoming::from_offer("abc.txt", 3, 10).unwrap();
        incoming.accept(b"ab").unwrap();
        assert_eq!(
            incoming.finish(ABC_SHA256),
            Err(Damage::Short {
                expected: 3,
                received: 2
            })
        );
    }

    #[test]
    fn bytes_beyond_the_announced_size_are_refused() {
        let mut incoming = Incoming::from_offer("abc.txt", 3, 10).unwrap();
        incoming.accept(b"ab").unwrap();
        assert_eq!(incoming.accept(b"cd"), Err(Damage::Overrun));
        assert_eq!(incoming.received(), 2);
    }

    #[test]
    fn an_offer_over_the_limit_is_refused() {
        assert_eq!(
            Incoming::from_offer("big", 11, 10).unwrap_err(),
            TooLarge {
                size: 11,
                limit: 10
            }
        );
        assert!(Incoming::from_offer("huge", u64::MAX, FALLBACK_MAX_FILE_BYTES).is_err());
    }

    #[test]
    fn an_accepted_offer_keeps_the_cleaned_name_and_size() {
        let incoming = Incoming::from_offer("dir/x.txt", 5, 10).unwrap();
        assert_eq!(incoming.name(), "dir_x.txt");
        assert_eq!(incoming.size(), 5);
    }

    #[test]
    fn percentages_round_down_and_reach_100_only_when_complete() {
        assert_eq!(percent(0, 100), 0);
        assert_eq!(percent(999, 1000), 99);
        assert_eq!(percent(1000, 1000), 100);
        assert_eq!(percent(5000, 1000), 100);
        assert_eq!(percent(u64::MAX - 1, u64::MAX), 99);
        assert_eq!(percent(0, 0), 0);
    }

    #[test]
    fn sizes_are_shown_in_readable_units() {
        assert_eq!(format_size(0), "0 bytes");
        assert_eq!(format_size(1), "1 byte");
        assert_eq!(format_size(1023), "1023 bytes");
        assert_eq!(format_size(1536), "1.5 KB");
        assert_eq!(format_size(20 * 1024 * 1024), "20.0 MB");
        assert_eq!(format_size(3 * 1024 * 1024 * 1024), "3.0 GB");
    }

    #[test]
    fn an_empty_file_shows_a_full_bar_once_done() {
        let mut row = TransferView::new(Direction::Incoming, 1, "e".into(), 0);
        assert_eq!((row.progress_value(), row.progress_max()), (0, 1));
        row.state = TransferState::Done;
        assert_eq!((row.progress_value(), row.progress_max()), (1, 1));
    }

    #[test]
    fn rows_publish_the_documented_state_and_direction_names() {
        assert_eq!(Direction::Outgoing.as_str(), "outgoing");
        assert_eq!(Direction::Incoming.as_str(), "incoming");
        let names: Vec<_> = [
            TransferState::Offered,
            TransferState::Sending,
            TransferState::Receiving,
            TransferState::Done,
            TransferState::Cancelled,
            TransferState::Failed,
        ]
        .iter()
        .map(|s| s.as_str())
        .collect();
        assert_eq!(
            names,
            [
                "offered",
                "sending",
                "receiving",
                "done",
                "cancelled",
                "failed"
            ]
        );
    }

    #[test]
    fn only_unfinished_transfers_can_be_cancelled() {
        assert!(TransferState::Sending.is_active());
        assert!(TransferState::Offered.is_active());
        assert!(!TransferState::Done.is_active());
        assert!(!TransferState::Failed.is_active());
    }

    #[test]
    fn the_sender_row_says_sent_when_done() {
        let mut row = TransferView::new(Direction::Outgoing, 1, "a".into(), 10);
        row.state = TransferState::Done;
        row.bytes = 10;
        assert_eq!(row.label(), "Sent");
        row.state = TransferState::Sending;
        row.bytes = 5;
        assert_eq!(row.label(), "Sending… 50%");
    }
}
