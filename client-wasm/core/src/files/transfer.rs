//! One transfer in each direction: the bytes counted, the SHA-256 computed as they go by, and
//! the result checked against what the sender announced. Pure Rust, unit-tested natively.

use sha2::{Digest, Sha256};

use super::wire::{check_size, clean_name, to_hex, TooLarge};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::wire::tests::{ABC_SHA256, EMPTY_SHA256};
    use crate::files::wire::FALLBACK_MAX_FILE_BYTES;

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
}
