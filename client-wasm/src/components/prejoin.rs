//! The pre-join screen (`#preJoin`), shown before a call and, as the end screen, after one: the
//! camera preview with its on/off button, the room name and its link with a Copy button, the
//! camera, microphone and speaker pickers with the microphone level, and the Call button
//! (Call again after a call, under a headline saying how it ended).
//!
//! The pickers are here while no call runs; during a call the control bar carries compact
//! ones with the same ids, and the settings dialog full ones. They render the device signals of
//! the view model and forward picks to the controller; the speaker picker exists only where
//! the browser can play to a chosen speaker.

use leptos::ev;
use leptos::prelude::*;

use super::call_view::CallView;
use super::icons::{Icon, IconKind};
use super::room_form::RoomForm;
use super::video_tile::VideoTile;
use crate::controller::Controller;
use crate::model::{DeviceModel, ViewModel};
use visavis_client_core::devices::{DeviceKind, PreviewState};
use visavis_client_core::screen::{end_title, Screen};

/// The pre-join (and end) screen.
#[component]
pub fn PreJoin(
    vm: ViewModel,
    view: CallView,
    controller: StoredValue<Controller, LocalStorage>,
    /// Whether the page is in relay-only mode (said under the form).
    relay_only: bool,
) -> impl IntoView {
    let model = vm.devices;
    let shown = move || !view.screen.get().shows_call();
    let ended = move || view.screen.get() == Screen::Ended;
    let in_call = move || vm.starting.get() || vm.call_state.get().in_room();
    wake_audio_on_input(controller);
    let preview_on = move || model.preview_state.with(PreviewState::is_on);

    view! {
        <section
            id="preJoin"
            class="prejoin"
            class:prejoin-ended=ended
            hidden=move || !shown()
            aria-labelledby="prejoinTitle"
        >
            <div class="prejoin-preview">
                <VideoTile
                    id="previewVideo"
                    label="You"
                    empty_text="Camera off"
                    stream=model.preview
                    muted=true
                    mirrored=model.preview_mirrored
                    tile_id="previewTile"
                >
                    <div class="preview-bar">
                        <button
                            id="previewButton"
                            class="round-button"
                            class:round-off=move || !preview_on()
                            type="button"
                            aria-pressed=move || (!preview_on()).to_string()
                            on:click=move |_| controller.get_value().toggle_preview()
                        >
                            {move || {
                                let kind = if preview_on() {
                                    IconKind::Camera
                                } else {
                                    IconKind::CameraOff
                                };
                                view! { <Icon kind=kind /> }
                            }}
                            <span class="round-label">
                                {move || model.preview_state.with(PreviewState::button_label)}
                            </span>
                        </button>
                    </div>
                </VideoTile>
                <p id="previewNote" class="prejoin-note" role="status">
                    {move || model.preview_state.with(PreviewState::note)}
                </p>
            </div>
            <div class="prejoin-panel">
                <h1 id="prejoinTitle" class="prejoin-title">
                    {move || {
                        if ended() {
                            vm.status.with(end_title)
                        } else {
                            "Ready to call?"
                        }
                    }}
                </h1>
                <p class="prejoin-lead">
                    {move || {
                        if ended() {
                            "Call again in the same room, or choose another."
                        } else {
                            "Private video calls for two. Pick a room, share its link, press Call."
                        }
                    }}
                </p>
                <RoomForm vm=vm view=view controller=controller />
                <Show when=move || !in_call()>
                    <div
                        id="devicePanel"
                        class="device-pickers"
                        role="group"
                        aria-label="Camera and microphone"
                        aria-busy=move || model.switching.get().to_string()
                    >
                        <DevicePicker
                            kind=DeviceKind::Camera
                            select_id="cameraSelect"
                            label="Camera"
                            empty_text="No camera available"
                            model=model
                            controller=controller
                        />
                        <DevicePicker
                            kind=DeviceKind::Microphone
                            select_id="microphoneSelect"
                            label="Microphone"
                            empty_text="No microphone available"
                            model=model
                            controller=controller
                        >
                            <MicLevel model=model id="micLevel" />
                        </DevicePicker>
                        <Show when=move || model.sink_supported.get()>
                            <DevicePicker
                                kind=DeviceKind::Speaker
                                select_id="speakerSelect"
                                label="Speaker"
                                empty_text="System default"
                                model=model
                                controller=controller
                            />
                        </Show>
                    </div>
                </Show>
                {relay_only
                    .then(|| {
                        view! {
                            <p id="iceMode" class="mode-note">
                                "Relay-only mode: this page sends and receives everything \
                                 through the relay (TURN) server."
                            </p>
                        }
                    })}
            </div>
        </section>
    }
}

/// One labelled picker, with `children` below it. Until the browser lists devices of its kind
/// (access not allowed yet, or none connected) it shows `empty_text` and is disabled. A
/// `compact` picker (the control bar's) shows only an arrow; its label is for screen readers.
#[component]
pub fn DevicePicker(
    kind: DeviceKind,
    select_id: &'static str,
    label: &'static str,
    empty_text: &'static str,
    model: DeviceModel,
    controller: StoredValue<Controller, LocalStorage>,
    #[prop(optional)] compact: bool,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    let options = model.options(kind);
    let chosen = model.chosen(kind);
    let empty = move || options.with(Vec::is_empty);

    view! {
        <div class="device-field" class:device-compact=move || compact>
            <label class="field-label" class:visually-hidden=move || compact for=select_id>
                {label}
            </label>
            <select
                id=select_id
                class="device-select"
                title=compact.then_some(label)
                disabled=empty
                on:change=move |ev| {
                    controller.get_value().choose_device(kind, event_target_value(&ev))
                }
            >
                <Show when=empty>
                    <option value="">{empty_text}</option>
                </Show>
                <For
                    each=move || options.get()
                    key=|option| (option.id.clone(), option.label.clone())
                    let:option
                >
                    // The property, not the attribute: an attribute no longer moves the
                    // selection once the person has picked something.
                    <option
                        value=option.id.clone()
                        prop:selected=move || chosen.with(|c| c.as_deref() == Some(&option.id))
                    >
                        {option.label.clone()}
                    </option>
                </For>
            </select>
            {children.map(|children| children())}
        </div>
    }
}

/// The microphone level, 0–100, as a meter bar; `id` is the meter's (its label's is derived).
#[component]
pub fn MicLevel(model: DeviceModel, id: &'static str) -> impl IntoView {
    let level = move || model.mic_level.get().unwrap_or(0);
    let label_id = format!("{id}Label");
    view! {
        <div class="mic-level">
            <span id=label_id.clone() class="visually-hidden">
                "Microphone level"
            </span>
            <div
                id=id
                class="level"
                class:level-idle=move || model.mic_level.with(Option::is_none)
                role="meter"
                aria-labelledby=label_id
                aria-valuemin="0"
                aria-valuemax="100"
                aria-valuenow=level
            >
                <div class="level-bar" style:width=move || format!("{}%", level())></div>
            </div>
        </div>
    }
}

/// Browsers may keep an audio context suspended until the person interacts with the page, so
/// clicks and key presses are forwarded: the level meter starts moving at the first one (later
/// ones cost a state check). Removed with the page.
fn wake_audio_on_input(controller: StoredValue<Controller, LocalStorage>) {
    let pointer = window_event_listener(ev::pointerdown, move |_| {
        controller.get_value().wake_audio();
    });
    let key = window_event_listener(ev::keydown, move |_| {
        controller.get_value().wake_audio();
    });
    on_cleanup(move || {
        pointer.remove();
        key.remove();
    });
}
