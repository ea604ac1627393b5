//! Seat tokens: the signed proof that lets a browser take its seat back after its socket dropped.
//!
//! A token is `v1.<payload>.<mac>`: the base64url (unpadded) compact JSON of a [`SeatClaim`],
//! and the base64url of HMAC-SHA256(secret, `v1.<payload>`). Browsers treat it as opaque.
//!
//! This module only signs and checks; whether a valid token still names a live seat (its nonce
//! is current, its call has not ended) is for `rooms.rs` to decide. Pure: no I/O, no clock.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use visavis_shared::limits::MAX_SEAT_TOKEN_BYTES;
use visavis_shared::RoomName;

/// The length of the server secret tokens are signed with.
pub const SECRET_BYTES: usize = 32;

/// The length of an HMAC-SHA256 tag.
const MAC_BYTES: usize = 32;

/// The version prefix. A future format gets a new prefix, and old tokens simply fail to verify.
const VERSION: &str = "v1";

/// What a token says. Short field names keep tokens small; none of it is secret, only
/// unforgeable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatClaim {
    /// The room the seat is in; a token is refused in any other room.
    #[serde(rename = "r")]
    pub room: RoomName,
    /// The room's incarnation: a new random id each time an empty room is created, so a token
    /// of an earlier call in a room of the same name does not fit a later one.
    #[serde(rename = "c")]
    pub call: u64,
    /// The seat, random and stable for the seat's life.
    #[serde(rename = "s")]
    pub seat: u64,
    /// Regenerated on every issue; the room keeps the nonces that still reclaim the seat
    /// (`rooms/seat_nonces.rs`), so a spent token fails.
    #[serde(rename = "n")]
    pub nonce: u64,
    /// Whether the room had two seats when the token was issued. After a server restart the
    /// partner's seat is reserved only if this is set.
    #[serde(rename = "p")]
    pub paired: bool,
}

/// Why a token was refused. Clients only ever hear `seat_invalid`; the detail is for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Longer than `MAX_SEAT_TOKEN_BYTES`; not even looked at.
    TooLong,
    /// Not three dot-separated base64url parts with our version prefix, or a payload that is
    /// not a claim.
    Malformed,
    /// The MAC does not match: forged, tampered with, or signed with another secret.
    BadSignature,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenError::TooLong => "the seat token is too long",
            TokenError::Malformed => "the seat token is malformed",
            TokenError::BadSignature => "the seat token's signature does not match",
        })
    }
}

impl std::error::Error for TokenError {}

/// Signs and verifies seat tokens with the server secret.
#[derive(Clone)]
pub struct SeatSigner {
    /// The keyed MAC, cloned for each use (cheaper than re-keying).
    mac: Hmac<Sha256>,
}

// The secret must never reach a log, so Debug shows nothing of it.
impl fmt::Debug for SeatSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SeatSigner(..)")
    }
}

impl SeatSigner {
    /// A signer keyed with `secret`.
    pub fn new(secret: &[u8; SECRET_BYTES]) -> SeatSigner {
        // expect: HMAC accepts keys of any length; only fixed-size-key MACs can refuse one.
        let mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
        SeatSigner { mac }
    }

    /// The token for `claim`.
    pub fn issue(&self, claim: &SeatClaim) -> String {
        // expect: a claim is a valid room name, three integers and a bool, which always
        // serialise.
        let json = serde_json::to_vec(claim).expect("a seat claim always serialises");
        let payload = URL_SAFE_NO_PAD.encode(json);
        let mac = self.mac_of(&payload).finalize().into_bytes();
        format!("{VERSION}.{payload}.{}", URL_SAFE_NO_PAD.encode(mac))
    }

    /// The claim of a token this server signed, checking the MAC (in constant time) before
    /// anything in the payload is parsed.
    pub fn verify(&self, token: &str) -> Result<SeatClaim, TokenError> {
        if token.len() > MAX_SEAT_TOKEN_BYTES {
            return Err(TokenError::TooLong);
        }
        let mut parts = token.split('.');
        let (Some(VERSION), Some(payload), Some(mac), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let mac = URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| TokenError::Malformed)?;
        if mac.len() != MAC_BYTES {
            return Err(TokenError::Malformed);
        }
        self.mac_of(payload)
            .verify_slice(&mac)
            .map_err(|_| TokenError::BadSignature)?;
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed)?;
        serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)
    }

    /// The MAC state after `v1.<payload>`: the version is signed too, so a payload cannot be
    /// replayed under another format.
    fn mac_of(&self, payload: &str) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(VERSION.as_bytes());
        mac.update(b".");
        mac.update(payload.as_bytes());
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(byte: u8) -> SeatSigner {
        SeatSigner::new(&[byte; SECRET_BYTES])
    }

    fn claim() -> SeatClaim {
        SeatClaim {
            room: RoomName::try_from("kitchen").expect("test fixture is valid"),
            call: u64::MAX,
            seat: 7,
            nonce: 1 << 60,
            paired: true,
        }
    }

    /// Replaces part `index` (0 version, 1 payload, 2 mac) of a token.
    fn with_part(token: &str, index: usize, part: &str) -> String {
        let mut parts: Vec<&str> = token.split('.').collect();
        parts[index] = part;
        parts.join(".")
    }

    #[test]
    fn a_token_round_trips_and_is_url_safe() {
        let signer = signer(1);
        let token = signer.issue(&claim());
        assert!(token.starts_with("v1."));
        assert!(token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')));
        assert!(token.len() < MAX_SEAT_TOKEN_BYTES / 2, "{token}");
        assert_eq!(signer.verify(&token), Ok(claim()));
    }

    #[test]
    fn a_tampered_payload_is_refused() {
        let signer = signer(1);
        let token = signer.issue(&claim());
        let mut other = claim();
        other.nonce += 1;
        let forged_payload = signer.issue(&other);
        let payload = forged_payload.split('.').nth(1).expect("three parts");
        assert_eq!(
            signer.verify(&with_part(&token, 1, payload)),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn a_tampered_mac_is_refused() {
        let signer = signer(1);
        let token = signer.issue(&claim());
        let mac = token.split('.').nth(2).expect("three parts");
        let mut bytes = URL_SAFE_NO_PAD.decode(mac).expect("base64");
        bytes[0] ^= 1;
        assert_eq!(
            signer.verify(&with_part(&token, 2, &URL_SAFE_NO_PAD.encode(&bytes))),
            Err(TokenError::BadSignature)
        );
        // A truncated MAC is no MAC.
        assert_eq!(
            signer.verify(&with_part(&token, 2, &URL_SAFE_NO_PAD.encode(&bytes[..16]))),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn a_token_of_another_secret_is_refused() {
        let token = signer(1).issue(&claim());
        assert_eq!(signer(2).verify(&token), Err(TokenError::BadSignature));
    }

    #[test]
    fn garbage_is_malformed() {
        let signer = signer(1);
        let token = signer.issue(&claim());
        for garbage in [
            "",
            "v1",
            "v1..",
            "v1.a.b.c",
            "not a token",
            "v1.!!!.!!!",
            &with_part(&token, 0, "v2"),
            &format!("{token}."),
        ] {
            assert_eq!(
                signer.verify(garbage),
                Err(TokenError::Malformed),
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn a_signed_payload_that_is_not_a_claim_is_malformed() {
        let signer = signer(1);
        let payload = URL_SAFE_NO_PAD.encode(br#"{"r":"bad room!","c":1,"s":1,"n":1,"p":false}"#);
        let mac = signer.mac_of(&payload).finalize().into_bytes();
        let token = format!("v1.{payload}.{}", URL_SAFE_NO_PAD.encode(mac));
        assert_eq!(signer.verify(&token), Err(TokenError::Malformed));
    }

    #[test]
    fn an_oversized_token_is_refused_unread() {
        let signer = signer(1);
        let token = format!(
            "{}{}",
            signer.issue(&claim()),
            "A".repeat(MAX_SEAT_TOKEN_BYTES)
        );
        assert_eq!(signer.verify(&token), Err(TokenError::TooLong));
    }

    #[test]
    fn debug_output_does_not_show_the_secret() {
        assert_eq!(format!("{:?}", signer(0xAB)), "SeatSigner(..)");
    }
}
