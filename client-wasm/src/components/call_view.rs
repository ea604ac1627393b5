//! The call page's view state as signals, shared by its components: the screen, the open
//! panels, the control bar's visibility, the self-view's corner and the fit/fill choice. The
//! rules are `visavis_client_core::screen`; this file feeds them the window's events (resizes, pointer
//! moves, Escape) and moves the keyboard focus when the screen changes.

use leptos::ev;
use leptos::prelude::*;
use web_sys::{HtmlElement, KeyboardEvent, PointerEvent};

use crate::model::ViewModel;
use visavis_client_core::chat::{Author, Unread};
use visavis_client_core::screen::{ControlBar, Corner, Focus, Layout, Panel, Panels, Screen};

/// The view state. Copyable handles.
#[derive(Clone, Copy)]
pub struct CallView {
    /// The screen shown.
    pub screen: Memo<Screen>,
    /// The open panels.
    pub panels: RwSignal<Panels>,
    /// The control bar's pointer and focus state.
    pub bar: RwSignal<ControlBar>,
    /// Bumped when the bar's hide timer fires, so its visibility is read again.
    bar_tick: RwSignal<u64>,
    /// The pending bump of `bar_tick`.
    bar_timer: StoredValue<Option<TimeoutHandle>>,
    /// Where the self-view sits.
    pub corner: RwSignal<Corner>,
    /// Whether the other person's video fills the screen (cropped) rather than fitting it.
    pub fill: RwSignal<bool>,
    /// The chat's unread count (the chat panel's open state is `panels`).
    pub unread: RwSignal<Unread>,
}

/// The id of the button that opens or closes `panel` (the focus goes back to it on Escape).
pub fn button_of(panel: Panel) -> &'static str {
    match panel {
        Panel::Chat => "chatToggle",
        Panel::Files => "filesButton",
        Panel::Settings => "settingsButton",
        Panel::More => "moreButton",
        Panel::Stats => "statsButton",
    }
}

/// Focuses the element with this id, if there is one.
pub fn focus_id(id: &str) {
    if let Some(element) = document()
        .get_element_by_id(id)
        .and_then(|element| wasm_bindgen::JsCast::dyn_into::<HtmlElement>(element).ok())
    {
        let _ = element.focus();
    }
}

/// The window's width in CSS pixels (wide if unknown).
fn window_width() -> f64 {
    window()
        .inner_width()
        .ok()
        .and_then(|width| width.as_f64())
        .unwrap_or(f64::MAX)
}

impl CallView {
    /// Creates the view state for the page and installs its window listeners (removed with the
    /// page).
    pub fn new(vm: ViewModel) -> CallView {
        let layout = Layout::for_width(window_width());
        let panels = Panels::new(layout);
        let theirs = move || {
            vm.chat_log.with(|log| {
                log.lines()
                    .iter()
                    .filter(|line| line.author == Author::Them)
                    .count()
            })
        };
        let view = CallView {
            screen: Memo::new(move |_| Screen::of(vm.call_state.get(), vm.starting.get())),
            panels: RwSignal::new(panels),
            bar: RwSignal::new(ControlBar::default()),
            bar_tick: RwSignal::new(0),
            bar_timer: StoredValue::new(None),
            corner: RwSignal::new(Corner::start(layout)),
            fill: RwSignal::new(false),
            unread: RwSignal::new(Unread::new(!panels.is_open(Panel::Chat), untrack(theirs))),
        };

        // The unread count follows the log and the chat panel's open state.
        Effect::new(move |_| {
            let theirs = theirs();
            view.unread.update(|unread| unread.observe(theirs));
        });
        let chat_open = Memo::new(move |_| view.panels.with(|p| p.is_open(Panel::Chat)));
        Effect::new(move |_| {
            let open = chat_open.get();
            view.unread.update(|unread| {
                // Collapsed exactly when the panel is closed.
                if open == unread.collapsed() {
                    unread.toggle();
                }
            });
        });

        // A transfer that starts (a file arriving) opens the files panel, where it shows.
        let transfers = Memo::new(move |_| vm.transfers.with(Vec::len));
        Effect::new(move |previous: Option<usize>| {
            let now = transfers.get();
            if previous.is_some_and(|before| now > before) {
                view.panels.update(|p| {
                    if !p.is_open(Panel::Files) {
                        p.open(Panel::Files);
                    }
                });
            }
            now
        });

        view.follow_screen();
        view.install_listeners();
        view
    }

    /// Whether `panel` is open (tracked).
    pub fn is_open(&self, panel: Panel) -> bool {
        self.panels.with(|p| p.is_open(panel))
    }

    /// Opens or closes `panel`.
    pub fn toggle(&self, panel: Panel) {
        self.panels.update(|p| p.toggle(panel));
    }

    /// Closes `panel` and gives the focus back to its button.
    pub fn close(&self, panel: Panel) {
        self.panels.update(|p| p.close(panel));
        focus_id(button_of(panel));
    }

    /// Whether the control bar (and the top bar with it) shows now (tracked).
    pub fn bar_visible(&self) -> bool {
        self.bar_tick.track();
        let pinned = self.screen.get() != Screen::InCall
            || self.is_open(Panel::More)
            || self.is_open(Panel::Settings);
        self.bar
            .with(|bar| bar.visible(js_sys::Date::now(), pinned))
    }

    /// Moves the focus when the screen changes, and closes the overlays when a call ends.
    fn follow_screen(self) {
        let screen = self.screen;
        Effect::new(move |previous: Option<Screen>| {
            let now = screen.get();
            if let Some(before) = previous {
                if before.shows_call() && !now.shows_call() {
                    self.panels.update(Panels::call_ended);
                }
                if let Some(focus) = now.focus_after(before) {
                    // After the render, when the new screen's controls are shown.
                    request_animation_frame(move || match focus {
                        Focus::CallButton => focus_id("callButton"),
                        Focus::CallScreen => focus_id("callScreen"),
                    });
                }
            }
            now
        });
    }

    /// The window's resize, pointer and Escape listeners, and the bar's hide timer.
    fn install_listeners(self) {
        let resize = window_event_listener(ev::resize, move |_| {
            let layout = Layout::for_width(window_width());
            if self.panels.with_untracked(Panels::layout) != layout {
                self.panels.update(|p| p.set_layout(layout));
            }
        });

        let pointer = window_event_listener(ev::pointermove, move |event: PointerEvent| {
            let mouse = event.pointer_type() != "touch";
            self.bar
                .update(|bar| bar.pointer_moved(js_sys::Date::now(), mouse));
            self.schedule_hide();
        });

        let escape = window_event_listener(ev::keydown, move |event: KeyboardEvent| {
            if event.key() != "Escape" {
                return;
            }
            let mut closed = None;
            self.panels.update(|p| closed = p.escape());
            if let Some(panel) = closed {
                event.prevent_default();
                focus_id(button_of(panel));
            }
        });

        on_cleanup(move || {
            resize.remove();
            pointer.remove();
            escape.remove();
            if let Some(handle) = self.bar_timer.get_value() {
                handle.clear();
            }
        });
    }

    /// Re-arms the timer that reads the bar's visibility again when it is due to hide.
    fn schedule_hide(self) {
        let timer = self.bar_timer;
        if let Some(handle) = timer.get_value() {
            handle.clear();
        }
        let Some(at) = self.bar.with_untracked(ControlBar::hides_at) else {
            timer.set_value(None);
            return;
        };
        let wait = (at - js_sys::Date::now()).max(0.0) + 50.0;
        let handle = set_timeout_with_handle(
            move || self.bar_tick.update(|tick| *tick += 1),
            std::time::Duration::from_millis(wait as u64),
        )
        .ok();
        timer.set_value(handle);
    }

    /// The focus or the pointer entered or left the bar: it may have to hide later.
    pub fn bar_changed(self, change: impl FnOnce(&mut ControlBar)) {
        self.bar.update(change);
        self.bar_tick.update(|tick| *tick += 1);
        self.schedule_hide();
    }
}
