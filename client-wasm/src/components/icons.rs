//! The call screen's icons: small line drawings on a 24-unit grid, drawn in the current text
//! colour. They are decoration (`aria-hidden`): every button that shows one also has a text
//! name.

use leptos::prelude::*;

/// The icons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IconKind {
    /// A microphone.
    Mic,
    /// A struck-through microphone.
    MicOff,
    /// A video camera.
    Camera,
    /// A struck-through video camera.
    CameraOff,
    /// Two arrows turning around each other (flip the camera).
    Flip,
    /// A screen with an arrow out of it.
    Screen,
    /// A speech bubble.
    Chat,
    /// A sheet of paper with a folded corner.
    Files,
    /// A slider panel (settings).
    Settings,
    /// Three dots.
    More,
    /// A telephone handset lying down.
    HangUp,
    /// Four corner marks pointing out.
    Fullscreen,
    /// A frame with arrows to its edges (fill the screen / fit it).
    Fit,
    /// Signal bars (the statistics).
    Stats,
    /// Two sheets (copy).
    Copy,
    /// A person's head and shoulders.
    Person,
    /// A cross (close).
    Close,
    /// Arrows to the four corners (move the self-view).
    Move,
}

/// The drawing of each icon: SVG path data on the 24×24 grid, stroked.
fn paths(kind: IconKind) -> &'static [&'static str] {
    match kind {
        IconKind::Mic => &[
            "M12 3a3 3 0 0 1 3 3v6a3 3 0 0 1-6 0V6a3 3 0 0 1 3-3z",
            "M5.5 11a6.5 6.5 0 0 0 13 0",
            "M12 17.5V21",
        ],
        IconKind::MicOff => &[
            "M15 10V6a3 3 0 0 0-5.8-1.1",
            "M9 9v3a3 3 0 0 0 4.6 2.5",
            "M5.5 11a6.5 6.5 0 0 0 10.7 5",
            "M18.5 11a6.4 6.4 0 0 1-.6 2.6",
            "M12 17.5V21",
            "M4 4l16 16",
        ],
        IconKind::Camera => &[
            "M3.5 7.5h11a1.5 1.5 0 0 1 1.5 1.5v6a1.5 1.5 0 0 1-1.5 1.5h-11A1.5 1.5 0 0 1 2 15V9a1.5 1.5 0 0 1 1.5-1.5z",
            "M16 10.5l5-3v9l-5-3",
        ],
        IconKind::CameraOff => &[
            "M9 7.5h5.5A1.5 1.5 0 0 1 16 9v4",
            "M16 10.5l5-3v9l-4-2.4",
            "M14.5 16.5h-11A1.5 1.5 0 0 1 2 15V9a1.5 1.5 0 0 1 1.5-1.5H5",
            "M3 3l18 18",
        ],
        IconKind::Flip => &[
            "M4 12a8 8 0 0 1 13.7-5.6",
            "M18 3v4h-4",
            "M20 12a8 8 0 0 1-13.7 5.6",
            "M6 21v-4h4",
        ],
        IconKind::Screen => &[
            "M3.5 4.5h17a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1h-17a1 1 0 0 1-1-1v-10a1 1 0 0 1 1-1z",
            "M8 20.5h8",
            "M12 13V8",
            "M9.5 10.5L12 8l2.5 2.5",
        ],
        IconKind::Chat => &[
            "M4.5 4.5h15a1.5 1.5 0 0 1 1.5 1.5v9a1.5 1.5 0 0 1-1.5 1.5H10l-4.5 3.5v-3.5h-1A1.5 1.5 0 0 1 3 15V6a1.5 1.5 0 0 1 1.5-1.5z",
            "M7.5 9h9",
            "M7.5 12h6",
        ],
        IconKind::Files => &[
            "M6.5 2.5h7l4.5 4.5v13a1 1 0 0 1-1 1h-10.5a1 1 0 0 1-1-1v-16.5a1 1 0 0 1 1-1z",
            "M13.5 2.5V7h4.5",
            "M9 12.5h6",
            "M9 16h6",
        ],
        IconKind::Settings => &[
            "M4 7h9",
            "M17 7h3",
            "M15 5v4",
            "M4 17h3",
            "M11 17h9",
            "M9 15v4",
            "M4 12h13",
            "M19 12h1",
        ],
        IconKind::More => &[
            "M4.8 12a1.2 1.2 0 1 0 2.4 0 1.2 1.2 0 1 0-2.4 0",
            "M10.8 12a1.2 1.2 0 1 0 2.4 0 1.2 1.2 0 1 0-2.4 0",
            "M16.8 12a1.2 1.2 0 1 0 2.4 0 1.2 1.2 0 1 0-2.4 0",
        ],
        IconKind::HangUp => &[
            "M3.2 13.8c4.9-4.6 12.7-4.6 17.6 0 .6.6.6 1.5 0 2.1l-1.6 1.5a1.3 1.3 0 0 1-1.7.1l-2.2-1.6a1.3 1.3 0 0 1-.5-1.3l.3-1.7a10.7 10.7 0 0 0-6.2 0l.3 1.7a1.3 1.3 0 0 1-.5 1.3l-2.2 1.6a1.3 1.3 0 0 1-1.7-.1l-1.6-1.5c-.6-.6-.6-1.5 0-2.1z",
        ],
        IconKind::Fullscreen => &[
            "M4 9V4h5",
            "M15 4h5v5",
            "M20 15v5h-5",
            "M9 20H4v-5",
        ],
        IconKind::Fit => &[
            "M3.5 5.5h17v13h-17z",
            "M8 12H5.5",
            "M16 12h2.5",
            "M7 10.5L5.5 12 7 13.5",
            "M17 10.5l1.5 1.5-1.5 1.5",
        ],
        IconKind::Stats => &["M5 20v-4", "M10 20v-8", "M15 20V8", "M20 20V4"],
        IconKind::Copy => &[
            "M9.5 8.5h9a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1h-9a1 1 0 0 1-1-1v-10a1 1 0 0 1 1-1z",
            "M15.5 8.5v-4a1 1 0 0 0-1-1h-9a1 1 0 0 0-1 1v10a1 1 0 0 0 1 1h3",
        ],
        IconKind::Person => &[
            "M12 12.5a4 4 0 1 0 0-8 4 4 0 0 0 0 8z",
            "M4.5 20.5a7.5 7.5 0 0 1 15 0",
        ],
        IconKind::Close => &["M6 6l12 12", "M18 6L6 18"],
        IconKind::Move => &[
            "M4 9V4h5",
            "M4 4l6 6",
            "M20 15v5h-5",
            "M20 20l-6-6",
        ],
    }
}

/// An icon, `1em` square unless the stylesheet sizes it.
#[component]
pub fn Icon(kind: IconKind) -> impl IntoView {
    view! {
        <svg
            class="icon"
            viewBox="0 0 24 24"
            fill="none"
            stroke="currentColor"
            stroke-width="1.8"
            stroke-linecap="round"
            stroke-linejoin="round"
            aria-hidden="true"
            focusable="false"
        >
            {paths(kind).iter().map(|d| view! { <path d=*d></path> }).collect_view()}
        </svg>
    }
}
