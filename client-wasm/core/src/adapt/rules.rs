//! The adaptation rules: from one [`LinkSample`] a second, when to step the video down and
//! when to step it back up. Down is fast (two bad seconds, straight to a level that fits when
//! the available bitrate collapsed), up is slow (eight good seconds per rung), and a step up
//! that the link could not hold makes the next one wait twice as long, so a borderline link
//! settles on a level instead of swinging between two.

use serde::{Deserialize, Serialize};

use super::ladder::SendLevel;
use super::sample::LinkSample;

/// Consecutive bad seconds before stepping down. One bad second is a spike, not a trend.
pub const DOWN_AFTER: u32 = 2;
/// Consecutive good seconds before stepping up, at first.
pub const UP_AFTER: u32 = 8;
/// The longest wait for a step up, after repeated failed attempts.
pub const MAX_UP_AFTER: u32 = 64;
/// Seconds after a change during which samples are not counted: the loss reports and the
/// bitrate estimate still describe the old level.
pub const SETTLE: u32 = 2;
/// A step up that lasts this many seconds held: the link is fine at that level, and the next
/// step up waits [`UP_AFTER`] again.
pub const HELD_AFTER: u32 = 20;
/// Bad seconds at the floor before audio-only mode is suggested.
pub const AUDIO_ONLY_AFTER: u32 = 5;

/// An estimate below this share of its peak (since the last change of level) has fallen.
pub const FALLEN_SHARE: f64 = 0.6;
/// Loss (of our packets) from which a second is bad.
pub const BAD_LOSS: f64 = 0.08;
/// Loss below which a second can be good.
pub const GOOD_LOSS: f64 = 0.02;
/// A round trip this long is bad whatever the link's usual delay.
pub const BAD_RTT_MS: f64 = 600.0;
/// A round trip this much above the call's shortest one is bad: packets queue up somewhere.
pub const RTT_RISE_MS: f64 = 250.0;
/// A good second's round trip is at most this much above the call's shortest one…
pub const GOOD_RTT_RISE_MS: f64 = 100.0;
/// …and at most this long.
pub const GOOD_RTT_MS: f64 = 400.0;

/// Why the video was stepped down, as the other side is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Packets are being lost.
    Loss,
    /// The link cannot carry the bitrate.
    Bandwidth,
    /// The round trip grew: the link is congested.
    Delay,
}

impl Reason {
    /// The reason in words, completing "because of …".
    pub fn words(self) -> &'static str {
        match self {
            Reason::Loss => "packet loss",
            Reason::Bandwidth => "low bandwidth",
            Reason::Delay => "a growing delay",
        }
    }
}

/// What one second says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judgement {
    /// The link is in trouble at this level.
    Bad(Reason),
    /// The link has room: a step up may come.
    Good,
    /// Neither (a borderline figure, or no figures at all).
    Unsure,
}

/// Where the adaptation stands after a second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// The level to send at.
    pub level: SendLevel,
    /// Why the level is below full (the latest step down's reason), `None` at full.
    pub reason: Option<Reason>,
    /// Whether this second changed the level.
    pub changed: bool,
    /// The link stays bad at the floor: audio-only mode should be suggested.
    pub suggest_audio_only: bool,
}

/// The adaptation of one call's video: feed it [`Adapter::observe`] once a second.
#[derive(Debug, Clone, PartialEq)]
pub struct Adapter {
    level: SendLevel,
    reason: Option<Reason>,
    bad_streak: u32,
    good_streak: u32,
    settle: u32,
    /// The shortest round trip of the call: the link's own delay, without queues.
    min_rtt_ms: Option<f64>,
    /// The highest bitrate estimate since the level last changed.
    peak_bps: Option<f64>,
    /// Good seconds needed for the next step up.
    up_after: u32,
    /// Seconds since the latest step up, while it has not been undone or held.
    since_up: Option<u32>,
}

impl Default for Adapter {
    fn default() -> Adapter {
        Adapter::new()
    }
}

impl Adapter {
    /// A call that starts at full quality.
    pub fn new() -> Adapter {
        Adapter {
            level: SendLevel::Full,
            reason: None,
            bad_streak: 0,
            good_streak: 0,
            settle: 0,
            min_rtt_ms: None,
            peak_bps: None,
            up_after: UP_AFTER,
            since_up: None,
        }
    }

    /// The current level.
    pub fn level(&self) -> SendLevel {
        self.level
    }

    /// Why the level is below full: the latest step down's reason (`None` at full).
    pub fn reason(&self) -> Option<Reason> {
        self.reason
    }

    /// How many good seconds the next step up needs.
    pub fn up_after(&self) -> u32 {
        self.up_after
    }

    /// What `sample` says at the current level (and it updates the call's shortest round trip).
    pub fn judge(&mut self, sample: &LinkSample) -> Judgement {
        if let Some(rtt) = sample.rtt_ms.filter(|rtt| *rtt > 0.0) {
            self.min_rtt_ms = Some(self.min_rtt_ms.map_or(rtt, |min| min.min(rtt)));
        }
        let base = self.min_rtt_ms.unwrap_or(0.0);
        let loss = sample.loss();
        if loss.is_some_and(|loss| loss >= BAD_LOSS) {
            return Judgement::Bad(Reason::Loss);
        }
        if let Some(available) = sample.available_bps {
            let peak = self.peak_bps.map_or(available, |peak| peak.max(available));
            self.peak_bps = Some(peak);
            // Below the level's floor counts only when the estimate fell there: one that is
            // still climbing (a new call, or after a step) describes the ramp, not the link.
            let fell = available < peak * FALLEN_SHARE;
            if fell
                && self
                    .level
                    .floor_bps()
                    .is_some_and(|floor| available < floor)
            {
                return Judgement::Bad(Reason::Bandwidth);
            }
        }
        if let Some(rtt) = sample.rtt_ms {
            if rtt >= BAD_RTT_MS || rtt >= base + RTT_RISE_MS {
                return Judgement::Bad(Reason::Delay);
            }
        }
        if loss.is_none() && sample.rtt_ms.is_none() {
            return Judgement::Unsure;
        }
        let loss_ok = loss.is_none_or(|loss| loss < GOOD_LOSS);
        let rtt_ok = sample
            .rtt_ms
            .is_none_or(|rtt| rtt < GOOD_RTT_MS && rtt < base + GOOD_RTT_RISE_MS);
        if loss_ok && rtt_ok {
            Judgement::Good
        } else {
            Judgement::Unsure
        }
    }

    /// Takes one second's sample and says what to send.
    pub fn observe(&mut self, sample: &LinkSample) -> Step {
        let judgement = self.judge(sample);
        if let Some(since) = self.since_up.as_mut() {
            *since += 1;
            if *since >= HELD_AFTER {
                self.since_up = None;
                self.up_after = UP_AFTER;
            }
        }
        if self.settle > 0 {
            self.settle -= 1;
            return self.step(false);
        }
        match judgement {
            Judgement::Bad(reason) => {
                self.good_streak = 0;
                self.bad_streak += 1;
                if self.bad_streak >= DOWN_AFTER {
                    if let Some(lower) = self.level.lower() {
                        let fitting = match (reason, sample.available_bps) {
                            (Reason::Bandwidth, Some(available)) => SendLevel::fitting(available),
                            _ => lower,
                        };
                        self.step_down(lower.max(fitting), reason);
                        return self.step(true);
                    }
                }
            }
            Judgement::Good => {
                self.bad_streak = 0;
                self.good_streak += 1;
                if self.good_streak >= self.up_after {
                    if let Some(higher) = self.level.higher() {
                        self.step_up(higher);
                        return self.step(true);
                    }
                }
            }
            // A borderline second breaks a run of good ones; a run of bad ones stays where it
            // was, so trouble with a borderline second in between still counts as sustained.
            Judgement::Unsure => self.good_streak = 0,
        }
        self.step(false)
    }

    fn step_down(&mut self, level: SendLevel, reason: Reason) {
        if self.since_up.take().is_some() {
            // The last step up did not hold: wait longer before the next one.
            self.up_after = (self.up_after * 2).min(MAX_UP_AFTER);
        }
        self.level = level;
        self.reason = Some(reason);
        self.changed();
    }

    fn step_up(&mut self, level: SendLevel) {
        self.level = level;
        if level == SendLevel::Full {
            self.reason = None;
        }
        self.since_up = Some(0);
        self.changed();
    }

    fn changed(&mut self) {
        self.peak_bps = None;
        self.bad_streak = 0;
        self.good_streak = 0;
        self.settle = SETTLE;
    }

    fn step(&self, changed: bool) -> Step {
        Step {
            level: self.level,
            reason: self.reason,
            changed,
            suggest_audio_only: self.level.lower().is_none() && self.bad_streak >= AUDIO_ONLY_AFTER,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> LinkSample {
        LinkSample {
            send_loss: Some(0.0),
            receive_loss: Some(0.0),
            available_bps: Some(2_500_000.0),
            rtt_ms: Some(40.0),
            jitter_ms: Some(3.0),
        }
    }

    fn lossy() -> LinkSample {
        LinkSample {
            send_loss: Some(0.2),
            ..good()
        }
    }

    fn feed(adapter: &mut Adapter, sample: LinkSample, seconds: u32) -> Vec<Step> {
        (0..seconds).map(|_| adapter.observe(&sample)).collect()
    }

    /// Seconds until the level first differs from the current one, within `limit`.
    fn seconds_to_change(adapter: &mut Adapter, sample: LinkSample, limit: u32) -> Option<u32> {
        (1..=limit).find(|_| adapter.observe(&sample).changed)
    }

    #[test]
    fn a_one_second_spike_changes_nothing() {
        let mut adapter = Adapter::new();
        feed(&mut adapter, good(), 5);
        for _ in 0..20 {
            assert!(!adapter.observe(&lossy()).changed);
            assert!(!adapter.observe(&good()).changed);
        }
        assert_eq!(adapter.level(), SendLevel::Full);
    }

    #[test]
    fn two_bad_seconds_step_down_one_rung_with_the_reason() {
        let mut adapter = Adapter::new();
        feed(&mut adapter, good(), 3);
        assert!(!adapter.observe(&lossy()).changed);
        let step = adapter.observe(&lossy());
        assert!(step.changed);
        assert_eq!(step.level, SendLevel::High);
        assert_eq!(step.reason, Some(Reason::Loss));
        assert!(!step.suggest_audio_only);
    }

    #[test]
    fn sustained_loss_walks_down_to_the_floor_then_suggests_audio_only() {
        let mut adapter = Adapter::new();
        let steps = feed(&mut adapter, lossy(), 60);
        let levels: Vec<SendLevel> = steps
            .iter()
            .filter(|s| s.changed)
            .map(|s| s.level)
            .collect();
        assert_eq!(
            levels,
            [
                SendLevel::High,
                SendLevel::Medium,
                SendLevel::Low,
                SendLevel::Minimal
            ]
        );
        // Each rung after the first waits for the settling time, then two bad seconds.
        let first_floor = steps
            .iter()
            .position(|s| s.level == SendLevel::Minimal)
            .map(|at| at + 1);
        assert_eq!(
            first_floor,
            Some((DOWN_AFTER + 3 * (SETTLE + DOWN_AFTER)) as usize)
        );
        let suggested = steps.iter().position(|s| s.suggest_audio_only);
        assert!(suggested.is_some_and(|at| at + 1 > first_floor.unwrap_or(0)));
        assert!(steps.last().is_some_and(|s| s.suggest_audio_only));
    }

    #[test]
    fn a_collapsed_bitrate_goes_straight_to_a_level_that_fits() {
        let mut adapter = Adapter::new();
        feed(&mut adapter, good(), 3);
        let starved = LinkSample {
            available_bps: Some(200_000.0),
            ..good()
        };
        let steps = feed(&mut adapter, starved, 2);
        assert!(steps[1].changed);
        assert_eq!(steps[1].level, SendLevel::Low);
        assert_eq!(steps[1].reason, Some(Reason::Bandwidth));
        // The estimate no longer falls: no further step down, and a climb only after the
        // settling time and the usual good seconds.
        let steps = feed(&mut adapter, starved, SETTLE + UP_AFTER - 1);
        assert!(steps.iter().all(|s| !s.changed));
        assert_eq!(adapter.level(), SendLevel::Low);
    }

    #[test]
    fn a_rising_round_trip_steps_down_but_a_long_steady_one_does_not() {
        let mut rising = Adapter::new();
        feed(&mut rising, good(), 5);
        let queued = LinkSample {
            rtt_ms: Some(450.0),
            ..good()
        };
        let steps = feed(&mut rising, queued, 2);
        assert_eq!(steps[1].reason, Some(Reason::Delay));
        assert_eq!(rising.level(), SendLevel::High);

        // A satellite link: 350 ms from the start, steady.
        let mut steady = Adapter::new();
        let far = LinkSample {
            rtt_ms: Some(350.0),
            ..good()
        };
        let steps = feed(&mut steady, far, 30);
        assert!(steps.iter().all(|s| !s.changed));
        // Even a long steady round trip is too long past a point.
        let very_far = LinkSample {
            rtt_ms: Some(700.0),
            ..good()
        };
        let mut worst = Adapter::new();
        assert_eq!(
            seconds_to_change(&mut worst, very_far, 10),
            Some(DOWN_AFTER)
        );
    }

    #[test]
    fn recovery_needs_eight_good_seconds_a_rung_and_clears_the_reason() {
        let mut adapter = Adapter::new();
        feed(&mut adapter, lossy(), 30);
        assert_eq!(adapter.level(), SendLevel::Minimal);
        let steps = feed(&mut adapter, good(), 60);
        let ups: Vec<usize> = steps
            .iter()
            .enumerate()
            .filter(|(_, s)| s.changed)
            .map(|(at, _)| at + 1)
            .collect();
        // The first step waits out the floor's bad streak: good seconds start counting at once
        // (no settling after the last change long ago), then each rung settles first.
        let rung = (SETTLE + UP_AFTER) as usize;
        assert_eq!(
            ups,
            [
                UP_AFTER as usize,
                UP_AFTER as usize + rung,
                UP_AFTER as usize + 2 * rung,
                UP_AFTER as usize + 3 * rung
            ]
        );
        let last = steps.last().copied();
        assert_eq!(last.map(|s| s.level), Some(SendLevel::Full));
        assert_eq!(last.and_then(|s| s.reason), None);
        assert!(last.is_some_and(|s| !s.suggest_audio_only));
    }

    #[test]
    fn a_borderline_second_breaks_a_good_run_but_not_a_bad_one() {
        let mut adapter = Adapter::new();
        let borderline = LinkSample {
            send_loss: Some(0.04),
            ..good()
        };
        // Bad, borderline, bad: still sustained.
        adapter.observe(&lossy());
        adapter.observe(&borderline);
        assert!(adapter.observe(&lossy()).changed);
        feed(&mut adapter, good(), SETTLE);
        // Seven good, one borderline, seven good: no step up yet.
        feed(&mut adapter, good(), UP_AFTER - 1);
        adapter.observe(&borderline);
        let steps = feed(&mut adapter, good(), UP_AFTER - 1);
        assert!(steps.iter().all(|s| !s.changed));
        assert!(adapter.observe(&good()).changed);
        assert_eq!(adapter.level(), SendLevel::Full);
    }

    #[test]
    fn a_climbing_estimate_is_a_ramp_not_a_poor_link() {
        // A new call: the estimate starts low and climbs.
        let mut adapter = Adapter::new();
        for second in 0..30u32 {
            let ramping = LinkSample {
                available_bps: Some(200_000.0 + 100_000.0 * f64::from(second)),
                ..good()
            };
            assert!(!adapter.observe(&ramping).changed, "second {second}");
        }
        assert_eq!(adapter.level(), SendLevel::Full);
    }

    #[test]
    fn an_estimate_that_slides_below_the_floor_steps_down() {
        let mut adapter = Adapter::new();
        let mut changed_at = None;
        for second in 0..40u32 {
            let sliding = LinkSample {
                available_bps: Some((2_500_000.0 - 60_000.0 * f64::from(second)).max(300_000.0)),
                ..good()
            };
            if adapter.observe(&sliding).changed && changed_at.is_none() {
                changed_at = Some(second);
            }
        }
        // Below 700 kbit/s from second 31: two seconds later it steps down.
        assert_eq!(changed_at, Some(32));
        assert_eq!(adapter.reason(), Some(Reason::Bandwidth));
    }

    #[test]
    fn after_a_step_down_a_recovering_estimate_allows_the_climb() {
        let mut adapter = Adapter::new();
        feed(&mut adapter, good(), 3);
        let starved = LinkSample {
            available_bps: Some(100_000.0),
            ..good()
        };
        feed(&mut adapter, starved, 2);
        assert_eq!(adapter.level(), SendLevel::Minimal);
        // The link is clean again, the capped estimate stays low for a while: the video
        // climbs anyway, one rung per settle and eight good seconds.
        let capped = LinkSample {
            available_bps: Some(140_000.0),
            ..good()
        };
        feed(&mut adapter, capped, SETTLE + UP_AFTER);
        assert_eq!(adapter.level(), SendLevel::Low);
    }

    #[test]
    fn seconds_without_figures_change_nothing() {
        let mut adapter = Adapter::new();
        feed(&mut adapter, lossy(), 6);
        let level = adapter.level();
        let steps = feed(&mut adapter, LinkSample::default(), 100);
        assert!(steps.iter().all(|s| !s.changed));
        assert_eq!(adapter.level(), level);
    }

    /// A link that carries `Medium` but not `High`: at `High` or better it loses packets.
    fn borderline_link(level: SendLevel) -> LinkSample {
        if level <= SendLevel::High {
            lossy()
        } else {
            good()
        }
    }

    #[test]
    fn a_borderline_link_does_not_oscillate() {
        let mut adapter = Adapter::new();
        let mut changes = Vec::new();
        let mut bad_seconds = 0;
        for second in 1..=600u32 {
            let sample = borderline_link(adapter.level());
            if sample != good() {
                bad_seconds += 1;
            }
            if adapter.observe(&sample).changed {
                changes.push((second, adapter.level()));
            }
        }
        // It settles on Medium, and every failed attempt at High makes the next one wait
        // twice as long, up to about a minute: an occasional probe, not a swing every few
        // seconds.
        assert_eq!(adapter.level(), SendLevel::Medium);
        let attempts: Vec<u32> = changes
            .iter()
            .filter(|(_, level)| *level == SendLevel::High)
            .map(|(second, _)| *second)
            .collect();
        let gaps: Vec<u32> = attempts.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.windows(2).all(|g| g[1] >= g[0]), "{gaps:?}");
        assert!(
            gaps.last().is_some_and(|gap| *gap > MAX_UP_AFTER),
            "{gaps:?}"
        );
        assert_eq!(adapter.up_after(), MAX_UP_AFTER);
        // Less than a tenth of the call is spent on a level the link cannot carry.
        assert!(
            bad_seconds * 10 < 600,
            "{bad_seconds} bad seconds: {changes:?}"
        );
        // It never fell below what the link carries.
        assert!(changes.iter().all(|(_, level)| *level <= SendLevel::Medium));
    }

    #[test]
    fn a_step_up_that_holds_resets_the_wait() {
        let mut adapter = Adapter::new();
        feed(&mut adapter, lossy(), 2);
        feed(&mut adapter, good(), SETTLE + UP_AFTER);
        assert_eq!(adapter.level(), SendLevel::Full);
        // It failed once: the next step up waits longer.
        feed(&mut adapter, lossy(), SETTLE + DOWN_AFTER);
        assert_eq!(adapter.level(), SendLevel::High);
        assert_eq!(adapter.up_after(), 2 * UP_AFTER);
        feed(&mut adapter, good(), SETTLE + 2 * UP_AFTER);
        assert_eq!(adapter.level(), SendLevel::Full);
        // Held for long enough: back to the normal wait.
        feed(&mut adapter, good(), HELD_AFTER);
        assert_eq!(adapter.up_after(), UP_AFTER);
    }

    #[test]
    fn reasons_have_words_and_wire_names() {
        assert_eq!(Reason::Bandwidth.words(), "low bandwidth");
        assert_eq!(
            serde_json::to_string(&Reason::Delay).ok().as_deref(),
            Some("\"delay\"")
        );
    }
}
