//! The ladder of video send levels, from the camera's full quality down to a small, slow
//! picture, and the encoding parameters each level asks of the video sender.

use serde::{Deserialize, Serialize};

/// How much video we send: a rung of the ladder. `Full` sends what the browser chooses; each
/// lower level caps the bitrate harder and, from `Medium` down, shrinks the picture and its
/// frame rate, so a poor link gets a smaller picture instead of a frozen one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendLevel {
    /// No cap: the browser's own choice.
    Full,
    /// At most 1.2 Mbit/s, full size.
    High,
    /// At most 600 kbit/s, the picture scaled down by 1.5.
    Medium,
    /// At most 300 kbit/s, half size, 15 frames per second.
    Low,
    /// At most 150 kbit/s, a quarter of the size, 10 frames per second: the floor.
    Minimal,
}

/// Every level, best first.
pub const LEVELS: [SendLevel; 5] = [
    SendLevel::Full,
    SendLevel::High,
    SendLevel::Medium,
    SendLevel::Low,
    SendLevel::Minimal,
];

/// What one level asks of the video sender's first encoding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Encoding {
    /// `maxBitrate` in bits per second; `None` leaves it to the browser.
    pub max_bitrate_bps: Option<u32>,
    /// `scaleResolutionDownBy` (1 sends the camera's size).
    pub scale_down_by: f64,
    /// `maxFramerate`; `None` leaves it to the browser.
    pub max_framerate: Option<f64>,
}

impl SendLevel {
    /// The level's position on the ladder: 0 for `Full` up to 4 for `Minimal`.
    pub fn index(self) -> u8 {
        match self {
            SendLevel::Full => 0,
            SendLevel::High => 1,
            SendLevel::Medium => 2,
            SendLevel::Low => 3,
            SendLevel::Minimal => 4,
        }
    }

    /// The level at `index` (see [`SendLevel::index`]); beyond the floor, the floor.
    pub fn from_index(index: u8) -> SendLevel {
        LEVELS[usize::from(index.min(4))]
    }

    /// The next level down, or `None` at the floor.
    pub fn lower(self) -> Option<SendLevel> {
        (self != SendLevel::Minimal).then(|| SendLevel::from_index(self.index() + 1))
    }

    /// The next level up, or `None` at full quality.
    pub fn higher(self) -> Option<SendLevel> {
        (self != SendLevel::Full).then(|| SendLevel::from_index(self.index() - 1))
    }

    /// The encoding parameters of this level.
    pub fn encoding(self) -> Encoding {
        let (max_bitrate_bps, scale_down_by, max_framerate) = match self {
            SendLevel::Full => (None, 1.0, None),
            SendLevel::High => (Some(1_200_000), 1.0, None),
            SendLevel::Medium => (Some(600_000), 1.5, None),
            SendLevel::Low => (Some(300_000), 2.0, Some(15.0)),
            SendLevel::Minimal => (Some(150_000), 4.0, Some(10.0)),
        };
        Encoding {
            max_bitrate_bps,
            scale_down_by,
            max_framerate,
        }
    }

    /// The outgoing bitrate below which this level cannot be kept up, in bits per second: an
    /// available bitrate under it steps down at once to a level that fits. `None` at the
    /// floor, where only audio-only mode is left.
    pub fn floor_bps(self) -> Option<f64> {
        match self {
            SendLevel::Full => Some(700_000.0),
            SendLevel::High => Some(450_000.0),
            SendLevel::Medium => Some(250_000.0),
            SendLevel::Low => Some(120_000.0),
            SendLevel::Minimal => None,
        }
    }

    /// The best level whose floor `available_bps` clears (the floor level if none does).
    pub fn fitting(available_bps: f64) -> SendLevel {
        LEVELS
            .into_iter()
            .find(|level| level.floor_bps().is_none_or(|floor| available_bps >= floor))
            .unwrap_or(SendLevel::Minimal)
    }

    /// A few words on the level, for the other side's notice and the statistics.
    pub fn label(self) -> &'static str {
        match self {
            SendLevel::Full => "full quality",
            SendLevel::High => "high quality",
            SendLevel::Medium => "reduced quality",
            SendLevel::Low => "low quality",
            SendLevel::Minimal => "minimal quality",
        }
    }
}

/// How the browser should trade quality when the encoder is short of bits
/// (`degradationPreference`): a camera keeps its motion smooth and gives up some sharpness and
/// smoothness alike; a shared screen keeps its text readable and gives up frames.
pub fn degradation_preference(sharing_screen: bool) -> &'static str {
    if sharing_screen {
        "maintain-resolution"
    } else {
        "balanced"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ladder_goes_down_in_bitrate_size_and_frame_rate() {
        let mut previous: Option<Encoding> = None;
        for level in LEVELS {
            let now = level.encoding();
            if let Some(before) = previous {
                let cap = |e: Encoding| e.max_bitrate_bps.unwrap_or(u32::MAX);
                let fps = |e: Encoding| e.max_framerate.unwrap_or(f64::INFINITY);
                assert!(cap(now) < cap(before), "{level:?}");
                assert!(now.scale_down_by >= before.scale_down_by, "{level:?}");
                assert!(fps(now) <= fps(before), "{level:?}");
            }
            previous = Some(now);
        }
        assert_eq!(SendLevel::Full.encoding().max_bitrate_bps, None);
        assert_eq!(SendLevel::Minimal.encoding().scale_down_by, 4.0);
        assert_eq!(SendLevel::Minimal.encoding().max_framerate, Some(10.0));
    }

    #[test]
    fn levels_step_one_rung_and_stop_at_the_ends() {
        assert_eq!(SendLevel::Full.higher(), None);
        assert_eq!(SendLevel::Minimal.lower(), None);
        assert_eq!(SendLevel::Full.lower(), Some(SendLevel::High));
        assert_eq!(SendLevel::Low.higher(), Some(SendLevel::Medium));
        for level in LEVELS {
            assert_eq!(SendLevel::from_index(level.index()), level);
        }
        assert_eq!(SendLevel::from_index(200), SendLevel::Minimal);
    }

    #[test]
    fn the_fitting_level_is_the_best_one_whose_floor_is_cleared() {
        assert_eq!(SendLevel::fitting(5_000_000.0), SendLevel::Full);
        assert_eq!(SendLevel::fitting(700_000.0), SendLevel::Full);
        assert_eq!(SendLevel::fitting(500_000.0), SendLevel::High);
        assert_eq!(SendLevel::fitting(300_000.0), SendLevel::Medium);
        assert_eq!(SendLevel::fitting(200_000.0), SendLevel::Low);
        assert_eq!(SendLevel::fitting(50_000.0), SendLevel::Minimal);
    }

    #[test]
    fn levels_have_a_snake_case_wire_name() {
        assert_eq!(
            serde_json::to_string(&SendLevel::Minimal).ok().as_deref(),
            Some("\"minimal\"")
        );
    }

    #[test]
    fn a_screen_keeps_its_resolution_and_a_camera_balances() {
        assert_eq!(degradation_preference(true), "maintain-resolution");
        assert_eq!(degradation_preference(false), "balanced");
    }
}
