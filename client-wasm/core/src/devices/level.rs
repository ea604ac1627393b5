//! The microphone level as the meters show it, from an analyser's samples: the loudness, as a
//! percentage that rises at once and falls gently. Pure Rust, so the arithmetic is unit-tested
//! natively; the browser crate's level meters feed it.

/// A loudness between 0 and 1 from an analyser's time-domain bytes (silence is 128): the
/// root mean square, amplified so that ordinary speech fills a good part of the bar.
pub fn level_from_samples(samples: &[u8]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples
        .iter()
        .map(|&s| {
            let centred = (f64::from(s) - 128.0) / 128.0;
            centred * centred
        })
        .sum();
    let rms = (sum / samples.len() as f64).sqrt();
    // Speech rarely passes an RMS of 0.3; without gain the bar would barely move.
    (rms * 3.0).clamp(0.0, 1.0)
}

/// How many points the shown level may fall per sample, so that a syllable does not flash.
pub const FALL_PER_SAMPLE: u8 = 8;

/// The loudness of an analyser's time-domain bytes (silence is 128) as 0–100.
pub fn percent(samples: &[u8]) -> u8 {
    // level_from_samples is clamped to 0..=1, so the product fits a u8.
    (level_from_samples(samples) * 100.0).round() as u8
}

/// The level to show after `previous`, given the new measurement: up at once, down by at most
/// [`FALL_PER_SAMPLE`].
pub fn smoothed(previous: u8, measured: u8) -> u8 {
    measured.max(previous.saturating_sub(FALL_PER_SAMPLE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_has_no_level_and_a_loud_signal_fills_the_bar() {
        assert_eq!(level_from_samples(&[]), 0.0);
        assert_eq!(level_from_samples(&[128; 64]), 0.0);
        let loud: Vec<u8> = (0..64).map(|i| if i % 2 == 0 { 0 } else { 255 }).collect();
        assert_eq!(level_from_samples(&loud), 1.0);
        let quiet: Vec<u8> = (0..64)
            .map(|i| if i % 2 == 0 { 120 } else { 136 })
            .collect();
        let level = level_from_samples(&quiet);
        assert!(level > 0.0 && level < 0.5, "{level}");
    }

    #[test]
    fn silence_reads_zero_and_a_full_swing_reads_a_hundred() {
        assert_eq!(percent(&[128; 512]), 0);
        assert_eq!(percent(&[]), 0);
        let square: Vec<u8> = (0..512).map(|i| if i % 2 == 0 { 0 } else { 255 }).collect();
        assert_eq!(percent(&square), 100);
    }

    #[test]
    fn a_quiet_sound_reads_low_and_a_louder_one_higher() {
        // A sine of amplitude a has an RMS of a/sqrt(2); the meter shows three times that.
        let sine = |amplitude: f64| -> Vec<u8> {
            (0..512)
                .map(|i| {
                    let x = (i as f64 / 512.0 * 2.0 * std::f64::consts::PI * 8.0).sin();
                    (128.0 + x * amplitude * 127.0).round() as u8
                })
                .collect()
        };
        let quiet = percent(&sine(0.05));
        let loud = percent(&sine(0.2));
        assert!((8..=13).contains(&quiet), "quiet: {quiet}");
        assert!((38..=45).contains(&loud), "loud: {loud}");
    }

    #[test]
    fn the_shown_level_rises_at_once_and_falls_gently() {
        assert_eq!(smoothed(0, 60), 60);
        assert_eq!(smoothed(60, 0), 60 - FALL_PER_SAMPLE);
        assert_eq!(smoothed(60, 55), 55);
        assert_eq!(smoothed(3, 0), 0);
        let mut shown = 100;
        let mut steps = 0;
        while shown > 0 {
            shown = smoothed(shown, 0);
            steps += 1;
        }
        // From full to silent in about a second and a half at ten samples a second.
        assert!((10..=15).contains(&steps), "{steps} samples");
    }
}
