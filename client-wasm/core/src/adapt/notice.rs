//! What the other person's tile says about their picture: why it is small or gone, from the
//! control messages they sent (their video level and its reason, audio-only mode, a camera
//! paused in the background).

use super::ladder::SendLevel;
use super::rules::Reason;

/// The notice on the other person's tile, if their picture is reduced or gone for a reason
/// the call knows. Audio-only mode says the most and comes first; a paused camera next; a
/// reduced level last.
pub fn remote_notice(
    level: SendLevel,
    reason: Option<Reason>,
    audio_only: bool,
    camera_paused: bool,
) -> Option<String> {
    if audio_only {
        return Some("Audio only: video is off both ways to keep the call going".into());
    }
    if camera_paused {
        return Some("Their camera is paused while their app is in the background".into());
    }
    if level == SendLevel::Full {
        return None;
    }
    Some(match reason {
        Some(reason) => format!(
            "Their picture is sent at {} because of {} on the connection",
            level.label(),
            reason.words()
        ),
        None => format!("Their picture is sent at {}", level.label()),
    })
}

/// The prompt shown when the link stays bad at the lowest video level.
pub const AUDIO_ONLY_PROMPT: &str =
    "Your connection is too weak for video. Switch to audio only to keep the call clear?";

/// The audio-only button's label: what pressing it does.
pub fn audio_only_label(on: bool) -> &'static str {
    if on {
        "Turn video back on"
    } else {
        "Audio only"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_quality_needs_no_notice() {
        assert_eq!(remote_notice(SendLevel::Full, None, false, false), None);
    }

    #[test]
    fn a_reduced_picture_says_why() {
        assert_eq!(
            remote_notice(SendLevel::Low, Some(Reason::Loss), false, false).as_deref(),
            Some("Their picture is sent at low quality because of packet loss on the connection")
        );
        assert_eq!(
            remote_notice(SendLevel::High, None, false, false).as_deref(),
            Some("Their picture is sent at high quality")
        );
    }

    #[test]
    fn audio_only_then_a_paused_camera_take_precedence() {
        let audio_only = remote_notice(SendLevel::Minimal, Some(Reason::Bandwidth), true, true);
        assert!(audio_only.is_some_and(|text| text.starts_with("Audio only")));
        let paused = remote_notice(SendLevel::Minimal, Some(Reason::Bandwidth), false, true);
        assert!(paused.is_some_and(|text| text.contains("paused")));
    }

    #[test]
    fn the_button_says_what_it_does() {
        assert_eq!(audio_only_label(false), "Audio only");
        assert_eq!(audio_only_label(true), "Turn video back on");
    }
}
