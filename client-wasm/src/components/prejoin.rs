//! The device controls. Before a call (the pre-join screen, `#preJoin`): a camera preview with a
//! button that turns it on or off. Before and during a call: the camera, microphone and speaker
//! pickers, and the microphone level. They render the device signals of the view model and
//! forward picks to the controller; the speaker picker exists only where the browser can play
//! to a chosen speaker.

use leptos::ev;
use leptos::prelude::*;

use super::video_tile::VideoTile;
use crate::controller::Controller;
use crate::model::{DeviceModel, ViewModel};
use visavis_client_core::devices::{DeviceKind, PreviewState};

/// The preview and the pickers.
#[component]
pub fn DevicePanel(
    vm: ViewModel,
    controller: StoredValue<Controller, LocalStorage>,
) -> impl IntoView {
    let model = vm.devices;
    let in_call = move || vm.starting.get() || vm.call_state.get().in_room();
    wake_audio_on_input(controller);
    let preview_on = move || model.preview_state.with(PreviewState::is_on);

    view! {
        <section id="devicePanel" class="devices" aria-label="Camera and microphone">
            <div id="preJoin" class="prejoin" hidden=in_call>
                <VideoTile
                    id="previewVideo"
                    label="Preview"
                    empty_text="Camera off"
                    stream=model.preview
                    muted=true
                    mirrored=true
                    tile_id="previewTile"
                />
                <div class="prejoin-side">
                    <p id="previewNote" class="prejoin-note" role="status">
                        {move || model.preview_state.with(PreviewState::note)}
                    </p>
                    <button
                        id="previewButton"
                        class="button button-secondary"
                        type="button"
                        aria-pressed=move || preview_on().to_string()
                        on:click=move |_| controller.get_value().toggle_preview()
                    >
                        {move || model.preview_state.with(PreviewState::button_label)}
                    </button>
                </div>
            </div>
            <div class="device-pickers" aria-busy=move || model.switching.get().to_string()>
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
                    <MicLevel model=model />
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
        </section>
    }
}

/// One labelled picker, with `children` below it. Until the browser lists devices of its kind
/// (access not allowed yet, or none connected) it shows `empty_text` and is disabled.
#[component]
fn DevicePicker(
    kind: DeviceKind,
    select_id: &'static str,
    label: &'static str,
    empty_text: &'static str,
    model: DeviceModel,
    controller: StoredValue<Controller, LocalStorage>,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    let options = model.options(kind);
    let chosen = model.chosen(kind);
    let empty = move || options.with(Vec::is_empty);

    view! {
        <div class="device-field">
            <label class="field-label" for=select_id>
                {label}
            </label>
            <select
                id=select_id
                class="device-select"
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

/// The microphone level, 0–100, as a meter bar.
#[component]
fn MicLevel(model: DeviceModel) -> impl IntoView {
    let level = move || model.mic_level.get().unwrap_or(0);
    view! {
        <div class="mic-level">
            <span id="micLevelLabel" class="visually-hidden">
                "Microphone level"
            </span>
            <div
                id="micLevel"
                class="level"
                class:level-idle=move || model.mic_level.with(Option::is_none)
                role="meter"
                aria-labelledby="micLevelLabel"
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
