//! The call screen (`#callScreen`), shown while waiting and in a call: the other person's video
//! filling the screen (letterboxed, or cropped to fill with the top bar's toggle) with a
//! placeholder while their camera is off, our own picture as a corner overlay that can be moved
//! (or, while waiting, large), the top bar (room, statistics, fit/fill, full screen), the
//! floating control bar, the chat and files side panel (a bottom sheet on phones), the
//! statistics overlay and the settings dialog.

use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::PointerEvent;

use super::call_controls::{remote_fullscreen, CallControls};
use super::call_view::CallView;
use super::chat_panel::ChatPanel;
use super::file_panel::FilePanel;
use super::icons::{Icon, IconKind};
use super::network::{AudioOnlyPrompt, LocalQuality, RemoteNotice, RemoteQuality};
use super::settings_dialog::SettingsDialog;
use super::stats_panel::StatsPanel;
use super::video_tile::VideoTile;
use crate::controller::Controller;
use crate::model::ViewModel;
use visavis_client_core::controls;
use visavis_client_core::screen::{Corner, Panel, Screen};

/// The call screen.
#[component]
pub fn CallScreen(
    vm: ViewModel,
    view: CallView,
    controller: StoredValue<Controller, LocalStorage>,
) -> impl IntoView {
    let shown = move || view.screen.get().shows_call();
    view! {
        <main
            id="callScreen"
            class="call"
            tabindex="-1"
            aria-label="Call"
            hidden=move || !shown()
        >
            <RemoteStage vm=vm view=view />
            <SelfView vm=vm view=view />
            <TopBar vm=vm view=view />
            <AudioOnlyPrompt vm=vm controller=controller />
            <CallControls vm=vm view=view controller=controller />
            <aside class="side-panel" aria-label="Chat and files">
                <FilePanel vm=vm view=view controller=controller />
                <ChatPanel vm=vm view=view controller=controller />
            </aside>
            <StatsPanel vm=vm view=view />
            <SettingsDialog vm=vm view=view controller=controller />
        </main>
    }
}

/// The other person's video, with their muted and camera-off badges, and a placeholder while
/// their camera is off.
#[component]
fn RemoteStage(vm: ViewModel, view: CallView) -> impl IntoView {
    let network = vm.network;
    // No picture: their camera is off or paused, or the call is audio only.
    let no_picture = move || {
        !vm.remote_video.get() || network.audio_only.get() || network.remote_camera_paused.get()
    };
    let camera_off = move || vm.remote_stream.with(Option::is_some) && no_picture();
    let off_text = move || {
        if network.audio_only.get() {
            "Audio only"
        } else if !vm.remote_video.get() {
            "Their camera is off"
        } else {
            "Their camera is paused"
        }
    };
    view! {
        <div class="stage" class:stage-fill=move || view.fill.get()>
            <VideoTile
                id="remoteVideo"
                label="Them"
                empty_text="Waiting for the other person…"
                stream=vm.remote_stream
                muted=false
                mirrored=false
                tile_id="remoteTile"
                sink_id=vm.devices.speaker
                attr:data-remote-audio=move || controls::on_off(vm.remote_audio.get())
                attr:data-remote-video=move || controls::on_off(vm.remote_video.get())
            >
                <div class="remote-off" aria-hidden="true" hidden=move || !camera_off()>
                    <span class="avatar">
                        <Icon kind=IconKind::Person />
                    </span>
                    <span class="remote-off-text">{off_text}</span>
                </div>
                <RemoteNotice vm=vm />
                <div class="tile-badges">
                    <RemoteQuality vm=vm />
                    <span
                        id="remoteMuted"
                        class="tile-badge"
                        role="status"
                        hidden=move || vm.remote_audio.get()
                    >
                        <Icon kind=IconKind::MicOff />
                        "Muted"
                    </span>
                    <span
                        id="remoteCameraOff"
                        class="tile-badge"
                        role="status"
                        hidden=move || vm.remote_video.get()
                    >
                        <Icon kind=IconKind::CameraOff />
                        "Camera off"
                    </span>
                </div>
            </VideoTile>
        </div>
    }
}

/// Our own picture: a corner overlay in a call (moved with its button, or dragged to another
/// corner), large while waiting.
#[component]
fn SelfView(vm: ViewModel, view: CallView) -> impl IntoView {
    let root = NodeRef::<html::Div>::new();
    // While dragged: where the pointer went down and how far it has moved.
    let drag = RwSignal::new(None::<(f64, f64, f64, f64)>);
    let next = move || view.corner.get().next();

    let down = move |ev: PointerEvent| {
        if view.screen.get_untracked() != Screen::InCall || ev.button() != 0 {
            return;
        }
        // The Move button takes its own clicks: capturing here would steal them.
        let on_button = ev
            .target()
            .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
            .and_then(|element| element.closest("button").ok().flatten())
            .is_some();
        if on_button {
            return;
        }
        if let Some(element) = root.get_untracked() {
            let _ = element.set_pointer_capture(ev.pointer_id());
        }
        let (x, y) = (f64::from(ev.client_x()), f64::from(ev.client_y()));
        drag.set(Some((x, y, 0.0, 0.0)));
    };
    let moved = move |ev: PointerEvent| {
        drag.update(|drag| {
            if let Some((x, y, dx, dy)) = drag {
                *dx = f64::from(ev.client_x()) - *x;
                *dy = f64::from(ev.client_y()) - *y;
            }
        });
    };
    let up = move |ev: PointerEvent| {
        let Some((_, _, dx, dy)) = drag.get_untracked() else {
            return;
        };
        drag.set(None);
        // A small move is a click (the Move button handles those).
        if dx.hypot(dy) < 12.0 {
            return;
        }
        let width = window().inner_width().ok().and_then(|w| w.as_f64());
        let height = window().inner_height().ok().and_then(|h| h.as_f64());
        if let (Some(width), Some(height)) = (width, height) {
            let (x, y) = (f64::from(ev.client_x()), f64::from(ev.client_y()));
            view.corner.set(Corner::nearest(x, y, width, height));
        }
    };
    let offset = move || {
        drag.get()
            .map(|(_, _, dx, dy)| format!("translate({dx}px, {dy}px)"))
            .unwrap_or_default()
    };

    view! {
        <div
            node_ref=root
            class="self-view"
            class:self-dragging=move || drag.with(Option::is_some)
            data-corner=move || view.corner.get().as_str()
            style:transform=offset
            on:pointerdown=down
            on:pointermove=moved
            on:pointerup=up
            on:pointercancel=move |_| drag.set(None)
        >
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
            <LocalQuality vm=vm />
            <button
                id="selfMoveButton"
                class="icon-button self-move"
                type="button"
                aria-label=move || format!("Move your picture to the {}", next().label())
                title=move || format!("Move to the {}", next().label())
                on:click=move |_| view.corner.update(|corner| *corner = corner.next())
            >
                <Icon kind=IconKind::Move />
            </button>
        </div>
    }
}

/// The top bar over the video: the room's name, and the statistics, fit/fill and full screen
/// buttons. It fades with the control bar.
#[component]
fn TopBar(vm: ViewModel, view: CallView) -> impl IntoView {
    let no_remote = move || vm.remote_stream.with(Option::is_none);
    let fill = move || view.fill.get();
    view! {
        <div class="top-bar" class:bar-hidden=move || !view.bar_visible()>
            <p class="top-room">
                <span class="top-room-label">"Room"</span>
                " "
                <span class="top-room-name">{move || vm.room_input.get()}</span>
            </p>
            <div class="top-actions">
                <button
                    id="statsButton"
                    class="icon-button"
                    type="button"
                    aria-expanded=move || view.is_open(Panel::Stats).to_string()
                    aria-controls="statsPanel"
                    aria-label="Call statistics"
                    title="Call statistics"
                    class:icon-active=move || view.is_open(Panel::Stats)
                    on:click=move |_| view.toggle(Panel::Stats)
                >
                    <Icon kind=IconKind::Stats />
                </button>
                <button
                    id="fitButton"
                    class="icon-button"
                    type="button"
                    aria-pressed=move || fill().to_string()
                    aria-label="Fill the screen with the other person's video"
                    title=move || if fill() { "Show the whole picture" } else { "Fill the screen" }
                    class:icon-active=fill
                    on:click=move |_| view.fill.update(|fill| *fill = !*fill)
                >
                    <Icon kind=IconKind::Fit />
                </button>
                <button
                    id="fullscreenButton"
                    class="icon-button"
                    type="button"
                    aria-label="Show the other person full screen"
                    title="Full screen"
                    disabled=no_remote
                    on:click=move |_| remote_fullscreen()
                >
                    <Icon kind=IconKind::Fullscreen />
                </button>
            </div>
        </div>
    }
}
