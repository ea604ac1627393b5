//! The words and shapes of the live statistics panel, pure: the numbers of `live.rs`
//! written for people (`1.25 Mbit/s`, `640×480`, `24 ms`) and the geometry of its small plots.
//! Unit-tested natively; `components/stats_panel.rs` only places the results.

use visavis_shared::RelayTransport;

use super::live::Direction;

/// What a field shows while there is no value.
pub const NO_VALUE: &str = "—";

/// A bitrate: `850 kbit/s`, `1.25 Mbit/s`.
pub fn bitrate(bps: Option<f64>) -> String {
    match bps {
        None => NO_VALUE.into(),
        Some(bps) if bps >= 1_000_000.0 => format!("{:.2} Mbit/s", bps / 1_000_000.0),
        Some(bps) => format!("{:.0} kbit/s", bps / 1000.0),
    }
}

/// A duration in milliseconds, with a decimal below 10 ms (loopback calls measure fractions).
pub fn millis(ms: Option<f64>) -> String {
    match ms {
        None => NO_VALUE.into(),
        Some(ms) if ms < 10.0 => format!("{ms:.1} ms"),
        Some(ms) => format!("{ms:.0} ms"),
    }
}

/// A share in percent, with one decimal.
pub fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| NO_VALUE.into(), |value| format!("{value:.1} %"))
}

/// The set-up time: milliseconds below a second, seconds with one decimal above.
pub fn setup_time(ms: Option<u32>) -> String {
    match ms {
        None => NO_VALUE.into(),
        Some(ms) if ms < 1000 => format!("{ms} ms"),
        Some(ms) => format!("{:.1} s", f64::from(ms) / 1000.0),
    }
}

/// A picture size: `640×480`.
pub fn resolution(size: Option<(u32, u32)>) -> String {
    size.map_or_else(
        || NO_VALUE.into(),
        |(width, height)| format!("{width}×{height}"),
    )
}

/// A frame rate, rounded to whole frames: `30 fps`.
pub fn frame_rate(fps: Option<f64>) -> String {
    fps.map_or_else(|| NO_VALUE.into(), |fps| format!("{fps:.0} fps"))
}

/// The codecs of one direction, video first: `VP8, opus`.
pub fn codecs(direction: &Direction) -> String {
    let names: Vec<&str> = [&direction.video_codec, &direction.audio_codec]
        .into_iter()
        .filter_map(|codec| codec.as_deref())
        .collect();
    if names.is_empty() {
        NO_VALUE.into()
    } else {
        names.join(", ")
    }
}

/// The candidate types of both ends of the media path, ours first: `host / srflx`.
pub fn candidates(local: Option<&str>, remote: Option<&str>) -> String {
    format!(
        "{} / {}",
        local.unwrap_or(NO_VALUE),
        remote.unwrap_or(NO_VALUE)
    )
}

/// How we reach our relay, as the panel writes it: `UDP`, `TCP` or `TLS` (TLS runs over TCP).
pub fn relay_transport(transport: Option<RelayTransport>) -> String {
    match transport {
        None => NO_VALUE.into(),
        Some(RelayTransport::Udp) => "UDP".into(),
        Some(RelayTransport::Tcp) => "TCP".into(),
        Some(RelayTransport::Tls) => "TLS (over TCP)".into(),
    }
}

/// The top of a plot's scale: the smallest 1, 2 or 5 times a power of ten that is at least
/// every value and at least `floor` (so a quiet line does not look like a busy one).
pub fn plot_max(values: &[Option<f64>], floor: f64) -> f64 {
    let highest = values
        .iter()
        .flatten()
        .copied()
        .filter(|value| value.is_finite())
        .fold(floor, f64::max);
    if highest <= 0.0 {
        return 1.0;
    }
    let mut power = 10f64.powf(highest.log10().floor());
    loop {
        for step in [1.0, 2.0, 5.0] {
            if step * power >= highest {
                return step * power;
            }
        }
        power *= 10.0;
    }
}

/// The `points` of the polylines that draw `values` in a `width` × `height` box: the newest
/// value at the right edge, one step of `width / (slots - 1)` per sample, 0 at the bottom and
/// `max` at the top (higher values are clipped). A missing value breaks the line, so each run
/// of values is its own polyline; a run of one value is a single point.
pub fn polylines(
    values: &[Option<f64>],
    slots: usize,
    width: f64,
    height: f64,
    max: f64,
) -> Vec<String> {
    let slots = slots.max(values.len()).max(2);
    let step = width / (slots - 1) as f64;
    let first_slot = slots - values.len();
    let mut lines = Vec::new();
    let mut current: Vec<String> = Vec::new();
    for (i, value) in values.iter().enumerate() {
        match value {
            Some(value) if value.is_finite() && max > 0.0 => {
                let x = (first_slot + i) as f64 * step;
                let y = height - (value / max).clamp(0.0, 1.0) * height;
                current.push(format!("{x:.1},{y:.1}"));
            }
            _ => {
                if !current.is_empty() {
                    lines.push(current.join(" "));
                    current.clear();
                }
            }
        }
    }
    if !current.is_empty() {
        lines.push(current.join(" "));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitrates_use_kilo_or_megabits() {
        assert_eq!(bitrate(None), "—");
        assert_eq!(bitrate(Some(0.0)), "0 kbit/s");
        assert_eq!(bitrate(Some(850_400.0)), "850 kbit/s");
        assert_eq!(bitrate(Some(1_254_000.0)), "1.25 Mbit/s");
    }

    #[test]
    fn short_durations_keep_a_decimal() {
        assert_eq!(millis(Some(0.42)), "0.4 ms");
        assert_eq!(millis(Some(24.4)), "24 ms");
        assert_eq!(millis(None), "—");
    }

    #[test]
    fn set_up_times_switch_to_seconds_above_one() {
        assert_eq!(setup_time(Some(412)), "412 ms");
        assert_eq!(setup_time(Some(2345)), "2.3 s");
        assert_eq!(setup_time(None), "—");
    }

    #[test]
    fn other_values_are_formatted_for_people() {
        assert_eq!(percent(Some(1.234)), "1.2 %");
        assert_eq!(resolution(Some((640, 480))), "640×480");
        assert_eq!(frame_rate(Some(29.7)), "30 fps");
        assert_eq!(candidates(Some("host"), Some("relay")), "host / relay");
        assert_eq!(candidates(None, Some("prflx")), "— / prflx");
    }

    #[test]
    fn relay_transports_are_named_in_capitals() {
        assert_eq!(relay_transport(Some(RelayTransport::Udp)), "UDP");
        assert_eq!(relay_transport(Some(RelayTransport::Tcp)), "TCP");
        assert_eq!(relay_transport(Some(RelayTransport::Tls)), "TLS (over TCP)");
        assert_eq!(relay_transport(None), "—");
    }

    #[test]
    fn codecs_list_video_then_audio() {
        let both = Direction {
            video_codec: Some("VP8".into()),
            audio_codec: Some("opus".into()),
            ..Direction::default()
        };
        assert_eq!(codecs(&both), "VP8, opus");
        let audio = Direction {
            audio_codec: Some("opus".into()),
            ..Direction::default()
        };
        assert_eq!(codecs(&audio), "opus");
        assert_eq!(codecs(&Direction::default()), "—");
    }

    #[test]
    fn the_scale_rounds_up_to_one_two_or_five() {
        assert_eq!(plot_max(&[Some(130.0), None, Some(40.0)], 10.0), 200.0);
        assert_eq!(plot_max(&[Some(2_600_000.0)], 100_000.0), 5_000_000.0);
        assert_eq!(plot_max(&[Some(1000.0)], 10.0), 1000.0);
        assert_eq!(plot_max(&[Some(3.0)], 10.0), 10.0);
        assert_eq!(plot_max(&[], 0.0), 1.0);
    }

    #[test]
    fn the_newest_value_sits_at_the_right_edge() {
        let lines = polylines(&[Some(0.0), Some(50.0), Some(100.0)], 5, 100.0, 40.0, 100.0);
        assert_eq!(lines, vec!["50.0,40.0 75.0,20.0 100.0,0.0".to_owned()]);
    }

    #[test]
    fn a_missing_value_breaks_the_line_and_high_values_are_clipped() {
        let lines = polylines(
            &[Some(10.0), None, Some(500.0), Some(0.0)],
            4,
            30.0,
            10.0,
            100.0,
        );
        assert_eq!(
            lines,
            vec!["0.0,9.0".to_owned(), "20.0,0.0 30.0,10.0".to_owned()]
        );
        assert!(polylines(&[None, None], 60, 100.0, 10.0, 1.0).is_empty());
    }

    #[test]
    fn points_grow_with_the_samples() {
        let count = |n: usize| -> usize {
            let values = vec![Some(1.0); n];
            polylines(&values, 60, 120.0, 40.0, 2.0)
                .iter()
                .map(|line| line.split(' ').count())
                .sum()
        };
        assert_eq!(count(1), 1);
        assert_eq!(count(7), 7);
        assert_eq!(count(60), 60);
    }
}
