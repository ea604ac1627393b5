//! The screen wake lock of a call (`navigator.wakeLock`), as rules: what state it is in, how
//! the page names that state, and when to ask for it (again). A phone left on a call must not
//! dim and lock; the browser releases the lock whenever the page is hidden, so it is asked for
//! again when the page shows.

/// Where the call's screen wake lock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WakeLock {
    /// Not asked for: no live call yet.
    #[default]
    Off,
    /// Being asked for.
    Requested,
    /// Held: the screen stays on.
    Held,
    /// The browser said no (not allowed, the page hidden, a battery saver); the call goes on.
    Refused,
    /// The browser has no wake lock API.
    Unsupported,
    /// Let go: the call ended (or the browser released it while the page was hidden).
    Released,
}

impl WakeLock {
    /// The state's name on `<body data-wake-lock>`.
    pub fn as_str(self) -> &'static str {
        match self {
            WakeLock::Off => "off",
            WakeLock::Requested => "requested",
            WakeLock::Held => "held",
            WakeLock::Refused => "refused",
            WakeLock::Unsupported => "unsupported",
            WakeLock::Released => "released",
        }
    }

    /// Whether to ask for the lock now: in a live call, with the page visible, unless it is
    /// held or being asked for, or the browser cannot do it at all. A refusal is asked again
    /// (the next time the page shows), since it often comes from the page having been hidden.
    pub fn should_request(self, call_live: bool, visible: bool) -> bool {
        call_live
            && visible
            && !matches!(
                self,
                WakeLock::Held | WakeLock::Requested | WakeLock::Unsupported
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_its_own_name() {
        let all = [
            WakeLock::Off,
            WakeLock::Requested,
            WakeLock::Held,
            WakeLock::Refused,
            WakeLock::Unsupported,
            WakeLock::Released,
        ];
        let mut names: Vec<&str> = all.iter().map(|s| s.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
        assert_eq!(WakeLock::default().as_str(), "off");
    }

    #[test]
    fn the_lock_is_asked_for_in_a_live_call_on_a_visible_page_only() {
        assert!(WakeLock::Off.should_request(true, true));
        assert!(!WakeLock::Off.should_request(false, true));
        assert!(!WakeLock::Off.should_request(true, false));
    }

    #[test]
    fn a_lock_released_or_refused_is_asked_for_again_when_the_page_shows() {
        assert!(WakeLock::Released.should_request(true, true));
        assert!(WakeLock::Refused.should_request(true, true));
        assert!(!WakeLock::Released.should_request(true, false));
    }

    #[test]
    fn a_lock_held_pending_or_impossible_is_not_asked_for() {
        assert!(!WakeLock::Held.should_request(true, true));
        assert!(!WakeLock::Requested.should_request(true, true));
        assert!(!WakeLock::Unsupported.should_request(true, true));
    }
}
