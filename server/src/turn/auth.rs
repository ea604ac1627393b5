//! The relay's credential check: REST-API usernames (`<expiry>:<id>`) whose password the
//! shared secret implies, refused once expired. Nothing secret and no client address is
//! logged.

use std::fmt;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use turn::auth::{generate_auth_key, AuthHandler};

use super::credentials::{expiry_of, password_for};

/// Why a username was refused. Deliberately carries nothing secret and no
/// client address, so it can be logged as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rejection {
    Malformed,
    Expired { expiry: u64 },
}

/// Checks REST-API usernames (`<expiry>:<id>`) and derives the long-term key
/// from the password the secret implies.
pub struct RestAuthHandler {
    secret: Vec<u8>,
    realm: String,
}

impl RestAuthHandler {
    /// A handler for usernames signed with `secret`, keyed for `realm`.
    pub fn new(secret: Vec<u8>, realm: String) -> RestAuthHandler {
        RestAuthHandler { secret, realm }
    }
}

impl fmt::Debug for RestAuthHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestAuthHandler")
            .field("secret", &"[redacted]")
            .field("realm", &self.realm)
            .finish()
    }
}

impl RestAuthHandler {
    /// The long-term key `MD5(username ":" realm ":" password)` for a
    /// well-formed, unexpired username. The configured realm is used rather
    /// than the one the client sent: a client keyed for another realm then
    /// simply fails the integrity check.
    fn key_for(&self, username: &str, now_unix: u64) -> Result<Vec<u8>, Rejection> {
        let expiry = expiry_of(username).ok_or(Rejection::Malformed)?;
        if expiry <= now_unix {
            return Err(Rejection::Expired { expiry });
        }
        let password = password_for(&self.secret, username);
        Ok(generate_auth_key(username, &self.realm, &password))
    }
}

impl AuthHandler for RestAuthHandler {
    fn auth_handle(
        &self,
        username: &str,
        _realm: &str,
        _src_addr: SocketAddr,
    ) -> Result<Vec<u8>, turn::Error> {
        // A clock before 1970 is a broken host; treating it as 0 only makes
        // expiry checks more lenient by the same error, not unsafe.
        let now_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.key_for(username, now_unix).map_err(|rejection| {
            // No username id, password, secret or client address in the log.
            match rejection {
                Rejection::Malformed => {
                    tracing::info!(reason = "malformed username", "refused TURN credentials")
                }
                Rejection::Expired { expiry } => {
                    tracing::info!(reason = "expired", expiry, "refused TURN credentials")
                }
            }
            // The crate answers any error here with an error response
            // (400, "no such user") without looking at its text.
            turn::Error::Other("TURN credentials refused".to_owned())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"test secret";
    const REALM: &str = "visavis";

    #[test]
    fn the_auth_handler_keys_valid_usernames_with_the_configured_realm() {
        let handler = RestAuthHandler {
            secret: SECRET.to_vec(),
            realm: REALM.to_owned(),
        };
        let username = "2000:alice";
        let expected = generate_auth_key(username, REALM, &password_for(SECRET, username));
        assert_eq!(handler.key_for(username, 1999), Ok(expected));
    }

    #[test]
    fn the_auth_handler_refuses_expired_and_malformed_usernames() {
        let handler = RestAuthHandler {
            secret: SECRET.to_vec(),
            realm: REALM.to_owned(),
        };
        assert_eq!(
            handler.key_for("2000:alice", 2000),
            Err(Rejection::Expired { expiry: 2000 })
        );
        assert_eq!(
            handler.key_for("2000:alice", 3000),
            Err(Rejection::Expired { expiry: 2000 })
        );
        assert_eq!(handler.key_for("alice", 0), Err(Rejection::Malformed));
        assert_eq!(handler.key_for("2000", 0), Err(Rejection::Malformed));
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let handler = RestAuthHandler::new(SECRET.to_vec(), REALM.to_owned());
        let shown = format!("{handler:?}");
        assert!(!shown.contains("test secret"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }
}
