//! Choosing cameras, microphones and speakers: the lists the pickers show (with names for
//! devices the browser leaves unnamed), which device to use when the saved one is gone, what to
//! switch to when a device in use disappears, and what the pre-join preview says. Pure Rust,
//! unit-tested natively; the browser crate's `media/device_access.rs` is the browser's side.

/// A kind of device the person can pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceKind {
    /// A camera (`videoinput`).
    Camera,
    /// A microphone (`audioinput`).
    Microphone,
    /// A speaker or headphones (`audiooutput`).
    Speaker,
}

impl DeviceKind {
    /// Every kind, in the pickers' order.
    pub const ALL: [DeviceKind; 3] = [
        DeviceKind::Camera,
        DeviceKind::Microphone,
        DeviceKind::Speaker,
    ];

    /// The kind of a `MediaDeviceInfo.kind` value; `None` for kinds we do not offer.
    pub fn from_web(kind: &str) -> Option<DeviceKind> {
        match kind {
            "videoinput" => Some(DeviceKind::Camera),
            "audioinput" => Some(DeviceKind::Microphone),
            "audiooutput" => Some(DeviceKind::Speaker),
            _ => None,
        }
    }

    /// The kind of the tracks this device gives (`"video"`, `"audio"`); `None` for speakers,
    /// which give none.
    pub fn track_kind(self) -> Option<&'static str> {
        match self {
            DeviceKind::Camera => Some("video"),
            DeviceKind::Microphone => Some("audio"),
            DeviceKind::Speaker => None,
        }
    }

    /// The word for one device of this kind, capitalised.
    pub fn noun(self) -> &'static str {
        match self {
            DeviceKind::Camera => "Camera",
            DeviceKind::Microphone => "Microphone",
            DeviceKind::Speaker => "Speaker",
        }
    }

    /// The `localStorage` key under which the person's choice is kept between visits.
    pub fn storage_key(self) -> &'static str {
        match self {
            DeviceKind::Camera => "visavis.device.camera",
            DeviceKind::Microphone => "visavis.device.microphone",
            DeviceKind::Speaker => "visavis.device.speaker",
        }
    }
}

/// One entry of `enumerateDevices()`, as the browser gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawDevice {
    /// `MediaDeviceInfo.kind`.
    pub kind: String,
    /// `MediaDeviceInfo.deviceId` (empty before the person allowed access).
    pub id: String,
    /// `MediaDeviceInfo.label` (empty before the person allowed access).
    pub label: String,
}

/// One choice in a picker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceOption {
    /// The device id, as `getUserMedia` and `setSinkId` take it.
    pub id: String,
    /// What the picker shows: the browser's label, or "Camera 2" when it gives none.
    pub label: String,
}

/// The devices of each kind, in the browser's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceLists {
    /// The cameras.
    pub cameras: Vec<DeviceOption>,
    /// The microphones.
    pub microphones: Vec<DeviceOption>,
    /// The speakers.
    pub speakers: Vec<DeviceOption>,
}

impl DeviceLists {
    /// Sorts the browser's list by kind. Entries without an id are left out: browsers list
    /// such placeholders before access is allowed, and they cannot be opened by id. Repeated
    /// ids are listed once. Unnamed devices are called "Camera 1", "Camera 2"… by their place
    /// in their kind's list.
    pub fn from_raw(raw: impl IntoIterator<Item = RawDevice>) -> DeviceLists {
        let mut lists = DeviceLists::default();
        for device in raw {
            let Some(kind) = DeviceKind::from_web(&device.kind) else {
                continue;
            };
            if device.id.is_empty() {
                continue;
            }
            let list = lists.of_mut(kind);
            if list.iter().any(|option| option.id == device.id) {
                continue;
            }
            let label = match device.label.trim() {
                "" => format!("{} {}", kind.noun(), list.len() + 1),
                label => label.to_owned(),
            };
            list.push(DeviceOption {
                id: device.id,
                label,
            });
        }
        lists
    }

    /// The devices of one kind.
    pub fn of(&self, kind: DeviceKind) -> &[DeviceOption] {
        match kind {
            DeviceKind::Camera => &self.cameras,
            DeviceKind::Microphone => &self.microphones,
            DeviceKind::Speaker => &self.speakers,
        }
    }

    fn of_mut(&mut self, kind: DeviceKind) -> &mut Vec<DeviceOption> {
        match kind {
            DeviceKind::Camera => &mut self.cameras,
            DeviceKind::Microphone => &mut self.microphones,
            DeviceKind::Speaker => &mut self.speakers,
        }
    }
}

/// The id browsers give the entry that follows the system's default device.
pub const DEFAULT_ID: &str = "default";

/// Which device to use: the saved one while it is listed, else the system's default entry,
/// else the first one; `None` when nothing is listed.
pub fn choose(saved: Option<&str>, options: &[DeviceOption]) -> Option<String> {
    let listed = |id: &str| options.iter().any(|option| option.id == id);
    if let Some(saved) = saved.filter(|id| listed(id)) {
        return Some(saved.to_owned());
    }
    if listed(DEFAULT_ID) {
        return Some(DEFAULT_ID.to_owned());
    }
    options.first().map(|option| option.id.clone())
}

/// After the device list changed: the device to switch to when the one in use (`in_use`, or
/// `None` when its id is unknown) is gone or its track ended (`ended`); `None` to keep it.
/// A device that reappears is reopened by the same id.
pub fn replacement(
    in_use: Option<&str>,
    ended: bool,
    saved: Option<&str>,
    options: &[DeviceOption],
) -> Option<String> {
    let listed = in_use.is_some_and(|id| options.iter().any(|option| option.id == id));
    if listed && !ended {
        return None;
    }
    if in_use.is_none() && !ended {
        // Without an id the device cannot be looked up; while its track lives, it is there.
        return None;
    }
    choose(saved, options)
}

/// The pre-join camera preview.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PreviewState {
    /// Not shown: the person turned it off, or a call just ended.
    #[default]
    Off,
    /// The camera and microphone are being opened.
    Opening,
    /// Shown, with what it holds.
    Live {
        /// A camera picture is shown.
        video: bool,
        /// A microphone is open (the level meter moves).
        audio: bool,
    },
    /// The camera and microphone could not be opened; the text says why, in plain words.
    Failed(String),
}

impl PreviewState {
    /// The preview when something was opened.
    pub fn live(video: bool, audio: bool) -> PreviewState {
        PreviewState::Live { video, audio }
    }

    /// Whether the camera (or microphone) is open or being opened for the preview.
    pub fn is_on(&self) -> bool {
        matches!(self, PreviewState::Opening | PreviewState::Live { .. })
    }

    /// The label of the button that turns the preview on or off.
    pub fn button_label(&self) -> &'static str {
        if self.is_on() {
            "Turn off camera"
        } else {
            "Turn on camera"
        }
    }

    /// A sentence under the preview, if it needs one.
    pub fn note(&self) -> Option<String> {
        match self {
            PreviewState::Off => Some(
                "Your camera and microphone are off. Turn them on to check how you look and \
                 sound, or just press Call."
                    .into(),
            ),
            PreviewState::Opening => Some("Opening your camera and microphone…".into()),
            PreviewState::Live {
                video: true,
                audio: true,
            } => None,
            PreviewState::Live {
                video: true,
                audio: false,
            } => Some("No microphone could be opened: the other person will not hear you.".into()),
            PreviewState::Live { video: false, .. } => Some(
                "No camera could be opened: only your microphone is on. Pressing Call offers \
                 to share your screen instead."
                    .into(),
            ),
            PreviewState::Failed(text) => Some(text.clone()),
        }
    }
}

/// Why the preview could not open the camera and microphone, from the exception's `name`.
pub fn preview_problem(error_name: Option<&str>) -> String {
    match error_name {
        Some("NotAllowedError" | "PermissionDeniedError" | "SecurityError") => {
            "Access to your camera and microphone was refused. Allow it for this site (usually \
             from the icon in the address bar), then turn the camera on again. You can still \
             call: the page then offers to share your screen, or joins receive-only."
        }
        Some("NotFoundError" | "DevicesNotFoundError" | "OverconstrainedError") => {
            "No camera or microphone was found. Connect one, then turn the camera on again."
        }
        Some("NotReadableError" | "TrackStartError" | "AbortError") => {
            "Your camera or microphone could not be started: another app (or tab) is probably \
             using it. Close it, then turn the camera on again."
        }
        Some(crate::connectivity::NO_MEDIA_DEVICES) => {
            "This page cannot use a camera or microphone: the browser only allows it on a \
             secure (https) address."
        }
        _ => "Your camera and microphone could not be opened. Turn the camera on to try again.",
    }
    .into()
}

/// The status line's text when a device could not be switched to.
pub fn switch_problem(kind: DeviceKind, error_name: Option<&str>) -> String {
    let noun = kind.noun().to_lowercase();
    let why = match error_name {
        Some("NotAllowedError" | "PermissionDeniedError" | "SecurityError") => {
            "access to it was refused"
        }
        Some("NotFoundError" | "DevicesNotFoundError" | "OverconstrainedError") => {
            "it is no longer connected"
        }
        Some("NotReadableError" | "TrackStartError" | "AbortError") => {
            "another app is probably using it"
        }
        _ => "it could not be opened",
    };
    format!("The other {noun} could not be used ({why}); the current one stays on.")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(kind: &str, id: &str, label: &str) -> RawDevice {
        RawDevice {
            kind: kind.into(),
            id: id.into(),
            label: label.into(),
        }
    }

    fn options(ids: &[&str]) -> Vec<DeviceOption> {
        ids.iter()
            .map(|id| DeviceOption {
                id: (*id).into(),
                label: format!("label of {id}"),
            })
            .collect()
    }

    #[test]
    fn the_list_is_sorted_by_kind_in_the_browsers_order() {
        let lists = DeviceLists::from_raw([
            raw("audioinput", "default", "Default - Headset"),
            raw("videoinput", "cam-a", "Front camera"),
            raw("audioinput", "mic-a", "Headset"),
            raw("audiooutput", "out-a", "Speakers"),
            raw("videoinput", "cam-b", "USB camera"),
            raw("somethingelse", "x", "ignored"),
        ]);
        let ids = |list: &[DeviceOption]| list.iter().map(|o| o.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&lists.cameras), ["cam-a", "cam-b"]);
        assert_eq!(ids(&lists.microphones), ["default", "mic-a"]);
        assert_eq!(ids(&lists.speakers), ["out-a"]);
        assert_eq!(lists.of(DeviceKind::Camera)[1].label, "USB camera");
    }

    #[test]
    fn unnamed_devices_are_numbered_within_their_kind() {
        let lists = DeviceLists::from_raw([
            raw("videoinput", "a", ""),
            raw("audioinput", "m", "  "),
            raw("videoinput", "b", "Named"),
            raw("videoinput", "c", ""),
        ]);
        let labels: Vec<_> = lists.cameras.iter().map(|o| o.label.as_str()).collect();
        assert_eq!(labels, ["Camera 1", "Named", "Camera 3"]);
        assert_eq!(lists.microphones[0].label, "Microphone 1");
    }

    #[test]
    fn placeholders_without_ids_and_repeats_are_left_out() {
        // Before access is allowed, browsers list one anonymous entry per kind.
        let before = DeviceLists::from_raw([
            raw("videoinput", "", ""),
            raw("audioinput", "", ""),
            raw("audiooutput", "", ""),
        ]);
        assert_eq!(before, DeviceLists::default());
        let repeated = DeviceLists::from_raw([
            raw("videoinput", "a", "First"),
            raw("videoinput", "a", "Again"),
        ]);
        assert_eq!(repeated.cameras.len(), 1);
        assert_eq!(repeated.cameras[0].label, "First");
    }

    #[test]
    fn the_saved_device_is_chosen_while_it_is_there() {
        let list = options(&["default", "a", "b"]);
        assert_eq!(choose(Some("b"), &list).as_deref(), Some("b"));
    }

    #[test]
    fn a_gone_saved_device_falls_back_to_the_default_then_the_first() {
        assert_eq!(
            choose(Some("gone"), &options(&["a", "default", "b"])).as_deref(),
            Some("default")
        );
        assert_eq!(
            choose(Some("gone"), &options(&["a", "b"])).as_deref(),
            Some("a")
        );
        assert_eq!(choose(None, &options(&["a", "b"])).as_deref(), Some("a"));
        assert_eq!(choose(Some("a"), &[]), None);
    }

    #[test]
    fn a_device_in_use_is_kept_while_it_is_listed_and_live() {
        let list = options(&["a", "b"]);
        assert_eq!(replacement(Some("b"), false, Some("a"), &list), None);
        assert_eq!(replacement(None, false, Some("a"), &list), None);
    }

    #[test]
    fn an_unplugged_device_is_replaced_by_the_saved_or_default_one() {
        let list = options(&["default", "a"]);
        assert_eq!(
            replacement(Some("usb"), false, None, &list).as_deref(),
            Some("default")
        );
        assert_eq!(
            replacement(Some("usb"), false, Some("a"), &list).as_deref(),
            Some("a")
        );
        // Unplugged, and nothing else left: nothing to switch to.
        assert_eq!(replacement(Some("usb"), false, None, &[]), None);
    }

    #[test]
    fn an_ended_track_is_reopened_even_if_its_device_is_still_listed() {
        let list = options(&["a", "b"]);
        assert_eq!(
            replacement(Some("b"), true, Some("b"), &list).as_deref(),
            Some("b")
        );
        assert_eq!(replacement(None, true, None, &list).as_deref(), Some("a"));
    }

    #[test]
    fn kinds_map_to_the_browsers_names_and_track_kinds() {
        for kind in DeviceKind::ALL {
            let web = match kind {
                DeviceKind::Camera => "videoinput",
                DeviceKind::Microphone => "audioinput",
                DeviceKind::Speaker => "audiooutput",
            };
            assert_eq!(DeviceKind::from_web(web), Some(kind));
        }
        assert_eq!(DeviceKind::from_web("videooutput"), None);
        assert_eq!(DeviceKind::Camera.track_kind(), Some("video"));
        assert_eq!(DeviceKind::Microphone.track_kind(), Some("audio"));
        assert_eq!(DeviceKind::Speaker.track_kind(), None);
        let keys: std::collections::HashSet<_> =
            DeviceKind::ALL.iter().map(|k| k.storage_key()).collect();
        assert_eq!(keys.len(), 3, "each kind is saved under its own key");
    }

    #[test]
    fn the_preview_button_and_notes_follow_the_state() {
        assert_eq!(PreviewState::Off.button_label(), "Turn on camera");
        assert_eq!(
            PreviewState::Failed("x".into()).button_label(),
            "Turn on camera"
        );
        assert_eq!(PreviewState::Opening.button_label(), "Turn off camera");
        assert_eq!(
            PreviewState::live(true, true).button_label(),
            "Turn off camera"
        );
        assert_eq!(PreviewState::live(true, true).note(), None);
        assert!(PreviewState::live(false, true)
            .note()
            .is_some_and(|n| n.contains("No camera")));
        assert!(PreviewState::live(true, false)
            .note()
            .is_some_and(|n| n.contains("No microphone")));
        assert_eq!(
            PreviewState::Failed("because".into()).note().as_deref(),
            Some("because")
        );
    }

    #[test]
    fn problems_are_put_into_plain_words() {
        assert!(preview_problem(Some("NotAllowedError")).contains("refused"));
        assert!(preview_problem(Some("NotFoundError")).contains("No camera"));
        assert!(preview_problem(Some("NotReadableError")).contains("another app"));
        assert!(preview_problem(None).contains("could not be opened"));
        let text = switch_problem(DeviceKind::Camera, Some("NotReadableError"));
        assert!(
            text.contains("camera") && text.contains("another app"),
            "{text}"
        );
        assert!(switch_problem(DeviceKind::Microphone, None).contains("microphone"));
    }
}
