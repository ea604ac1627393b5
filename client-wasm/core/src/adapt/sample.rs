//! What one second of statistics says about the link, for the adaptation rules and the
//! quality score: the loss of what we send (as the other side reports it) and of what we
//! receive, the browser's estimate of the bitrate it can send, the round-trip time and the
//! jitter.

use crate::stats::{self, Snapshot, Stat};

/// One second of the link, as far as the browser could tell. Every figure is optional: the
/// first readings of a call, and some browsers, lack some of them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LinkSample {
    /// The share of our packets the other side missed in its latest report (0 to 1): the
    /// worst `fractionLost` of the `remote-inbound-rtp` entries.
    pub send_loss: Option<f64>,
    /// The share of the packets due to us since the last reading that were lost (0 to 1).
    pub receive_loss: Option<f64>,
    /// The selected candidate pair's `availableOutgoingBitrate`, in bits per second: how much
    /// the browser's congestion control thinks it can send.
    pub available_bps: Option<f64>,
    /// The media path's round-trip time in milliseconds.
    pub rtt_ms: Option<f64>,
    /// The worst jitter in milliseconds, of what we receive and of what the other side
    /// receives from us.
    pub jitter_ms: Option<f64>,
}

impl LinkSample {
    /// The loss that counts for what we send: the other side's report, or, before it has
    /// reported, the loss we see ourselves (links are usually bad both ways).
    pub fn loss(&self) -> Option<f64> {
        self.send_loss.or(self.receive_loss)
    }

    /// The worst loss either way, for the quality score.
    pub fn worst_loss(&self) -> Option<f64> {
        match (self.send_loss, self.receive_loss) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }
}

/// The link sample of a reading: `snapshot` is what [`stats::snapshot`] made of the same
/// reading (`current`), which already holds the receive loss, round trip and receive jitter.
pub fn link_sample(snapshot: &Snapshot, current: &[Stat]) -> LinkSample {
    let remote_reports = || {
        current
            .iter()
            .filter(|entry| entry.is("remote-inbound-rtp"))
    };
    let send_loss = remote_reports()
        .filter_map(|entry| entry.number("fractionLost"))
        .filter(|fraction| (0.0..=1.0).contains(fraction))
        .reduce(f64::max);
    let remote_jitter = remote_reports()
        .filter_map(|entry| entry.number("jitter"))
        .map(|seconds| seconds * 1000.0)
        .reduce(f64::max);
    let jitter_ms = match (snapshot.jitter_ms, remote_jitter) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    LinkSample {
        send_loss,
        receive_loss: snapshot.loss_percent.map(|percent| percent / 100.0),
        available_bps: stats::selected_pair(current)
            .and_then(|pair| pair.number("availableOutgoingBitrate"))
            .filter(|bps| *bps >= 0.0),
        rtt_ms: snapshot.rtt_ms,
        jitter_ms: jitter_ms.filter(|ms| *ms >= 0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::StatValue;

    fn stat(kind: &str, id: &str, fields: &[(&str, f64)]) -> Stat {
        Stat {
            kind: kind.into(),
            id: id.into(),
            fields: fields
                .iter()
                .map(|(name, value)| ((*name).to_owned(), StatValue::Number(*value)))
                .collect(),
        }
    }

    fn selected_pair(fields: &[(&str, f64)]) -> Stat {
        let mut pair = stat("candidate-pair", "P", fields);
        pair.fields.push(("selected".into(), StatValue::Flag(true)));
        pair
    }

    #[test]
    fn the_sample_takes_the_worst_report_and_the_pairs_estimate() {
        let stats = vec![
            stat(
                "remote-inbound-rtp",
                "RA",
                &[("fractionLost", 0.05), ("jitter", 0.010)],
            ),
            stat(
                "remote-inbound-rtp",
                "RV",
                &[("fractionLost", 0.20), ("jitter", 0.040)],
            ),
            selected_pair(&[("availableOutgoingBitrate", 300_000.0)]),
        ];
        let snapshot = Snapshot {
            rtt_ms: Some(420.0),
            loss_percent: Some(12.5),
            jitter_ms: Some(25.0),
            ..Snapshot::default()
        };
        let sample = link_sample(&snapshot, &stats);
        assert_eq!(sample.send_loss, Some(0.20));
        assert_eq!(sample.receive_loss, Some(0.125));
        assert_eq!(sample.available_bps, Some(300_000.0));
        assert_eq!(sample.rtt_ms, Some(420.0));
        assert_eq!(sample.jitter_ms, Some(40.0));
        assert_eq!(sample.loss(), Some(0.20));
        assert_eq!(sample.worst_loss(), Some(0.20));
    }

    #[test]
    fn missing_or_absurd_figures_are_left_out() {
        let stats = vec![
            stat("remote-inbound-rtp", "RV", &[("fractionLost", 3.0)]),
            // Not the selected pair: its estimate is not the path's.
            stat("candidate-pair", "Q", &[("availableOutgoingBitrate", 1e6)]),
        ];
        let sample = link_sample(&Snapshot::default(), &stats);
        assert_eq!(sample, LinkSample::default());
        assert_eq!(sample.loss(), None);
    }

    #[test]
    fn before_the_other_side_reports_our_own_loss_counts() {
        let sample = LinkSample {
            receive_loss: Some(0.1),
            ..LinkSample::default()
        };
        assert_eq!(sample.loss(), Some(0.1));
        assert_eq!(sample.worst_loss(), Some(0.1));
    }
}
