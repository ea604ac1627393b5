//! What the statistics panel keeps of the current call: the latest snapshot, and the last
//! minute of samples for its plots. Pure Rust, unit-tested natively.

use std::collections::VecDeque;

use super::live::Snapshot;

/// How many samples the plots keep: one a second for the last minute.
pub const HISTORY_LEN: usize = 60;

/// One point of the plots.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample {
    /// What we sent, in bits per second.
    pub send_bps: Option<f64>,
    /// What we received, in bits per second.
    pub receive_bps: Option<f64>,
    /// The round-trip time in milliseconds.
    pub rtt_ms: Option<f64>,
}

impl Sample {
    fn of(snapshot: &Snapshot) -> Sample {
        Sample {
            send_bps: snapshot.send.bitrate_bps,
            receive_bps: snapshot.receive.bitrate_bps,
            rtt_ms: snapshot.rtt_ms,
        }
    }
}

/// The newest [`HISTORY_LEN`] samples, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    samples: VecDeque<Sample>,
}

impl History {
    /// Adds the newest sample, dropping the oldest once there are [`HISTORY_LEN`].
    pub fn push(&mut self, sample: Sample) {
        if self.samples.len() == HISTORY_LEN {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
    }

    /// How many samples there are.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether there is no sample yet.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// One value of every sample, oldest first (`None` where the sample has none).
    pub fn series(&self, value: impl Fn(&Sample) -> Option<f64>) -> Vec<Option<f64>> {
        self.samples.iter().map(value).collect()
    }
}

/// What the panel shows for the current call: the latest snapshot, the plots' history and the
/// call's set-up time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveStats {
    latest: Option<Snapshot>,
    history: History,
    setup_ms: Option<u32>,
}

impl LiveStats {
    /// The statistics of a call that has just connected, `setup_ms` after its set-up started
    /// (`None` if the start was not recorded).
    pub fn new(setup_ms: Option<u32>) -> LiveStats {
        LiveStats {
            latest: None,
            history: History::default(),
            setup_ms,
        }
    }

    /// Records a new reading's snapshot: it becomes the latest, and a sample of the history.
    pub fn record(&mut self, snapshot: Snapshot) {
        self.history.push(Sample::of(&snapshot));
        self.latest = Some(snapshot);
    }

    /// The latest snapshot, once a reading was recorded.
    pub fn latest(&self) -> Option<&Snapshot> {
        self.latest.as_ref()
    }

    /// The samples for the plots.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// How long the call took to set up, in milliseconds.
    pub fn setup_ms(&self) -> Option<u32> {
        self.setup_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::live::{snapshot, tests::reading};

    #[test]
    fn the_history_keeps_the_last_sixty_samples() {
        let mut history = History::default();
        assert_eq!(history.len(), 0);
        for second in 0..HISTORY_LEN + 15 {
            history.push(Sample {
                rtt_ms: Some(second as f64),
                ..Sample::default()
            });
        }
        assert_eq!(history.len(), HISTORY_LEN);
        let rtts = history.series(|sample| sample.rtt_ms);
        assert_eq!(rtts.first(), Some(&Some(15.0)));
        assert_eq!(rtts.last(), Some(&Some((HISTORY_LEN + 14) as f64)));
    }

    #[test]
    fn recording_a_snapshot_makes_it_the_latest_and_adds_a_sample() {
        let mut live = LiveStats::new(Some(420));
        assert_eq!(live.latest(), None);
        assert_eq!(live.setup_ms(), Some(420));
        let before = reading(1000.0, 0.0, 0.0, 0.0, 0.0);
        let now = reading(2000.0, 1000.0, 2000.0, 0.0, 0.0);
        live.record(snapshot(None, &before));
        live.record(snapshot(Some(&before), &now));
        assert_eq!(live.history().len(), 2);
        assert_eq!(
            live.history().series(|s| s.receive_bps),
            vec![None, Some(16_000.0)]
        );
        assert_eq!(live.latest().and_then(|s| s.send.bitrate_bps), Some(8000.0));
    }
}
