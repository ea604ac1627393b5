//! Which way a camera faces, and what follows from it: whether the local picture is mirrored
//! (a front camera only, like a mirror; never a back camera, a shared screen or the other
//! person), whether a flip between front and back is offered (the device has both), and which
//! way a flip asks for next.

use super::source::MediaSource;

/// The way a camera faces, from `facingMode` (track settings or device capabilities) or its
/// label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Facing {
    /// Toward the person (`"user"`): a phone's front camera, a laptop's webcam.
    User,
    /// Away from the person (`"environment"`): a phone's back camera.
    Environment,
    /// Sideways (`"left"`, `"right"`): e.g. a car's side camera.
    Side,
    /// The browser does not say: typically a desktop webcam.
    Unknown,
}

impl Facing {
    /// Reads a `facingMode` value; anything unknown or absent is [`Facing::Unknown`].
    pub fn from_mode(mode: Option<&str>) -> Facing {
        match mode {
            Some("user") => Facing::User,
            Some("environment") => Facing::Environment,
            Some("left" | "right") => Facing::Side,
            _ => Facing::Unknown,
        }
    }

    /// The `facingMode` value a `getUserMedia` constraint asks for; `None` for no preference.
    pub fn as_mode(self) -> Option<&'static str> {
        match self {
            Facing::User => Some("user"),
            Facing::Environment => Some("environment"),
            Facing::Side | Facing::Unknown => None,
        }
    }

    /// Which way a flip from this camera asks for: the other one of front and back. A camera
    /// of unknown facing is taken for the front one, which phones open by default.
    pub fn flipped(self) -> Facing {
        match self {
            Facing::Environment => Facing::User,
            Facing::User | Facing::Side | Facing::Unknown => Facing::Environment,
        }
    }
}

/// Whether the local preview is shown mirrored: only a camera facing the person, or of unknown
/// facing (a desktop webcam faces its person). A back camera shows the world as it is, and a
/// shared screen would read backwards. (The remote video is never mirrored at all.)
pub fn preview_mirrored(source: MediaSource, facing: Facing) -> bool {
    source == MediaSource::Camera && matches!(facing, Facing::User | Facing::Unknown)
}

/// What the browser tells about one camera before it is opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CameraFacts {
    /// The device's label ("camera2 1, facing front", "Back Camera", "FaceTime HD Camera").
    pub label: String,
    /// `getCapabilities().facingMode` of the device, where the browser has it.
    pub facing_modes: Vec<String>,
}

impl CameraFacts {
    /// The ways this camera can face: from its capabilities when it has any, else guessed from
    /// the words of its label.
    fn facings(&self) -> Vec<Facing> {
        let known: Vec<Facing> = self
            .facing_modes
            .iter()
            .map(|mode| Facing::from_mode(Some(mode)))
            .filter(|facing| *facing != Facing::Unknown)
            .collect();
        if !known.is_empty() {
            return known;
        }
        let label = self.label.to_lowercase();
        let words: Vec<&str> = label
            .split(|c: char| !c.is_alphanumeric())
            .filter(|word| !word.is_empty())
            .collect();
        let has = |candidates: &[&str]| words.iter().any(|word| candidates.contains(word));
        let mut facings = Vec::new();
        if has(&["front", "user", "facetime", "selfie"]) {
            facings.push(Facing::User);
        }
        if has(&["back", "rear", "environment", "world"]) {
            facings.push(Facing::Environment);
        }
        facings
    }
}

/// Whether a front/back flip is offered: the cameras include one facing the person and one
/// facing away (possibly one device that can do both).
pub fn flip_offered(cameras: &[CameraFacts]) -> bool {
    let facings: Vec<Facing> = cameras.iter().flat_map(CameraFacts::facings).collect();
    facings.contains(&Facing::User) && facings.contains(&Facing::Environment)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn camera(label: &str, modes: &[&str]) -> CameraFacts {
        CameraFacts {
            label: label.into(),
            facing_modes: modes.iter().map(|m| (*m).to_owned()).collect(),
        }
    }

    #[test]
    fn facing_modes_are_read_and_unknown_values_are_unknown() {
        assert_eq!(Facing::from_mode(Some("user")), Facing::User);
        assert_eq!(Facing::from_mode(Some("environment")), Facing::Environment);
        assert_eq!(Facing::from_mode(Some("left")), Facing::Side);
        assert_eq!(Facing::from_mode(Some("")), Facing::Unknown);
        assert_eq!(Facing::from_mode(Some("upward")), Facing::Unknown);
        assert_eq!(Facing::from_mode(None), Facing::Unknown);
    }

    #[test]
    fn only_a_camera_facing_the_person_or_of_unknown_facing_is_mirrored() {
        assert!(preview_mirrored(MediaSource::Camera, Facing::User));
        assert!(preview_mirrored(MediaSource::Camera, Facing::Unknown));
        assert!(!preview_mirrored(MediaSource::Camera, Facing::Environment));
        assert!(!preview_mirrored(MediaSource::Camera, Facing::Side));
        for facing in [Facing::User, Facing::Unknown, Facing::Environment] {
            assert!(!preview_mirrored(MediaSource::Screen, facing));
            assert!(!preview_mirrored(MediaSource::MicrophoneOnly, facing));
            assert!(!preview_mirrored(MediaSource::ReceiveOnly, facing));
        }
    }

    #[test]
    fn a_flip_goes_to_the_other_side_and_from_an_unknown_camera_to_the_back() {
        assert_eq!(Facing::User.flipped(), Facing::Environment);
        assert_eq!(Facing::Environment.flipped(), Facing::User);
        assert_eq!(Facing::Unknown.flipped(), Facing::Environment);
        assert_eq!(Facing::Environment.flipped().as_mode(), Some("user"));
        assert_eq!(Facing::User.flipped().as_mode(), Some("environment"));
        assert_eq!(Facing::Unknown.as_mode(), None);
    }

    #[test]
    fn an_android_phone_with_front_and_back_cameras_offers_the_flip() {
        let cameras = [
            camera("camera2 1, facing front", &[]),
            camera("camera2 0, facing back", &[]),
        ];
        assert!(flip_offered(&cameras));
    }

    #[test]
    fn an_iphone_with_its_labels_offers_the_flip() {
        let cameras = [
            camera("Front Camera", &[]),
            camera("Back Camera", &[]),
            camera("Back Ultra Wide Camera", &[]),
        ];
        assert!(flip_offered(&cameras));
    }

    #[test]
    fn capabilities_win_over_labels() {
        // Labels in another language say nothing; the capabilities do.
        let cameras = [
            camera("Caméra avant", &["user"]),
            camera("Caméra arrière", &["environment"]),
        ];
        assert!(flip_offered(&cameras));
        // A label that seems to say "back" is overruled by what the device reports.
        let cameras = [
            camera("Front", &["user"]),
            camera("Back porch webcam", &["user"]),
        ];
        assert!(!flip_offered(&cameras));
    }

    #[test]
    fn one_device_that_can_face_both_ways_offers_the_flip() {
        assert!(flip_offered(&[camera("camera", &["user", "environment"])]));
    }

    #[test]
    fn a_desktop_webcam_or_two_front_cameras_offer_no_flip() {
        assert!(!flip_offered(&[]));
        assert!(!flip_offered(&[camera("fake_device_0", &[])]));
        assert!(!flip_offered(&[camera("FaceTime HD Camera", &[])]));
        assert!(!flip_offered(&[
            camera("Integrated Webcam", &[]),
            camera("Logitech BRIO", &[])
        ]));
        assert!(!flip_offered(&[
            camera("Front Camera", &[]),
            camera("FaceTime HD Camera", &["user"])
        ]));
        // Words inside other words do not count.
        assert!(!flip_offered(&[
            camera("Frontier Cam", &[]),
            camera("Backlit USB Camera", &[])
        ]));
    }
}
