//! The floating control bar of the call screen: Mute and Stop video (each with a compact device
//! picker), Share screen, Files, Settings, Chat (with the unread count), More (picture-in-picture,
//! the connection check, the keyboard shortcuts' help) and Hang up; the keyboard shortcuts (M,
//! V, S, H; ignored while typing in a field). Call actions are usable only while in a room. On
//! a pointer device the bar fades out when the pointer rests (see `visavis_client_core::screen`).

use leptos::ev;
use leptos::logging::warn;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{HtmlElement, KeyboardEvent};

use super::call_view::CallView;
use super::icons::{Icon, IconKind};
use super::network::AudioOnlyButton;
use super::prejoin::DevicePicker;
use crate::browser::js_error;
use crate::controller::Controller;
use crate::model::ViewModel;
use visavis_client_core::chat::Unread;
use visavis_client_core::controls::{self, SHORTCUTS};
use visavis_client_core::devices::DeviceKind;
use visavis_client_core::link::CHECK_PATH;
use visavis_client_core::screen::Panel;

/// The control bar, with the window's keyboard shortcuts.
#[component]
pub fn CallControls(
    vm: ViewModel,
    view: CallView,
    controller: StoredValue<Controller, LocalStorage>,
) -> impl IntoView {
    install_shortcuts(controller);
    let in_room = move || vm.call_state.get().in_room();
    let in_call = move || vm.starting.get() || in_room();
    let pip_supported = picture_in_picture_enabled();
    let model = vm.devices;
    let more_open = move || view.is_open(Panel::More);
    let unread_count = move || view.unread.with(Unread::count);

    view! {
        <div
            id="controlBar"
            class="control-bar"
            class:bar-hidden=move || !view.bar_visible()
            role="toolbar"
            aria-label="Call controls"
            on:focusin=move |_| view.bar_changed(|bar| bar.set_focus_inside(true))
            on:focusout=move |ev| {
                // Focus moving between the bar's own controls keeps it inside.
                let inside = ev
                    .related_target()
                    .and_then(|target| target.dyn_into::<web_sys::Node>().ok())
                    .zip(ev.current_target().and_then(|t| t.dyn_into::<web_sys::Node>().ok()))
                    .is_some_and(|(to, bar)| bar.contains(Some(&to)));
                view.bar_changed(|bar| bar.set_focus_inside(inside));
            }
            on:pointerenter=move |_| view.bar_changed(|bar| bar.set_hovered(true))
            on:pointerleave=move |_| view.bar_changed(|bar| bar.set_hovered(false))
        >
            <div class="split-control">
                <button
                    id="muteButton"
                    class="round-button"
                    type="button"
                    aria-pressed=move || (!vm.mic_on.get()).to_string()
                    aria-keyshortcuts="M"
                    class:round-off=move || !vm.mic_on.get()
                    disabled=move || !in_room() || !vm.has_audio.get()
                    on:click=move |_| controller.get_value().toggle_mic()
                >
                    {move || {
                        let kind = if vm.mic_on.get() { IconKind::Mic } else { IconKind::MicOff };
                        view! { <Icon kind=kind /> }
                    }}
                    <span class="round-label">{move || controls::mute_label(vm.mic_on.get())}</span>
                </button>
                <Show when=in_call>
                    <DevicePicker
                        kind=DeviceKind::Microphone
                        select_id="microphoneSelect"
                        label="Microphone"
                        empty_text="No microphone available"
                        model=model
                        controller=controller
                        compact=true
                    />
                </Show>
            </div>
            <div class="split-control">
                <button
                    id="cameraButton"
                    class="round-button"
                    type="button"
                    aria-pressed=move || (!vm.camera_on.get()).to_string()
                    aria-keyshortcuts="V"
                    class:round-off=move || !vm.camera_on.get()
                    disabled=move || !in_room() || !vm.has_video.get()
                    on:click=move |_| controller.get_value().toggle_camera()
                >
                    {move || {
                        let kind = if vm.camera_on.get() {
                            IconKind::Camera
                        } else {
                            IconKind::CameraOff
                        };
                        view! { <Icon kind=kind /> }
                    }}
                    <span class="round-label">
                        {move || controls::camera_label(vm.camera_on.get())}
                    </span>
                </button>
                <button
                    id="flipCameraButton"
                    class="round-button"
                    type="button"
                    hidden=move || !vm.can_flip.get()
                    disabled=move || !in_room() || vm.sharing.get() || vm.devices.switching.get()
                    on:click=move |_| controller.get_value().flip_camera()
                >
                    <Icon kind=IconKind::Flip />
                    <span class="round-label">"Flip camera"</span>
                </button>
                <Show when=in_call>
                    <DevicePicker
                        kind=DeviceKind::Camera
                        select_id="cameraSelect"
                        label="Camera"
                        empty_text="No camera available"
                        model=model
                        controller=controller
                        compact=true
                    />
                </Show>
            </div>
            <div class="bar-extra" class:bar-extra-open=more_open>
                <button
                    id="screenButton"
                    class="round-button"
                    type="button"
                    aria-pressed=move || vm.sharing.get().to_string()
                    aria-keyshortcuts="S"
                    class:round-active=move || vm.sharing.get()
                    disabled=move || !in_room() || !vm.can_share.get() || !vm.call_ready.get()
                    on:click=move |_| controller.get_value().toggle_screen()
                >
                    <Icon kind=IconKind::Screen />
                    <span class="round-label">{move || controls::screen_label(vm.sharing.get())}</span>
                </button>
                <AudioOnlyButton vm=vm controller=controller />
                <button
                    id="filesButton"
                    class="round-button"
                    type="button"
                    aria-expanded=move || view.is_open(Panel::Files).to_string()
                    aria-controls="filesPanel"
                    class:round-active=move || view.is_open(Panel::Files)
                    on:click=move |_| view.toggle(Panel::Files)
                >
                    <Icon kind=IconKind::Files />
                    <span class="round-label">"Files"</span>
                </button>
                <button
                    id="settingsButton"
                    class="round-button"
                    type="button"
                    aria-haspopup="dialog"
                    aria-expanded=move || view.is_open(Panel::Settings).to_string()
                    aria-controls="settingsDialog"
                    on:click=move |_| view.toggle(Panel::Settings)
                >
                    <Icon kind=IconKind::Settings />
                    <span class="round-label">"Settings"</span>
                </button>
            </div>
            <button
                id="chatToggle"
                class="round-button"
                type="button"
                aria-expanded=move || view.is_open(Panel::Chat).to_string()
                aria-controls="dataChannelOutput chatForm"
                class:round-active=move || view.is_open(Panel::Chat)
                on:click=move |_| view.toggle(Panel::Chat)
            >
                <Icon kind=IconKind::Chat />
                <span class="round-label">"Chat"</span>
                <span id="chatUnread" class="unread-badge" hidden=move || unread_count() == 0>
                    {unread_count}
                </span>
                <span class="visually-hidden" hidden=move || unread_count() == 0>
                    " unread"
                </span>
            </button>
            <div class="more">
                <button
                    id="moreButton"
                    class="round-button"
                    type="button"
                    aria-haspopup="true"
                    aria-expanded=move || more_open().to_string()
                    aria-controls="moreMenu"
                    class:round-active=more_open
                    on:click=move |_| view.toggle(Panel::More)
                >
                    <Icon kind=IconKind::More />
                    <span class="round-label">"More"</span>
                </button>
                <div id="moreMenu" class="more-menu" hidden=move || !more_open()>
                    <button
                        id="pipButton"
                        class="menu-item"
                        type="button"
                        aria-label="Show the other person in picture-in-picture"
                        hidden=!pip_supported
                        disabled=move || !in_room() || vm.remote_stream.with(Option::is_none)
                        on:click=move |_| {
                            view.toggle(Panel::More);
                            remote_picture_in_picture();
                        }
                    >
                        "Picture-in-picture"
                    </button>
                    <a class="menu-item" href=CHECK_PATH target="_blank" rel="noopener">
                        "Check your connection"
                    </a>
                    <details id="shortcutsHelp" class="shortcuts">
                        <summary class="menu-item">"Keyboard shortcuts"</summary>
                        <ul class="shortcut-list">
                            {SHORTCUTS
                                .iter()
                                .map(|(_, key, text)| {
                                    view! {
                                        <li>
                                            <kbd>{*key}</kbd>
                                            " "
                                            {*text}
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    </details>
                </div>
            </div>
            <button
                id="hangupButton"
                class="round-button round-danger"
                type="button"
                aria-keyshortcuts="H"
                disabled=move || !in_room()
                on:click=move |_| controller.get_value().hang_up()
            >
                <Icon kind=IconKind::HangUp />
                <span class="round-label">"Hang up"</span>
            </button>
        </div>
    }
}

/// Listens for the shortcut keys on the window; removed with the page.
fn install_shortcuts(controller: StoredValue<Controller, LocalStorage>) {
    let handle = window_event_listener(ev::keydown, move |event: KeyboardEvent| {
        let typing = event
            .target()
            .and_then(|target| target.dyn_into::<HtmlElement>().ok())
            .is_some_and(|element| {
                controls::takes_typing(&element.tag_name(), element.is_content_editable())
            });
        let modified = event.ctrl_key() || event.meta_key() || event.alt_key();
        if let Some(shortcut) =
            controls::shortcut_for(&event.key(), modified, typing, event.repeat())
        {
            event.prevent_default();
            controller.get_value().shortcut(shortcut);
        }
    });
    on_cleanup(move || handle.remove());
}

/// Whether the browser offers picture-in-picture (`document.pictureInPictureEnabled`).
fn picture_in_picture_enabled() -> bool {
    js_sys::Reflect::get(&document(), &"pictureInPictureEnabled".into())
        .ok()
        .and_then(|value| value.as_bool())
        .unwrap_or(false)
}

/// Shows the other person's tile full screen, or leaves full screen.
pub fn remote_fullscreen() {
    let document = document();
    if document.fullscreen_element().is_some() {
        document.exit_fullscreen();
        return;
    }
    let Some(tile) = document.get_element_by_id("remoteTile") else {
        return;
    };
    if let Err(err) = tile.request_fullscreen() {
        warn!(
            "controls: full screen refused: {}",
            js_error::describe(&err)
        );
    }
}

/// Puts the other person's video in a picture-in-picture window (the method is called by name:
/// not every browser has it).
fn remote_picture_in_picture() {
    let Some(video) = document().get_element_by_id("remoteVideo") else {
        return;
    };
    let method = js_sys::Reflect::get(&video, &"requestPictureInPicture".into())
        .ok()
        .and_then(|method| method.dyn_into::<js_sys::Function>().ok());
    let Some(method) = method else {
        warn!("controls: this browser has no picture-in-picture");
        return;
    };
    let promise = method
        .call0(&video)
        .ok()
        .and_then(|value| value.dyn_into::<js_sys::Promise>().ok());
    if let Some(promise) = promise {
        spawn_local(async move {
            if let Err(err) = JsFuture::from(promise).await {
                warn!(
                    "controls: picture-in-picture refused: {}",
                    js_error::describe(&err)
                );
            }
        });
    }
}
