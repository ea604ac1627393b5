//! Where the local picture and sound come from (the camera, or a fallback), and what that
//! means for the page: the note explaining a fallback, and whether the picture is mirrored.

/// Where the local picture and sound come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaSource {
    /// Camera and microphone, as intended.
    Camera,
    /// The camera could not be opened; the screen is shared instead (with the microphone if
    /// it could be opened on its own).
    Screen,
    /// Neither camera nor screen: only the microphone is sent.
    MicrophoneOnly,
    /// Nothing could be opened: we only receive.
    ReceiveOnly,
}

impl MediaSource {
    /// A sentence for the status line explaining a fallback; `None` when all is as intended.
    pub fn note(self) -> Option<&'static str> {
        match self {
            MediaSource::Camera => None,
            MediaSource::Screen => {
                Some("Your camera could not be opened, so your screen is shared instead.")
            }
            MediaSource::MicrophoneOnly => {
                Some("Your camera could not be opened: the other person will only hear you.")
            }
            MediaSource::ReceiveOnly => Some(
                "No camera, screen or microphone could be opened: you can see and hear the other \
                 person, but they cannot see or hear you.",
            ),
        }
    }

    /// Whether the local picture is a camera image, which is shown mirrored like a mirror.
    /// A shared screen must not be mirrored, or its text would read backwards.
    pub fn is_mirrored(self) -> bool {
        self == MediaSource::Camera
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_camera_is_mirrored() {
        assert!(MediaSource::Camera.is_mirrored());
        assert!(!MediaSource::Screen.is_mirrored());
        assert!(!MediaSource::MicrophoneOnly.is_mirrored());
        assert!(!MediaSource::ReceiveOnly.is_mirrored());
    }

    #[test]
    fn every_fallback_is_explained_and_the_normal_case_is_not() {
        assert_eq!(MediaSource::Camera.note(), None);
        for source in [
            MediaSource::Screen,
            MediaSource::MicrophoneOnly,
            MediaSource::ReceiveOnly,
        ] {
            assert!(source.note().is_some_and(|n| !n.is_empty()));
        }
    }
}
