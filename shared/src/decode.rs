//! Decoding a client frame into a `ClientMessage`, with a precise reason when it fails, so the
//! server can answer `error{code,message}` that tells the sender what was wrong.

use std::fmt;

use serde_json::Value;

use crate::limits::MAX_SEAT_TOKEN_BYTES;
use crate::message::{ClientMessage, ErrorCode, CLIENT_TYPES};
use crate::room::RoomName;

/// Why a frame is not a valid `ClientMessage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// The machine-readable reason.
    pub code: ErrorCode,
    /// A human-readable explanation. It never quotes SDP or candidates.
    pub message: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for DecodeError {}

fn fail(code: ErrorCode, message: impl Into<String>) -> DecodeError {
    DecodeError {
        code,
        message: message.into(),
    }
}

/// Decodes one text frame from a browser.
///
/// The frame is parsed in steps so that each failure gets its own code: not JSON, no `type`,
/// an unknown `type`, a bad room name, or any other shape error.
pub fn decode_client_message(text: &str) -> Result<ClientMessage, DecodeError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|_| fail(ErrorCode::InvalidJson, "the frame is not valid JSON"))?;
    let Some(object) = value.as_object() else {
        return Err(fail(
            ErrorCode::InvalidMessage,
            "a message must be a JSON object",
        ));
    };
    let Some(kind) = object
        .get("type")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return Err(fail(
            ErrorCode::InvalidMessage,
            "a message needs a string field \"type\"",
        ));
    };
    if !CLIENT_TYPES.contains(&kind.as_str()) {
        // The type is echoed only if it is short and plain, so a hostile frame cannot fill logs
        // or the reply with junk.
        let shown =
            if kind.len() <= 32 && kind.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                kind.as_str()
            } else {
                "(unprintable)"
            };
        return Err(fail(
            ErrorCode::UnknownType,
            format!("unknown message type {shown:?}"),
        ));
    }
    if matches!(kind.as_str(), "join" | "bye" | "rejoin") {
        if let Some(Value::String(room)) = object.get("room") {
            if let Err(err) = RoomName::try_from(room.as_str()) {
                return Err(fail(ErrorCode::InvalidRoom, err.to_string()));
            }
        }
    }
    if kind == "rejoin" {
        if let Some(Value::String(seat)) = object.get("seat") {
            if seat.len() > MAX_SEAT_TOKEN_BYTES {
                return Err(fail(
                    ErrorCode::InvalidMessage,
                    format!("the seat token is longer than {MAX_SEAT_TOKEN_BYTES} bytes"),
                ));
            }
        }
    }
    // The error text from serde names fields and expected types, never field values, so it is
    // safe to send back.
    serde_json::from_value::<ClientMessage>(value).map_err(|err| {
        let mut detail = err.to_string();
        detail.truncate(detail.floor_char_boundary(160));
        fail(
            ErrorCode::InvalidMessage,
            format!("invalid {kind} message: {detail}"),
        )
    })
}
