//! What the call page shows, as plain logic: which screen (pre-join, waiting, in the call, the
//! end), which panels are open (chat, files, settings, the More menu, the statistics), when the
//! floating control bar hides, and where the self-view sits. No browser types: the components
//! feed it events and render the answers, and it is unit-tested natively.

use crate::call::{CallState, Status};

/// Windows at least this wide (CSS pixels) get the wide layout: chat and files in a side panel,
/// the chat open from the start. Narrower ones (phones) get bottom sheets, one at a time.
pub const WIDE_MIN_WIDTH_PX: f64 = 760.0;

/// How long the control bar stays after the pointer last moved, on a pointer device.
pub const BAR_IDLE_MS: f64 = 3500.0;

/// The page's screens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// Before a call: the preview, the room, the devices and the Call button.
    PreJoin,
    /// Alone in the room (or joining it): our own picture large and the room link.
    Waiting,
    /// With the other person: their video fills the screen.
    InCall,
    /// A call just ended: why, and Call again (over the pre-join screen).
    Ended,
}

impl Screen {
    /// The screen for a call state; `starting` is a call attempt under way (camera or join
    /// pending), which already leaves the pre-join screen.
    pub fn of(state: CallState, starting: bool) -> Screen {
        match state {
            CallState::Waiting => Screen::Waiting,
            CallState::Connecting | CallState::Connected | CallState::Reconnecting => {
                Screen::InCall
            }
            _ if starting => Screen::Waiting,
            CallState::Ended => Screen::Ended,
            CallState::Idle | CallState::Full => Screen::PreJoin,
        }
    }

    /// The value of the page's `data-screen` attribute (the stylesheet keys on it).
    pub fn as_str(self) -> &'static str {
        match self {
            Screen::PreJoin => "prejoin",
            Screen::Waiting => "waiting",
            Screen::InCall => "call",
            Screen::Ended => "ended",
        }
    }

    /// Whether this is one of the call screens (the videos full screen, the control bar).
    pub fn shows_call(self) -> bool {
        matches!(self, Screen::Waiting | Screen::InCall)
    }

    /// The Call button's label here.
    pub fn call_label(self) -> &'static str {
        match self {
            Screen::Ended => "Call again",
            _ => "Call",
        }
    }

    /// Where the keyboard focus goes when the page changes from `previous` to this screen, so
    /// it never stays on a control that just disappeared.
    pub fn focus_after(self, previous: Screen) -> Option<Focus> {
        if self == previous {
            return None;
        }
        match self {
            Screen::PreJoin | Screen::Ended => Some(Focus::CallButton),
            Screen::Waiting => Some(Focus::CallScreen),
            Screen::InCall => Some(Focus::CallScreen),
        }
    }
}

/// A place the focus is moved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// The Call (or Call again) button.
    CallButton,
    /// The call screen itself, so the next Tab reaches its controls.
    CallScreen,
}

/// The end screen's headline for the status the call ended with.
pub fn end_title(status: &Status) -> &'static str {
    match status {
        Status::HungUp => "You left the call",
        Status::PeerLeft => "The other person left",
        Status::ConnectionFailed | Status::ServerLost => "The call dropped",
        _ => "The call has ended",
    }
}

/// The two layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Side panels beside the video.
    Wide,
    /// Bottom sheets over the video, one at a time.
    Narrow,
}

impl Layout {
    /// The layout for a window `width` CSS pixels wide.
    pub fn for_width(width: f64) -> Layout {
        if width >= WIDE_MIN_WIDTH_PX {
            Layout::Wide
        } else {
            Layout::Narrow
        }
    }
}

/// The panels and overlays of the call screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    /// The chat (side panel or sheet).
    Chat,
    /// The files (side panel or sheet).
    Files,
    /// The settings dialog (devices), modal.
    Settings,
    /// The More menu of the control bar.
    More,
    /// The statistics overlay.
    Stats,
}

impl Panel {
    /// Whether the panel is a side panel on wide screens and a bottom sheet on narrow ones.
    fn is_side(self) -> bool {
        matches!(self, Panel::Chat | Panel::Files)
    }
}

/// Which panels are open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Panels {
    layout: Layout,
    chat: bool,
    files: bool,
    settings: bool,
    more: bool,
    stats: bool,
    /// The side panel opened last (the one a narrow screen keeps, and Escape closes first).
    last_side: Option<Panel>,
}

impl Panels {
    /// The starting panels: on a wide screen the chat is open, on a narrow one nothing is.
    pub fn new(layout: Layout) -> Panels {
        let chat = layout == Layout::Wide;
        Panels {
            layout,
            chat,
            files: false,
            settings: false,
            more: false,
            stats: false,
            last_side: chat.then_some(Panel::Chat),
        }
    }

    /// The current layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Whether `panel` is open.
    pub fn is_open(&self, panel: Panel) -> bool {
        match panel {
            Panel::Chat => self.chat,
            Panel::Files => self.files,
            Panel::Settings => self.settings,
            Panel::More => self.more,
            Panel::Stats => self.stats,
        }
    }

    /// Whether a side panel (wide) or sheet (narrow) is open.
    pub fn side_open(&self) -> bool {
        self.chat || self.files
    }

    fn set(&mut self, panel: Panel, open: bool) {
        match panel {
            Panel::Chat => self.chat = open,
            Panel::Files => self.files = open,
            Panel::Settings => self.settings = open,
            Panel::More => self.more = open,
            Panel::Stats => self.stats = open,
        }
    }

    /// Opens `panel`. Anything but the More menu itself closes that menu (its items open
    /// things); the settings dialog is modal; a narrow screen shows one sheet at a time.
    pub fn open(&mut self, panel: Panel) {
        if panel != Panel::More {
            self.more = false;
        }
        if panel.is_side() {
            if self.layout == Layout::Narrow {
                self.chat = false;
                self.files = false;
            }
            self.last_side = Some(panel);
        }
        self.set(panel, true);
    }

    /// Closes `panel`.
    pub fn close(&mut self, panel: Panel) {
        self.set(panel, false);
        if self.last_side == Some(panel) {
            self.last_side = [Panel::Chat, Panel::Files]
                .into_iter()
                .find(|other| self.is_open(*other));
        }
    }

    /// Opens a closed panel, closes an open one.
    pub fn toggle(&mut self, panel: Panel) {
        if self.is_open(panel) {
            self.close(panel);
        } else {
            self.open(panel);
        }
    }

    /// Escape: closes the topmost open panel (the More menu, then the settings dialog, then
    /// the statistics, then the side panel opened last) and says which, so its button can take
    /// the focus back. `None`: nothing was open.
    pub fn escape(&mut self) -> Option<Panel> {
        let top = [Panel::More, Panel::Settings, Panel::Stats]
            .into_iter()
            .find(|panel| self.is_open(*panel))
            .or(self.last_side)?;
        self.close(top);
        Some(top)
    }

    /// The window was resized into `layout`. Becoming narrow keeps only the side panel opened
    /// last, since sheets stack no further.
    pub fn set_layout(&mut self, layout: Layout) {
        self.layout = layout;
        if layout == Layout::Narrow && self.chat && self.files {
            let keep = self.last_side.unwrap_or(Panel::Chat);
            self.chat = keep == Panel::Chat;
            self.files = keep == Panel::Files;
        }
    }

    /// The call ended: the overlays close (the side panels keep their state for the next call).
    pub fn call_ended(&mut self) {
        self.settings = false;
        self.more = false;
        self.stats = false;
    }
}

/// When the floating control bar shows. On a touch screen it always does; on a pointer device
/// it hides a few seconds after the pointer last moved, unless the pointer rests on it, the
/// keyboard focus is inside it, or something pins it (a menu open, not in a call).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ControlBar {
    /// A mouse or pen has been seen: only then does the bar hide by itself.
    pointer_device: bool,
    /// When the pointer last moved (ms, any clock), if it has.
    last_move_ms: Option<f64>,
    focus_inside: bool,
    hovered: bool,
}

impl ControlBar {
    /// The pointer moved at `now_ms`; `mouse` is a mouse or pen (not a finger).
    pub fn pointer_moved(&mut self, now_ms: f64, mouse: bool) {
        self.pointer_device |= mouse;
        self.last_move_ms = Some(now_ms);
    }

    /// The keyboard focus entered (`true`) or left the bar.
    pub fn set_focus_inside(&mut self, inside: bool) {
        self.focus_inside = inside;
    }

    /// The pointer rests on the bar (`true`) or left it.
    pub fn set_hovered(&mut self, hovered: bool) {
        self.hovered = hovered;
    }

    /// Whether the bar shows at `now_ms`; `pinned` keeps it up whatever the pointer does.
    pub fn visible(&self, now_ms: f64, pinned: bool) -> bool {
        if pinned || !self.pointer_device || self.focus_inside || self.hovered {
            return true;
        }
        self.last_move_ms
            .is_some_and(|moved| now_ms - moved < BAR_IDLE_MS)
    }

    /// When the bar will hide if nothing happens meanwhile (for the timer), if it will.
    pub fn hides_at(&self) -> Option<f64> {
        if !self.pointer_device || self.focus_inside || self.hovered {
            return None;
        }
        self.last_move_ms.map(|moved| moved + BAR_IDLE_MS)
    }
}

/// A corner of the call screen, for the self-view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corner {
    /// Top left.
    TopLeft,
    /// Top right.
    TopRight,
    /// Bottom right.
    BottomRight,
    /// Bottom left.
    BottomLeft,
}

impl Corner {
    /// Where the self-view starts: out of the way of the control bar on phones (top), in the
    /// usual bottom corner on wide screens.
    pub fn start(layout: Layout) -> Corner {
        match layout {
            Layout::Wide => Corner::BottomRight,
            Layout::Narrow => Corner::TopRight,
        }
    }

    /// The next corner clockwise (the Move button's step).
    pub fn next(self) -> Corner {
        match self {
            Corner::TopLeft => Corner::TopRight,
            Corner::TopRight => Corner::BottomRight,
            Corner::BottomRight => Corner::BottomLeft,
            Corner::BottomLeft => Corner::TopLeft,
        }
    }

    /// The corner nearest to a point at `x`, `y` in a `width` × `height` area (a drag's end).
    pub fn nearest(x: f64, y: f64, width: f64, height: f64) -> Corner {
        let left = x < width / 2.0;
        let top = y < height / 2.0;
        match (top, left) {
            (true, true) => Corner::TopLeft,
            (true, false) => Corner::TopRight,
            (false, false) => Corner::BottomRight,
            (false, true) => Corner::BottomLeft,
        }
    }

    /// The value of the self-view's `data-corner` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Corner::TopLeft => "top-left",
            Corner::TopRight => "top-right",
            Corner::BottomRight => "bottom-right",
            Corner::BottomLeft => "bottom-left",
        }
    }

    /// How the Move button names where the self-view goes next.
    pub fn label(self) -> &'static str {
        match self {
            Corner::TopLeft => "top left",
            Corner::TopRight => "top right",
            Corner::BottomRight => "bottom right",
            Corner::BottomLeft => "bottom left",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_call_state_has_its_screen() {
        assert_eq!(Screen::of(CallState::Idle, false), Screen::PreJoin);
        assert_eq!(Screen::of(CallState::Full, false), Screen::PreJoin);
        assert_eq!(Screen::of(CallState::Idle, true), Screen::Waiting);
        assert_eq!(Screen::of(CallState::Ended, true), Screen::Waiting);
        assert_eq!(Screen::of(CallState::Waiting, false), Screen::Waiting);
        for state in [
            CallState::Connecting,
            CallState::Connected,
            CallState::Reconnecting,
        ] {
            assert_eq!(Screen::of(state, false), Screen::InCall);
            assert!(Screen::of(state, false).shows_call());
        }
        assert_eq!(Screen::of(CallState::Ended, false), Screen::Ended);
        assert!(!Screen::Ended.shows_call());
        assert!(!Screen::PreJoin.shows_call());
    }

    #[test]
    fn the_call_button_says_call_again_after_a_call() {
        assert_eq!(Screen::PreJoin.call_label(), "Call");
        assert_eq!(Screen::Ended.call_label(), "Call again");
    }

    #[test]
    fn focus_moves_only_when_the_screen_changes() {
        assert_eq!(Screen::InCall.focus_after(Screen::InCall), None);
        assert_eq!(
            Screen::Waiting.focus_after(Screen::PreJoin),
            Some(Focus::CallScreen)
        );
        assert_eq!(
            Screen::InCall.focus_after(Screen::Waiting),
            Some(Focus::CallScreen)
        );
        assert_eq!(
            Screen::Ended.focus_after(Screen::InCall),
            Some(Focus::CallButton)
        );
        assert_eq!(
            Screen::PreJoin.focus_after(Screen::Waiting),
            Some(Focus::CallButton)
        );
    }

    #[test]
    fn the_end_screen_says_who_ended_the_call() {
        assert_eq!(end_title(&Status::HungUp), "You left the call");
        assert_eq!(end_title(&Status::PeerLeft), "The other person left");
        assert_eq!(end_title(&Status::ServerLost), "The call dropped");
        assert_eq!(end_title(&Status::Ready), "The call has ended");
    }

    #[test]
    fn layouts_switch_at_the_breakpoint() {
        assert_eq!(Layout::for_width(390.0), Layout::Narrow);
        assert_eq!(Layout::for_width(WIDE_MIN_WIDTH_PX - 1.0), Layout::Narrow);
        assert_eq!(Layout::for_width(WIDE_MIN_WIDTH_PX), Layout::Wide);
        assert_eq!(Layout::for_width(1280.0), Layout::Wide);
    }

    #[test]
    fn the_chat_starts_open_only_on_wide_screens() {
        assert!(Panels::new(Layout::Wide).is_open(Panel::Chat));
        assert!(!Panels::new(Layout::Narrow).is_open(Panel::Chat));
        assert!(!Panels::new(Layout::Narrow).side_open());
    }

    #[test]
    fn wide_screens_show_chat_and_files_together_narrow_ones_one_sheet() {
        let mut wide = Panels::new(Layout::Wide);
        wide.open(Panel::Files);
        assert!(wide.is_open(Panel::Chat) && wide.is_open(Panel::Files));

        let mut narrow = Panels::new(Layout::Narrow);
        narrow.open(Panel::Chat);
        narrow.open(Panel::Files);
        assert!(!narrow.is_open(Panel::Chat));
        assert!(narrow.is_open(Panel::Files));
        narrow.toggle(Panel::Files);
        assert!(!narrow.side_open());
    }

    #[test]
    fn becoming_narrow_keeps_the_panel_opened_last() {
        let mut panels = Panels::new(Layout::Wide);
        panels.open(Panel::Files);
        panels.set_layout(Layout::Narrow);
        assert!(panels.is_open(Panel::Files));
        assert!(!panels.is_open(Panel::Chat));
        assert_eq!(panels.layout(), Layout::Narrow);
    }

    #[test]
    fn opening_anything_closes_the_more_menu() {
        let mut panels = Panels::new(Layout::Wide);
        panels.open(Panel::More);
        assert!(panels.is_open(Panel::More));
        panels.open(Panel::Settings);
        assert!(!panels.is_open(Panel::More));
        assert!(panels.is_open(Panel::Settings));
        panels.open(Panel::More);
        panels.toggle(Panel::Stats);
        assert!(!panels.is_open(Panel::More));
        assert!(panels.is_open(Panel::Stats));
    }

    #[test]
    fn escape_closes_the_topmost_panel_first() {
        let mut panels = Panels::new(Layout::Wide);
        panels.open(Panel::Files);
        panels.open(Panel::Stats);
        panels.open(Panel::Settings);
        assert_eq!(panels.escape(), Some(Panel::Settings));
        assert_eq!(panels.escape(), Some(Panel::Stats));
        assert_eq!(panels.escape(), Some(Panel::Files));
        assert_eq!(panels.escape(), Some(Panel::Chat));
        assert_eq!(panels.escape(), None);
        assert_eq!(panels, {
            let mut closed = Panels::new(Layout::Wide);
            closed.close(Panel::Chat);
            closed
        });
    }

    #[test]
    fn the_end_of_a_call_closes_the_overlays_only() {
        let mut panels = Panels::new(Layout::Wide);
        panels.open(Panel::Stats);
        panels.open(Panel::Settings);
        panels.call_ended();
        assert!(!panels.is_open(Panel::Stats));
        assert!(!panels.is_open(Panel::Settings));
        assert!(panels.is_open(Panel::Chat));
    }

    #[test]
    fn the_bar_never_hides_on_a_touch_screen() {
        let mut bar = ControlBar::default();
        assert!(bar.visible(1e9, false));
        bar.pointer_moved(0.0, false);
        assert!(bar.visible(1e9, false));
        assert_eq!(bar.hides_at(), None);
    }

    #[test]
    fn the_bar_hides_a_while_after_the_mouse_stops() {
        let mut bar = ControlBar::default();
        bar.pointer_moved(1000.0, true);
        assert!(bar.visible(1000.0 + BAR_IDLE_MS - 1.0, false));
        assert!(!bar.visible(1000.0 + BAR_IDLE_MS, false));
        assert_eq!(bar.hides_at(), Some(1000.0 + BAR_IDLE_MS));
        // Moving again brings it back.
        bar.pointer_moved(9000.0, true);
        assert!(bar.visible(9000.0, false));
    }

    #[test]
    fn focus_hover_or_a_pin_keep_the_bar() {
        let mut bar = ControlBar::default();
        bar.pointer_moved(0.0, true);
        let late = BAR_IDLE_MS * 10.0;
        assert!(bar.visible(late, true));
        bar.set_focus_inside(true);
        assert!(bar.visible(late, false));
        assert_eq!(bar.hides_at(), None);
        bar.set_focus_inside(false);
        bar.set_hovered(true);
        assert!(bar.visible(late, false));
        bar.set_hovered(false);
        assert!(!bar.visible(late, false));
    }

    #[test]
    fn the_self_view_moves_round_the_corners() {
        let mut corner = Corner::start(Layout::Wide);
        assert_eq!(corner, Corner::BottomRight);
        let mut seen = Vec::new();
        for _ in 0..4 {
            corner = corner.next();
            seen.push(corner.as_str());
        }
        assert_eq!(
            seen,
            ["bottom-left", "top-left", "top-right", "bottom-right"]
        );
        assert_eq!(Corner::start(Layout::Narrow), Corner::TopRight);
    }

    #[test]
    fn a_drag_snaps_to_the_nearest_corner() {
        assert_eq!(Corner::nearest(10.0, 10.0, 100.0, 80.0), Corner::TopLeft);
        assert_eq!(Corner::nearest(90.0, 10.0, 100.0, 80.0), Corner::TopRight);
        assert_eq!(
            Corner::nearest(90.0, 70.0, 100.0, 80.0),
            Corner::BottomRight
        );
        assert_eq!(Corner::nearest(10.0, 70.0, 100.0, 80.0), Corner::BottomLeft);
    }
}
