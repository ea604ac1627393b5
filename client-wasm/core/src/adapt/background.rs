//! The camera while the page is hidden: when to tell the other side it is paused, and how to
//! resume it once the page is visible again.

/// What to do about the camera now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CameraAction {
    /// Nothing changed.
    Keep,
    /// The hidden page's camera was paused or stopped by the browser: tell the other side.
    Pause,
    /// The page is back and the camera track is live (it was only muted): tell the other side.
    Resume,
    /// The page is back but the browser ended the track: open the camera again, then resume.
    Reacquire,
}

/// The camera's track as the browser reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CameraTrack {
    /// `readyState == "ended"`.
    pub ended: bool,
    /// `muted`: the browser delivers no frames for now.
    pub muted: bool,
}

/// The action for a page that is `hidden` or not, whose camera track is `track`, when we
/// already told the other side it is paused (`told_paused`) or not.
pub fn camera_action(hidden: bool, track: CameraTrack, told_paused: bool) -> CameraAction {
    let stopped = track.ended || track.muted;
    match (hidden, told_paused) {
        (true, false) if stopped => CameraAction::Pause,
        (false, true) if track.ended => CameraAction::Reacquire,
        (false, true) => CameraAction::Resume,
        _ => CameraAction::Keep,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIVE: CameraTrack = CameraTrack {
        ended: false,
        muted: false,
    };
    const MUTED: CameraTrack = CameraTrack {
        ended: false,
        muted: true,
    };
    const ENDED: CameraTrack = CameraTrack {
        ended: true,
        muted: false,
    };

    #[test]
    fn a_hidden_page_whose_camera_keeps_running_changes_nothing() {
        assert_eq!(camera_action(true, LIVE, false), CameraAction::Keep);
        assert_eq!(camera_action(false, LIVE, false), CameraAction::Keep);
    }

    #[test]
    fn a_muted_or_ended_camera_of_a_hidden_page_is_paused_once() {
        assert_eq!(camera_action(true, MUTED, false), CameraAction::Pause);
        assert_eq!(camera_action(true, ENDED, false), CameraAction::Pause);
        assert_eq!(camera_action(true, ENDED, true), CameraAction::Keep);
    }

    #[test]
    fn back_on_screen_a_muted_camera_resumes_and_an_ended_one_is_reopened() {
        assert_eq!(camera_action(false, MUTED, true), CameraAction::Resume);
        assert_eq!(camera_action(false, LIVE, true), CameraAction::Resume);
        assert_eq!(camera_action(false, ENDED, true), CameraAction::Reacquire);
    }

    #[test]
    fn a_camera_stopped_on_a_visible_page_is_not_a_pause() {
        // Unplugged or revoked: the device code deals with that, not the background rules.
        assert_eq!(camera_action(false, ENDED, false), CameraAction::Keep);
    }
}
