//! The page: picks the call page or the connectivity check page from the address, creates the
//! call page's view model and controller, lays out its parts, and publishes the call state on
//! `<body data-call-state>`. It also takes files dropped anywhere on the window (with a drop
//! highlight) for the file panel.

use leptos::ev;
use leptos::logging::warn;
use leptos::prelude::*;
use web_sys::DragEvent;

use super::call_controls::CallControls;
use super::chat_panel::ChatPanel;
use super::check_page::CheckPage;
use super::file_panel::{files_of, FilePanel};
use super::prejoin::DevicePanel;
use super::room_form::RoomForm;
use super::stats_panel::StatsPanel;
use super::status_line::StatusLine;
use super::video_tile::VideoTile;
use crate::browser;
use crate::controller::{initial_room_input, Controller};
use crate::model::ViewModel;
use visavis_client_core::controls;
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

/// The call page.
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

    // Automated tests and CSS read the state from the body, so it must always match the page.
    Effect::new(move |_| {
        let state = vm.call_state.get();
        let Some(body) = document().body() else {
            return;
        };
        if let Err(err) = body.dataset().set("callState", state.as_str()) {
            warn!("could not publish the call state: {err:?}");
        }
    });

    let dragging = install_file_drop(vm, controller);
    let drop_active = move || dragging.get() > 0;

    view! {
        <div class="app" class:drop-active=drop_active>
            <div class="drop-overlay" aria-hidden="true">
                <p class="drop-text">"Drop files to send them"</p>
            </div>
            <header class="app-header">
                <h1 class="brand">"visavis"</h1>
                <p class="tagline">"Private video calls for two"</p>
            </header>
            <main class="app-main">
                <section class="controls" aria-label="Call">
                    <RoomForm vm=vm controller=controller />
                    <DevicePanel vm=vm controller=controller />
                    <StatusLine vm=vm controller=controller />
                    <CallControls vm=vm controller=controller />
                    {relay_only
                        .then(|| {
                            view! {
                                <p id="iceMode" class="mode-note">
                                    "Relay-only mode: this page sends and receives everything \
                                     through the relay (TURN) server."
                                </p>
                            }
                        })}
                </section>
                <section class="stage" aria-label="Videos">
                    <VideoTile
                        id="localVideo"
                        label="You"
                        empty_text="Your camera is off"
                        stream=vm.local_stream
                        muted=true
                        mirrored=vm.local_mirrored
                        tile_id="localTile"
                        attr:data-source=move || if vm.sharing.get() { "screen" } else { "camera" }
                    />
                    <VideoTile
                        id="remoteVideo"
                        label="Them"
                        empty_text="No one here yet"
                        stream=vm.remote_stream
                        muted=false
                        mirrored=false
                        tile_id="remoteTile"
                        sink_id=vm.devices.speaker
                        attr:data-remote-audio=move || controls::on_off(vm.remote_audio.get())
                        attr:data-remote-video=move || controls::on_off(vm.remote_video.get())
                    >
                        <div class="tile-badges">
                            <span
                                id="remoteMuted"
                                class="tile-badge"
                                role="status"
                                hidden=move || vm.remote_audio.get()
                            >
                                "Muted"
                            </span>
                            <span
                                id="remoteCameraOff"
                                class="tile-badge"
                                role="status"
                                hidden=move || vm.remote_video.get()
                            >
                                "Camera off"
                            </span>
                        </div>
                    </VideoTile>
                </section>
                <div class="side">
                    <ChatPanel vm=vm controller=controller />
                    <FilePanel vm=vm controller=controller />
                    <StatsPanel vm=vm />
                </div>
            </main>
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
