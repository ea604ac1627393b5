//! What a live call needs to get whole again after an outage: the peer connection's latest
//! state, since when the media path is down, the restarts and offers made or wanted, and the
//! rule for when the polite side may restart ICE itself. Plain data with monotonic
//! milliseconds passed in; the browser crate's `controller/recovery.rs` runs the timers.

use super::state::LinkState;

/// The polite side (the Callee) leaves ICE restarts to the other side while that side is
/// making them: it restarts only if no offer arrived for this long while the media path was
/// down. Two sides restarting on the same timers would collide on every attempt, and a
/// collision costs the polite side its remote video in Chromium (see the browser crate's `controller/peer.rs`).
const POLITE_RESTART_FALLBACK_MS: f64 = 9_000.0;

/// What the live call needs to get whole again.
#[derive(Debug, Default)]
pub struct Recovery {
    /// The peer connection's latest `connectionState`.
    pub link: Option<LinkState>,
    /// Since when (monotonic ms) the media path has been down, if it is.
    pub media_down_since: Option<f64>,
    /// Bumped on every link change, so a timer started for an earlier state does nothing.
    pub episode: u64,
    /// Bumped on every ICE restart, so only the latest restart's retry timer runs.
    pub restarts: u64,
    /// The browser asked for an offer while the other side could not be reached.
    pub offer_wanted: bool,
    /// An ICE restart is due as soon as the other side can be reached.
    pub restart_wanted: bool,
    /// How many offers of the other side arrived on this peer connection.
    pub remote_offers: u64,
    /// When the other side's latest offer arrived (monotonic ms).
    pub last_remote_offer_at: Option<f64>,
}

impl Recovery {
    /// An offer of the other side arrived at `now`.
    pub fn offer_arrived(&mut self, now: f64) {
        self.remote_offers += 1;
        self.last_remote_offer_at = Some(now);
    }

    /// Whether the polite side should restart ICE itself at `now`: only when the other side has
    /// not sent an offer (its own restart) for a while since the media path went down.
    pub fn polite_may_restart(&self, now: f64) -> bool {
        let down_since = self.media_down_since.unwrap_or(now);
        let heard_from = self
            .last_remote_offer_at
            .filter(|at| *at >= down_since)
            .unwrap_or(down_since);
        now - heard_from >= POLITE_RESTART_FALLBACK_MS
    }

    /// Starts afresh for a new peer connection.
    pub fn new_call(&mut self) {
        let episode = self.episode + 1;
        let restarts = self.restarts + 1;
        *self = Recovery {
            episode,
            restarts,
            ..Recovery::default()
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_polite_side_waits_while_the_other_side_keeps_restarting() {
        let mut recovery = Recovery {
            media_down_since: Some(1_000.0),
            ..Recovery::default()
        };
        assert!(!recovery.polite_may_restart(5_000.0));
        assert!(recovery.polite_may_restart(10_000.0));
        recovery.offer_arrived(9_000.0);
        assert!(!recovery.polite_may_restart(10_000.0));
        assert!(!recovery.polite_may_restart(17_000.0));
        assert!(recovery.polite_may_restart(18_000.0));
        assert_eq!(recovery.remote_offers, 1);
    }

    #[test]
    fn an_offer_from_before_the_outage_does_not_count() {
        let mut recovery = Recovery::default();
        recovery.offer_arrived(500.0);
        recovery.media_down_since = Some(1_000.0);
        assert!(recovery.polite_may_restart(10_000.0));
    }
}
