//! Which seat tokens still reclaim a seat: the one its person last presented, and those issued
//! after it.
//!
//! A token is issued in a message (`created`, `joined`, `new_peer`, `rejoined`), and a message
//! can be lost with its socket: the server wrote it, the browser never read it. That browser
//! then comes back with the token it last had. So presenting a token retires only the tokens
//! issued before it; the tokens issued since stay good, because the server cannot know which
//! of them arrived. Once the person presents a newer one, the older ones are spent for good.
//!
//! That leniency is for a seat that is away. Taking over a seat whose socket still looks alive
//! needs the newest token: an older one could be a copy left behind, and its owner is, as far
//! as the server knows, still in the call.

/// How many tokens issued since the last one presented are kept. Only the last few messages
/// before a socket died can be lost with it, and the browser holds the newest one it read.
const KEPT: usize = 4;

/// The nonces of the tokens that reclaim one seat: at most [`KEPT`] + 1, held inline (a seat
/// allocates nothing for them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct SeatNonces {
    /// The nonce its person last presented, if any (a seat opened by `join` has none yet).
    presented: Option<u64>,
    /// Issued since, oldest first; only the first `issued_count` are meaningful.
    issued: [u64; KEPT],
    issued_count: usize,
}

impl SeatNonces {
    /// A token with `nonce` (one this seat accepts) was presented: every token issued before it
    /// is spent, the ones issued after it stay good.
    pub(super) fn presented(&mut self, nonce: u64) {
        if self.presented == Some(nonce) {
            return;
        }
        let issued = &self.issued[..self.issued_count];
        let after = issued
            .iter()
            .position(|&issued| issued == nonce)
            .map_or(0, |index| index + 1);
        self.issued.copy_within(after..self.issued_count, 0);
        self.issued_count -= after.min(self.issued_count);
        self.presented = Some(nonce);
    }

    /// A token with `nonce` was issued; the oldest issued one is forgotten past [`KEPT`].
    pub(super) fn issued(&mut self, nonce: u64) {
        if self.issued_count == KEPT {
            self.issued.rotate_left(1);
            self.issued_count -= 1;
        }
        self.issued[self.issued_count] = nonce;
        self.issued_count += 1;
    }

    /// Whether a token with `nonce` takes over the seat while its socket still looks alive:
    /// only the newest token does.
    pub(super) fn takes_over(&self, nonce: u64) -> bool {
        self.issued[..self.issued_count]
            .last()
            .copied()
            .or(self.presented)
            == Some(nonce)
    }

    /// Whether a token with `nonce` reclaims the seat while it is away.
    pub(super) fn accepts(&self, nonce: u64) -> bool {
        self.presented == Some(nonce) || self.issued[..self.issued_count].contains(&nonce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seat_accepts_every_token_issued_since_the_last_one_presented() {
        let mut nonces = SeatNonces::default();
        nonces.issued(1);
        nonces.issued(2);
        assert!(nonces.accepts(1) && nonces.accepts(2));
        assert!(!nonces.accepts(3));
        assert!(
            nonces.takes_over(2) && !nonces.takes_over(1),
            "only the newest takes over"
        );

        nonces.presented(2);
        assert!(nonces.takes_over(2));
        assert!(nonces.accepts(2), "the token presented stays good");
        assert!(
            !nonces.accepts(1),
            "one issued before the presented one is spent"
        );
        nonces.issued(3);
        assert!(nonces.accepts(2) && nonces.accepts(3));

        nonces.presented(3);
        assert!(
            !nonces.accepts(2),
            "presenting a newer token spends the older one"
        );
        assert!(nonces.accepts(3));
    }

    #[test]
    fn only_the_last_few_tokens_issued_are_kept() {
        let mut nonces = SeatNonces::default();
        nonces.presented(100);
        for nonce in 0..10 {
            nonces.issued(nonce);
        }
        assert!(nonces.accepts(100));
        assert!((0..6).all(|nonce| !nonces.accepts(nonce)));
        assert!((6..10).all(|nonce| nonces.accepts(nonce)));
    }
}
