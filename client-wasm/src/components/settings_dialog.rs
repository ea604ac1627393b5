//! The settings dialog of the call screen: the camera, microphone (with its level) and speaker
//! pickers, the microphone's sound processing (speech filters, music mode), and how the other
//! person's video is shown. Modal: it takes the focus when it opens,
//! gives it back to the Settings button when it closes (its Done button, Escape, or a click
//! beside it), and keeps Tab inside while open.

use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, KeyboardEvent};

use super::call_view::CallView;
use super::icons::{Icon, IconKind};
use super::prejoin::{DevicePicker, MicLevel};
use crate::controller::Controller;
use crate::model::ViewModel;
use visavis_client_core::devices::DeviceKind;
use visavis_client_core::screen::Panel;

/// The dialog, rendered closed until the Settings button opens it.
#[component]
pub fn SettingsDialog(
    vm: ViewModel,
    view: CallView,
    controller: StoredValue<Controller, LocalStorage>,
) -> impl IntoView {
    let model = vm.devices;
    let dialog = NodeRef::<html::Div>::new();
    let open = Memo::new(move |_| view.is_open(Panel::Settings));
    // Opening moves the focus into the dialog.
    Effect::new(move |_| {
        if open.get() {
            request_animation_frame(move || {
                if let Some(dialog) = dialog.get_untracked() {
                    if let Some(first) = focusables(&dialog).into_iter().next() {
                        let _ = first.focus();
                    }
                }
            });
        }
    });
    // Tab and Shift+Tab wrap round inside the dialog.
    let trap = move |ev: KeyboardEvent| {
        if ev.key() != "Tab" {
            return;
        }
        let Some(dialog) = dialog.get_untracked() else {
            return;
        };
        let items = focusables(&dialog);
        let (Some(first), Some(last)) = (items.first(), items.last()) else {
            return;
        };
        let active = document().active_element();
        let at = |element: &HtmlElement| active.as_ref() == Some(element.unchecked_ref());
        if ev.shift_key() && at(first) {
            ev.prevent_default();
            let _ = last.focus();
        } else if !ev.shift_key() && at(last) {
            ev.prevent_default();
            let _ = first.focus();
        }
    };
    let fill = move || view.fill.get();

    view! {
        <div
            class="dialog-backdrop"
            hidden=move || !open.get()
            on:click=move |ev| {
                // Only a click on the backdrop itself, not one inside the dialog.
                if ev.target() == ev.current_target() {
                    view.close(Panel::Settings);
                }
            }
        >
            <div
                id="settingsDialog"
                node_ref=dialog
                class="dialog"
                role="dialog"
                aria-modal="true"
                aria-labelledby="settingsTitle"
                on:keydown=trap
            >
                <div class="panel-head">
                    <h2 id="settingsTitle" class="panel-title">"Settings"</h2>
                    <button
                        class="icon-button panel-close"
                        type="button"
                        aria-label="Close the settings"
                        on:click=move |_| view.close(Panel::Settings)
                    >
                        <Icon kind=IconKind::Close />
                    </button>
                </div>
                <div class="dialog-body">
                    <DevicePicker
                        kind=DeviceKind::Camera
                        select_id="settingsCamera"
                        label="Camera"
                        empty_text="No camera available"
                        model=model
                        controller=controller
                    />
                    <DevicePicker
                        kind=DeviceKind::Microphone
                        select_id="settingsMicrophone"
                        label="Microphone"
                        empty_text="No microphone available"
                        model=model
                        controller=controller
                    >
                        <MicLevel model=model id="settingsMicLevel" />
                    </DevicePicker>
                    <Show when=move || model.sink_supported.get()>
                        <DevicePicker
                            kind=DeviceKind::Speaker
                            select_id="settingsSpeaker"
                            label="Speaker"
                            empty_text="System default"
                            model=model
                            controller=controller
                        />
                    </Show>
                    <label class="check-field">
                        <input
                            id="voiceCleanupToggle"
                            type="checkbox"
                            prop:checked=move || vm.audio_choice.get().voice_cleanup
                            disabled=move || !vm.audio_choice.get().voice_cleanup_available()
                            on:change=move |ev| {
                                controller.get_value().set_voice_cleanup(event_target_checked(&ev))
                            }
                        />
                        " Reduce background noise and even out my voice"
                    </label>
                    <label class="check-field">
                        <input
                            id="musicModeToggle"
                            type="checkbox"
                            prop:checked=move || vm.audio_choice.get().music
                            on:change=move |ev| {
                                controller.get_value().set_music_mode(event_target_checked(&ev))
                            }
                        />
                        " Music mode: send sound as played, without echo cancellation, noise \
                         reduction or levelling (use headphones)"
                    </label>
                    <label class="check-field">
                        <input
                            id="settingsFill"
                            type="checkbox"
                            prop:checked=fill
                            on:change=move |ev| view.fill.set(event_target_checked(&ev))
                        />
                        " Fill the screen with the other person's video (crops the edges)"
                    </label>
                </div>
                <div class="dialog-foot">
                    <button
                        class="button button-primary"
                        type="button"
                        on:click=move |_| view.close(Panel::Settings)
                    >
                        "Done"
                    </button>
                </div>
            </div>
        </div>
    }
}

/// The enabled controls inside `root` that take the focus, in document order.
fn focusables(root: &web_sys::HtmlDivElement) -> Vec<HtmlElement> {
    let all = root.get_elements_by_tag_name("*");
    (0..all.length())
        .filter_map(|i| all.item(i))
        .filter(|element| {
            matches!(element.tag_name().as_str(), "BUTTON" | "SELECT" | "INPUT")
                && !element.has_attribute("disabled")
        })
        .filter_map(|element| element.dyn_into::<HtmlElement>().ok())
        .collect()
}
