//! The network quality shown as signal bars for each side: a score from 0 to 4 bars, computed
//! from loss, round-trip time and jitter, smoothed so a single bad second does not flicker,
//! and explained in words for the indicator's tooltip.

use std::collections::VecDeque;

use super::sample::LinkSample;
use crate::stats::view;

/// The most bars.
pub const MAX_BARS: u8 = 4;

/// How many seconds the shown score looks back: it drops at once and comes back once the
/// last [`SMOOTHING`] seconds were all better.
pub const SMOOTHING: usize = 3;

/// The bars lost to a figure: how many thresholds it reaches.
fn penalty(value: Option<f64>, thresholds: [f64; 4]) -> u8 {
    let Some(value) = value else {
        return 0;
    };
    let reached = thresholds.iter().filter(|limit| value >= **limit).count();
    // At most 4, so the cast is exact.
    reached as u8
}

/// The score of one second: four bars, less the penalty of its worst figure. Loss costs a bar
/// from 2 %, two from 5 %, three from 10 %, all from 20 %; round trip from 250, 400, 700 and
/// 1200 ms; jitter from 30, 60, 100 and 200 ms. `None` without any figure.
pub fn network_score(loss: Option<f64>, rtt_ms: Option<f64>, jitter_ms: Option<f64>) -> Option<u8> {
    if loss.is_none() && rtt_ms.is_none() && jitter_ms.is_none() {
        return None;
    }
    let worst = penalty(loss, [0.02, 0.05, 0.10, 0.20])
        .max(penalty(rtt_ms, [250.0, 400.0, 700.0, 1200.0]))
        .max(penalty(jitter_ms, [30.0, 60.0, 100.0, 200.0]));
    Some(MAX_BARS - worst)
}

/// The word for a score.
pub fn quality_word(score: u8) -> &'static str {
    match score {
        4.. => "Excellent",
        3 => "Good",
        2 => "Fair",
        1 => "Poor",
        0 => "Very poor",
    }
}

/// Whether a score is low enough to call the link poor (the indicator's warning colour).
pub fn is_poor(score: u8) -> bool {
    score <= 1
}

/// What our indicator shows: the smoothed score and the figures behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityReading {
    /// The bars, 0 to [`MAX_BARS`].
    pub score: u8,
    /// The explanation: the word and the figures.
    pub text: String,
}

/// Our side's score over the last seconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QualityMeter {
    recent: VecDeque<u8>,
}

impl QualityMeter {
    /// Adds one second and returns what to show (`None` while no second had a figure).
    pub fn push(&mut self, sample: &LinkSample) -> Option<QualityReading> {
        let loss = sample.worst_loss();
        if let Some(score) = network_score(loss, sample.rtt_ms, sample.jitter_ms) {
            if self.recent.len() == SMOOTHING {
                self.recent.pop_front();
            }
            self.recent.push_back(score);
        }
        let score = self.recent.iter().copied().min()?;
        Some(QualityReading {
            score,
            text: format!(
                "Your connection: {} (loss {}, round trip {}, jitter {})",
                quality_word(score).to_lowercase(),
                view::percent(loss.map(|loss| loss * 100.0)),
                view::millis(sample.rtt_ms),
                view::millis(sample.jitter_ms),
            ),
        })
    }
}

/// The explanation of the other person's score, which they send us.
pub fn remote_quality_text(score: u8) -> String {
    format!(
        "Their connection: {} (as measured on their side)",
        quality_word(score).to_lowercase()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clean_link_has_every_bar() {
        assert_eq!(network_score(Some(0.0), Some(30.0), Some(2.0)), Some(4));
        assert_eq!(network_score(None, Some(30.0), None), Some(4));
        assert_eq!(network_score(None, None, None), None);
    }

    #[test]
    fn the_worst_figure_decides() {
        assert_eq!(network_score(Some(0.03), Some(30.0), Some(2.0)), Some(3));
        assert_eq!(network_score(Some(0.0), Some(450.0), Some(2.0)), Some(2));
        assert_eq!(network_score(Some(0.12), Some(450.0), Some(2.0)), Some(1));
        assert_eq!(network_score(Some(0.0), Some(30.0), Some(250.0)), Some(0));
        assert_eq!(network_score(Some(0.25), Some(30.0), Some(2.0)), Some(0));
        // A lossy, slow, jittery link cannot go below zero.
        assert_eq!(network_score(Some(0.9), Some(5000.0), Some(900.0)), Some(0));
    }

    #[test]
    fn thresholds_count_from_the_limit_itself() {
        assert_eq!(network_score(Some(0.0199), None, None), Some(4));
        assert_eq!(network_score(Some(0.02), None, None), Some(3));
        assert_eq!(network_score(None, Some(249.9), None), Some(4));
        assert_eq!(network_score(None, Some(250.0), None), Some(3));
    }

    #[test]
    fn words_go_with_the_bars() {
        let words: Vec<&str> = (0..=4).map(quality_word).collect();
        assert_eq!(words, ["Very poor", "Poor", "Fair", "Good", "Excellent"]);
        assert!(is_poor(1) && is_poor(0) && !is_poor(2));
    }

    fn sample(loss: f64, rtt: f64) -> LinkSample {
        LinkSample {
            send_loss: Some(loss),
            rtt_ms: Some(rtt),
            jitter_ms: Some(4.0),
            ..LinkSample::default()
        }
    }

    #[test]
    fn the_meter_drops_at_once_and_recovers_after_the_smoothing_window() {
        let mut meter = QualityMeter::default();
        assert_eq!(meter.push(&LinkSample::default()), None);
        assert_eq!(meter.push(&sample(0.0, 20.0)).map(|r| r.score), Some(4));
        assert_eq!(meter.push(&sample(0.3, 20.0)).map(|r| r.score), Some(0));
        let after: Vec<Option<u8>> = (0..SMOOTHING)
            .map(|_| meter.push(&sample(0.0, 20.0)).map(|r| r.score))
            .collect();
        assert_eq!(after, [Some(0), Some(0), Some(4)]);
    }

    #[test]
    fn the_explanation_names_the_figures() {
        let mut meter = QualityMeter::default();
        let reading = meter.push(&sample(0.125, 320.0));
        assert_eq!(
            reading.map(|r| r.text).as_deref(),
            Some("Your connection: poor (loss 12.5 %, round trip 320 ms, jitter 4.0 ms)")
        );
        assert_eq!(
            remote_quality_text(2),
            "Their connection: fair (as measured on their side)"
        );
    }
}
