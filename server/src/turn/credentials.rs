//! Short-lived TURN credentials in the "TURN REST API" form that coturn's
//! `use-auth-secret` / `static-auth-secret` and the built-in relay both check.
//!
//! The username is `<expiry-unix-time>:<random id>` and the password is
//! `base64(HMAC-SHA1(secret, username))`. Nothing is stored: whoever knows the
//! shared secret can recompute the password from the username alone, and the
//! expiry travels inside the username, so a relay needs no shared database.

use std::fmt;
use std::time::Duration;

use base64::prelude::BASE64_STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// Clients should refresh once this share of the lifetime has passed
/// (numerator / denominator, i.e. 80 %).
const REFRESH_SHARE: (u128, u128) = (4, 5);

/// Clients should refresh at least this many seconds before expiry, so that a
/// slow network round trip still lands before the credentials lapse.
const MIN_REFRESH_MARGIN_SECS: u64 = 30;

/// One set of short-lived TURN credentials, ready to be put into an
/// `RTCIceServer` (`username` / `credential`).
#[derive(Clone, PartialEq, Eq)]
pub struct TurnCredentials {
    /// `<expiry-unix-time>:<random id>`.
    pub username: String,
    /// `base64(HMAC-SHA1(secret, username))`.
    pub credential: String,
    /// Unix time (seconds) after which the relay refuses the username.
    pub expires_at_unix: u64,
}

// Written by hand so that the credential never ends up in logs via `{:?}`:
// it is a bearer token for the relay until it expires.
impl fmt::Debug for TurnCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TurnCredentials")
            .field("username", &self.username)
            .field("credential", &"[redacted]")
            .field("expires_at_unix", &self.expires_at_unix)
            .finish()
    }
}

/// Issues credentials that expire `lifetime` after `now_unix`.
///
/// `random_id` should be a non-empty, unguessable token without meaning to
/// third parties; an empty one yields a username that [`expiry_of`] (and so
/// the relay) rejects. Sub-second parts of `lifetime` are dropped.
pub fn issue(secret: &[u8], now_unix: u64, lifetime: Duration, random_id: &str) -> TurnCredentials {
    let expires_at_unix = now_unix.saturating_add(lifetime.as_secs());
    let username = format!("{expires_at_unix}:{random_id}");
    let credential = password_for(secret, &username);
    TurnCredentials {
        username,
        credential,
        expires_at_unix,
    }
}

/// The password belonging to `username`: `base64(HMAC-SHA1(secret, username))`
/// in standard base64 with padding, as coturn computes it.
pub fn password_for(secret: &[u8], username: &str) -> String {
    // HMAC is defined for keys of any length (long keys are hashed first), so
    // this constructor cannot fail; the Result only exists for fixed-key MACs.
    let mut mac =
        <Hmac<Sha1> as Mac>::new_from_slice(secret).expect("HMAC-SHA1 accepts keys of any length");
    mac.update(username.as_bytes());
    BASE64_STANDARD.encode(mac.finalize().into_bytes())
}

/// Parses the expiry out of a username; `None` if malformed.
///
/// Well-formed means: one or more ASCII digits that fit a `u64`, a `:`, and a
/// non-empty id. Signs, spaces and empty parts are refused rather than
/// tolerated, because the username arrives from the network.
pub fn expiry_of(username: &str) -> Option<u64> {
    let (expiry, id) = username.split_once(':')?;
    // `u64::from_str` would also accept a leading `+`; only plain digits are
    // part of the format.
    if expiry.is_empty() || !expiry.bytes().all(|b| b.is_ascii_digit()) || id.is_empty() {
        return None;
    }
    expiry.parse().ok()
}

/// When a client should fetch fresh credentials: at 80 % of the lifetime, but
/// at least 30 s before expiry, and never before `issued_at_unix`.
pub fn refresh_at(issued_at_unix: u64, expires_at_unix: u64) -> u64 {
    let lifetime = expires_at_unix.saturating_sub(issued_at_unix);
    // u128 so that huge lifetimes cannot overflow the multiplication.
    let share = u128::from(lifetime) * REFRESH_SHARE.0 / REFRESH_SHARE.1;
    let by_share = issued_at_unix.saturating_add(u64::try_from(share).unwrap_or(u64::MAX));
    let by_margin = expires_at_unix.saturating_sub(MIN_REFRESH_MARGIN_SECS);
    by_share.min(by_margin).max(issued_at_unix)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Computed independently with Python:
    // base64.b64encode(hmac.new(b'secret', b'1700000000:alice', hashlib.sha1).digest())
    const KNOWN_PASSWORD: &str = "d8soP47RbdIKLDUOpnJPVQyq5Ts=";

    #[test]
    fn the_password_matches_an_independently_computed_hmac_sha1() {
        assert_eq!(password_for(b"secret", "1700000000:alice"), KNOWN_PASSWORD);
    }

    #[test]
    fn the_password_handles_binary_secrets() {
        // Python: hmac.new(b'\x00\x01\xffkey', b'4102444800:9f3c2a', hashlib.sha1)
        assert_eq!(
            password_for(b"\x00\x01\xffkey", "4102444800:9f3c2a"),
            "rLG5URlVQ5hvGno3GekJPNG3LWY="
        );
    }

    #[test]
    fn issued_credentials_have_the_expiry_colon_id_username_form() {
        let creds = issue(b"secret", 1_699_999_000, Duration::from_secs(1000), "alice");
        assert_eq!(creds.username, "1700000000:alice");
        assert_eq!(creds.expires_at_unix, 1_700_000_000);
        assert_eq!(creds.credential, KNOWN_PASSWORD);
        assert_eq!(expiry_of(&creds.username), Some(creds.expires_at_unix));
    }

    #[test]
    fn issuing_near_the_end_of_time_saturates_instead_of_overflowing() {
        let creds = issue(b"s", u64::MAX - 1, Duration::from_secs(10), "x");
        assert_eq!(creds.expires_at_unix, u64::MAX);
    }

    #[test]
    fn a_different_secret_gives_a_different_password() {
        assert_ne!(password_for(b"other", "1700000000:alice"), KNOWN_PASSWORD);
    }

    #[test]
    fn the_expiry_of_a_valid_username_is_parsed() {
        assert_eq!(expiry_of("1700000000:alice"), Some(1_700_000_000));
        // Only the first colon separates; the id may contain more.
        assert_eq!(expiry_of("5:a:b"), Some(5));
    }

    #[test]
    fn malformed_usernames_have_no_expiry() {
        for username in [
            "",
            ":",
            "1700000000",
            "1700000000:",
            ":alice",
            "alice",
            "alice:1700000000",
            "+1700000000:alice",
            " 1700000000:alice",
            "-1:alice",
            "99999999999999999999999:alice",
        ] {
            assert_eq!(expiry_of(username), None, "{username:?}");
        }
    }

    #[test]
    fn non_numeric_expiries_are_rejected() {
        assert_eq!(expiry_of("17000000x0:alice"), None);
        assert_eq!(expiry_of("0x10:alice"), None);
        assert_eq!(expiry_of("١٢٣:alice"), None);
    }

    #[test]
    fn refresh_happens_at_eighty_percent_of_a_long_lifetime() {
        assert_eq!(refresh_at(1000, 1000 + 3600), 1000 + 2880);
    }

    #[test]
    fn refresh_happens_at_least_thirty_seconds_before_expiry() {
        // 80 % of 100 s would be 20 s before expiry: too late.
        assert_eq!(refresh_at(1000, 1100), 1070);
    }

    #[test]
    fn refresh_of_very_short_or_inverted_lifetimes_is_immediate() {
        assert_eq!(refresh_at(1000, 1020), 1000);
        assert_eq!(refresh_at(1000, 1000), 1000);
        assert_eq!(refresh_at(1000, 900), 1000);
    }

    #[test]
    fn refresh_of_huge_lifetimes_does_not_overflow() {
        let at = refresh_at(0, u64::MAX);
        assert!(at < u64::MAX - 30);
        assert!(at > u64::MAX / 2);
    }

    #[test]
    fn debug_output_does_not_reveal_the_credential() {
        let creds = issue(b"secret", 1_699_999_000, Duration::from_secs(1000), "alice");
        let shown = format!("{creds:?}");
        assert!(!shown.contains(&creds.credential), "{shown}");
        assert!(shown.contains("[redacted]"));
        assert!(shown.contains("1700000000:alice"));
    }
}
