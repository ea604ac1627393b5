//! In-call controls that need no browser: the keyboard shortcuts, the buttons' labels, and what
//! the other side is told about our microphone and camera. Pure Rust, unit-tested natively;
//! the controller and the controls component do the browser side.

/// Something the person can do during a call with one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shortcut {
    /// M: mute or unmute the microphone.
    Mute,
    /// V: stop or start the video.
    Video,
    /// S: share the screen or stop sharing.
    Screen,
    /// H: hang up.
    HangUp,
}

/// The shortcuts, with the key and what it does, in the order the help lists them.
pub const SHORTCUTS: [(Shortcut, &str, &str); 4] = [
    (Shortcut::Mute, "M", "Mute or unmute the microphone"),
    (Shortcut::Video, "V", "Stop or start the video"),
    (Shortcut::Screen, "S", "Share the screen or stop sharing"),
    (Shortcut::HangUp, "H", "Hang up"),
];

/// What a key press means, given the `KeyboardEvent.key` value, whether a modifier (Ctrl, Alt,
/// Meta) was held, and whether the person is typing in a field. Typing, modified keys (browser
/// shortcuts such as Ctrl+S) and auto-repeat are never shortcuts.
pub fn shortcut_for(key: &str, modified: bool, typing: bool, repeat: bool) -> Option<Shortcut> {
    if modified || typing || repeat {
        return None;
    }
    match key {
        "m" | "M" => Some(Shortcut::Mute),
        "v" | "V" => Some(Shortcut::Video),
        "s" | "S" => Some(Shortcut::Screen),
        "h" | "H" => Some(Shortcut::HangUp),
        _ => None,
    }
}

/// Whether an element with this tag name (any case) and `isContentEditable` takes typing.
pub fn takes_typing(tag_name: &str, content_editable: bool) -> bool {
    content_editable
        || ["input", "textarea", "select"]
            .iter()
            .any(|tag| tag_name.eq_ignore_ascii_case(tag))
}

/// The mute button's label: what pressing it does.
pub fn mute_label(mic_on: bool) -> &'static str {
    if mic_on {
        "Mute"
    } else {
        "Unmute"
    }
}

/// The camera button's label: what pressing it does.
pub fn camera_label(camera_on: bool) -> &'static str {
    if camera_on {
        "Stop video"
    } else {
        "Start video"
    }
}

/// The screen button's label: what pressing it does.
pub fn screen_label(sharing: bool) -> &'static str {
    if sharing {
        "Stop sharing"
    } else {
        "Share screen"
    }
}

/// The value of an on/off data attribute.
pub fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

/// What this side is sending, as told to the other side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentMedia {
    /// Sound is sent.
    pub audio: bool,
    /// Pictures are sent.
    pub video: bool,
}

/// What the other side is told: a kind is on only if there is a track of it and the person has
/// not turned it off.
pub fn sent_media(has_audio: bool, mic_on: bool, has_video: bool, camera_on: bool) -> SentMedia {
    SentMedia {
        audio: has_audio && mic_on,
        video: has_video && camera_on,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_map_to_shortcuts_in_either_case() {
        assert_eq!(shortcut_for("m", false, false, false), Some(Shortcut::Mute));
        assert_eq!(shortcut_for("M", false, false, false), Some(Shortcut::Mute));
        assert_eq!(
            shortcut_for("v", false, false, false),
            Some(Shortcut::Video)
        );
        assert_eq!(
            shortcut_for("S", false, false, false),
            Some(Shortcut::Screen)
        );
        assert_eq!(
            shortcut_for("h", false, false, false),
            Some(Shortcut::HangUp)
        );
        assert_eq!(shortcut_for("x", false, false, false), None);
        assert_eq!(shortcut_for("Enter", false, false, false), None);
    }

    #[test]
    fn typing_modifiers_and_repeats_are_not_shortcuts() {
        assert_eq!(shortcut_for("m", false, true, false), None);
        assert_eq!(shortcut_for("s", true, false, false), None);
        assert_eq!(shortcut_for("h", false, false, true), None);
    }

    #[test]
    fn fields_take_typing_and_buttons_do_not() {
        assert!(takes_typing("INPUT", false));
        assert!(takes_typing("textarea", false));
        assert!(takes_typing("SELECT", false));
        assert!(takes_typing("DIV", true));
        assert!(!takes_typing("BUTTON", false));
        assert!(!takes_typing("BODY", false));
    }

    #[test]
    fn every_listed_shortcut_is_recognised_by_its_key() {
        for (shortcut, key, text) in SHORTCUTS {
            assert_eq!(shortcut_for(key, false, false, false), Some(shortcut));
            assert!(!text.is_empty());
        }
    }

    #[test]
    fn labels_say_what_the_button_does() {
        assert_eq!(mute_label(true), "Mute");
        assert_eq!(mute_label(false), "Unmute");
        assert_eq!(camera_label(true), "Stop video");
        assert_eq!(camera_label(false), "Start video");
        assert_eq!(screen_label(false), "Share screen");
        assert_eq!(screen_label(true), "Stop sharing");
        assert_eq!(on_off(true), "on");
        assert_eq!(on_off(false), "off");
    }

    #[test]
    fn a_kind_is_on_only_with_a_track_that_is_not_turned_off() {
        assert_eq!(
            sent_media(true, true, true, true),
            SentMedia {
                audio: true,
                video: true
            }
        );
        assert_eq!(
            sent_media(true, false, true, false),
            SentMedia {
                audio: false,
                video: false
            }
        );
        assert_eq!(
            sent_media(false, true, false, true),
            SentMedia {
                audio: false,
                video: false
            }
        );
    }
}
