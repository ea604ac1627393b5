//! When to try the signaling socket again after it dropped: exponential backoff with jitter.
//! Pure Rust, unit-tested natively; the controller supplies the random numbers.
//!
//! The first retry comes quickly, because most drops are a blip (a server restart, a Wi-Fi
//! hand-over). Later ones spread out up to a cap, and each delay is jittered so that many pages
//! losing one server do not all come back in the same millisecond.

/// The delay before the first retry, in milliseconds.
pub const FIRST_DELAY_MS: u32 = 300;

/// The longest delay between two retries, in milliseconds. Short enough that a call whose
/// server comes back is whole again within a few seconds.
pub const MAX_DELAY_MS: u32 = 4_000;

/// The retry schedule of one outage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backoff {
    /// How many retries were scheduled since the last success.
    attempts: u32,
}

impl Backoff {
    /// A schedule starting from the first retry.
    pub fn new() -> Backoff {
        Backoff::default()
    }

    /// The delay before the next retry, given a random number in `[0, 1)`. "Equal jitter":
    /// half of the exponential step is kept, the other half is random, so delays still grow
    /// but two pages rarely retry together.
    pub fn next_delay_ms(&mut self, random: f64) -> u32 {
        let step = FIRST_DELAY_MS
            .saturating_mul(1u32 << self.attempts.min(16))
            .min(MAX_DELAY_MS);
        self.attempts = self.attempts.saturating_add(1);
        let random = if random.is_finite() {
            random.clamp(0.0, 1.0)
        } else {
            0.5
        };
        let half = step / 2;
        half + (f64::from(step - half) * random) as u32
    }

    /// The connection is back: the next outage starts from a quick retry again.
    pub fn reset(&mut self) {
        self.attempts = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_retry_is_quick() {
        let mut backoff = Backoff::new();
        let delay = backoff.next_delay_ms(0.0);
        assert_eq!(delay, FIRST_DELAY_MS / 2);
    }

    #[test]
    fn delays_double_up_to_the_cap() {
        let mut backoff = Backoff::new();
        let delays: Vec<u32> = (0..8).map(|_| backoff.next_delay_ms(1.0)).collect();
        assert_eq!(delays, vec![300, 600, 1200, 2400, 4000, 4000, 4000, 4000]);
    }

    #[test]
    fn jitter_keeps_each_delay_between_half_and_the_whole_step() {
        let mut low = Backoff::new();
        let mut high = Backoff::new();
        for _ in 0..10 {
            let a = low.next_delay_ms(0.0);
            let b = high.next_delay_ms(0.999);
            assert!(a * 2 >= b.saturating_sub(1) && a < b, "{a} vs {b}");
        }
    }

    #[test]
    fn a_random_number_out_of_range_is_clamped() {
        assert_eq!(Backoff::new().next_delay_ms(7.0), FIRST_DELAY_MS);
        assert_eq!(Backoff::new().next_delay_ms(-1.0), FIRST_DELAY_MS / 2);
        assert_eq!(Backoff::new().next_delay_ms(f64::NAN), 225);
    }

    #[test]
    fn reset_starts_the_next_outage_with_a_quick_retry() {
        let mut backoff = Backoff::new();
        for _ in 0..6 {
            backoff.next_delay_ms(0.5);
        }
        backoff.reset();
        assert_eq!(backoff.next_delay_ms(1.0), FIRST_DELAY_MS);
    }

    #[test]
    fn many_attempts_do_not_overflow() {
        let mut backoff = Backoff::new();
        for _ in 0..100 {
            assert!(backoff.next_delay_ms(1.0) <= MAX_DELAY_MS);
        }
    }
}
