//! The in-call control bar: Mute, Stop video, Share screen, Fullscreen and Picture-in-picture,
//! the keyboard shortcuts (M, V, S, H; ignored while typing in a field) and their help text.
//! Usable only while in a room.

use leptos::ev;
use leptos::logging::warn;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{HtmlElement, KeyboardEvent};

use crate::browser::js_error;
use crate::controller::Controller;
use crate::model::ViewModel;
use visavis_client_core::controls::{self, SHORTCUTS};

/// The control bar, with the window's keyboard shortcuts.
#[component]
pub fn CallControls(
    vm: ViewModel,
    controller: StoredValue<Controller, LocalStorage>,
) -> impl IntoView {
    install_shortcuts(controller);
    let in_room = move || vm.call_state.get().in_room();
    let pip_supported = picture_in_picture_enabled();

    view! {
        <div class="call-controls" role="toolbar" aria-label="Call controls">
            <button
                id="muteButton"
                class="button control-button"
                type="button"
                aria-pressed=move || (!vm.mic_on.get()).to_string()
                aria-keyshortcuts="M"
                class:control-off=move || !vm.mic_on.get()
                disabled=move || !in_room() || !vm.has_audio.get()
                on:click=move |_| controller.get_value().toggle_mic()
            >
                {move || controls::mute_label(vm.mic_on.get())}
            </button>
            <button
                id="cameraButton"
                class="button control-button"
                type="button"
                aria-pressed=move || (!vm.camera_on.get()).to_string()
                aria-keyshortcuts="V"
                class:control-off=move || !vm.camera_on.get()
                disabled=move || !in_room() || !vm.has_video.get()
                on:click=move |_| controller.get_value().toggle_camera()
            >
                {move || controls::camera_label(vm.camera_on.get())}
            </button>
            <button
                id="screenButton"
                class="button control-button"
                type="button"
                aria-pressed=move || vm.sharing.get().to_string()
                aria-keyshortcuts="S"
                class:control-active=move || vm.sharing.get()
                disabled=move || !in_room() || !vm.can_share.get() || !vm.call_ready.get()
                on:click=move |_| controller.get_value().toggle_screen()
            >
                {move || controls::screen_label(vm.sharing.get())}
            </button>
            <button
                id="fullscreenButton"
                class="button control-button"
                type="button"
                aria-label="Show the other person full screen"
                disabled=move || !in_room() || vm.remote_stream.with(Option::is_none)
                on:click=move |_| remote_fullscreen()
            >
                "Fullscreen"
            </button>
            <button
                id="pipButton"
                class="button control-button"
                type="button"
                aria-label="Show the other person in picture-in-picture"
                hidden=!pip_supported
                disabled=move || !in_room() || vm.remote_stream.with(Option::is_none)
                on:click=move |_| remote_picture_in_picture()
            >
                "Picture-in-picture"
            </button>
            <details id="shortcutsHelp" class="shortcuts">
                <summary>"Shortcuts"</summary>
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
fn remote_fullscreen() {
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
