//! The page: picks the call page or the connectivity check page from the address, creates the
//! call page's view model, controller and view state, lays out its screens, and publishes the
//! call state on `<body data-call-state>` (the screen on `data-screen`, the wake lock on
//! `data-wake-lock`). It also takes files dropped anywhere on the window (with a drop
//! highlight) for the file panel.

use leptos::ev;
use leptos::logging::warn;
use leptos::prelude::*;
use web_sys::DragEvent;

use super::call_screen::CallScreen;
use super::call_view::CallView;
use super::check_page::CheckPage;
use super::file_panel::files_of;
use super::prejoin::PreJoin;
use super::status_line::StatusLine;
use crate::browser;
use crate::controller::{initial_room_input, Controller};
use crate::model::ViewModel;
use visavis_client_core::link::{self, IcePolicy};

/// The whole application: the check page at `/check`, the call page everywhere else.
#[component]
pub fn App() -> impl IntoView {
    if link::is_check_path(&browser::path()) {
        view! { <CheckPage /> }.into_any()
    } else {
        view! { <CallPage /> }.into_any()
    }
}

/// The call page: the pre-join (and end) screen or the call screen, with the status line.
#[component]
fn CallPage() -> impl IntoView {
    let vm = ViewModel::new(initial_room_input());
    let controller = Controller::new(vm);
    // The pre-join preview and the device lists; a seat taken back below takes the preview's
    // camera over.
    controller.start_devices();
    // A reloaded call page takes its seat back by itself.
    controller.resume();
    let relay_only = controller.ice_policy() == IcePolicy::Relay;
    let controller = StoredValue::new_local(controller);
    let view = CallView::new(vm);

    // Automated tests and CSS read the state from the body, so it must always match the page.
    Effect::new(move |_| {
        let state = vm.call_state.get();
        let screen = view.screen.get();
        let Some(body) = document().body() else {
            return;
        };
        let dataset = body.dataset();
        if let Err(err) = dataset.set("callState", state.as_str()) {
            warn!("could not publish the call state: {err:?}");
        }
        if let Err(err) = dataset.set("screen", screen.as_str()) {
            warn!("could not publish the screen: {err:?}");
        }
    });
    Effect::new(move |_| {
        let wake_lock = vm.wake_lock.get();
        if let Some(body) = document().body() {
            if let Err(err) = body.dataset().set("wakeLock", wake_lock.as_str()) {
                warn!("could not publish the wake lock: {err:?}");
            }
        }
    });

    let dragging = install_file_drop(vm, controller);
    let drop_active = move || dragging.get() > 0;

    view! {
        <div
            class="app call-page"
            class:drop-active=drop_active
            class:app-side-open=move || view.panels.with(|p| p.side_open())
        >
            <div class="drop-overlay" aria-hidden="true">
                <p class="drop-text">"Drop files to send them"</p>
            </div>
            <header class="app-header">
                <p class="brand">
                    <span class="brand-mark" aria-hidden="true"></span>
                    "visavis"
                </p>
                <p class="tagline">"Private video calls for two"</p>
            </header>
            <StatusLine vm=vm view=view controller=controller />
            <PreJoin vm=vm view=view controller=controller relay_only=relay_only />
            <CallScreen vm=vm view=view controller=controller />
            <footer class="app-footer">
                <a href="/check">"Calls not working? Check your connection, camera and microphone."</a>
            </footer>
        </div>
    }
}

/// Whether a drag carries files (rather than text or a link).
fn carries_files(event: &DragEvent) -> bool {
    event
        .data_transfer()
        .is_some_and(|data| data.types().includes(&"Files".into(), 0))
}

/// Listens for files dragged over and dropped on the window. Returns how deep inside the
/// window a file drag is (above 0: show the highlight), counted because `dragenter` and
/// `dragleave` fire for every child element crossed.
///
/// A dropped file is never left to the browser, which would open it in place of the call;
/// while the file channel is open it is sent. The listeners are removed with the page.
fn install_file_drop(
    vm: ViewModel,
    controller: StoredValue<Controller, LocalStorage>,
) -> RwSignal<i32> {
    let depth = RwSignal::new(0);
    let enter = window_event_listener(ev::dragenter, move |event: DragEvent| {
        if carries_files(&event) && vm.file_open.get_untracked() {
            depth.update(|d| *d += 1);
        }
    });
    let leave = window_event_listener(ev::dragleave, move |event: DragEvent| {
        if carries_files(&event) {
            depth.update(|d| *d = (*d - 1).max(0));
        }
    });
    let over = window_event_listener(ev::dragover, move |event: DragEvent| {
        if !carries_files(&event) {
            return;
        }
        // Without this the drop would not be ours.
        event.prevent_default();
        if let Some(data) = event.data_transfer() {
            data.set_drop_effect(if vm.file_open.get_untracked() {
                "copy"
            } else {
                "none"
            });
        }
    });
    let drop = window_event_listener(ev::drop, move |event: DragEvent| {
        if !carries_files(&event) {
            return;
        }
        event.prevent_default();
        depth.set(0);
        if !vm.file_open.get_untracked() {
            return;
        }
        let files = files_of(event.data_transfer().and_then(|data| data.files()));
        if !files.is_empty() {
            controller.get_value().send_files(files);
        }
    });
    on_cleanup(move || {
        enter.remove();
        leave.remove();
        over.remove();
        drop.remove();
    });
    depth
}
