//! The room name field with the Call button (Call again after a call), and the link the room
//! will have, with a Copy button, so it can be sent before calling.

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::logging::warn;
use leptos::prelude::*;
use visavis_shared::RoomName;
use wasm_bindgen_futures::spawn_local;

use super::call_view::CallView;
use super::icons::{Icon, IconKind};
use crate::browser;
use crate::controller::Controller;
use crate::model::ViewModel;
use visavis_client_core::link;

/// The room form. Submitting it (Call, or Enter in the field) starts a call.
#[component]
pub fn RoomForm(
    vm: ViewModel,
    view: CallView,
    controller: StoredValue<Controller, LocalStorage>,
) -> impl IntoView {
    let input = NodeRef::<html::Input>::new();
    let can_call = move || !vm.starting.get() && vm.call_state.get().can_start();
    let room_link = move || {
        vm.room_input
            .with(|text| RoomName::from_user_input(text))
            .map(|room| link::room_link(&browser::origin(), &room))
    };
    let copied = RwSignal::new(false);
    // A new name is a new link: not copied yet.
    Effect::new(move |_| {
        vm.room_input.track();
        copied.set(false);
    });
    let copy = move |_| {
        let Some(link) = room_link() else {
            return;
        };
        spawn_local(async move {
            match browser::copy_to_clipboard(&link).await {
                Ok(()) => copied.set(true),
                Err(err) => warn!("could not copy the link: {err}"),
            }
        });
    };

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        // Take the field's value as it is now, even if it was set without an input event.
        if let Some(field) = input.get() {
            vm.room_input.set(field.value());
        }
        controller.get_value().start_call();
    };

    view! {
        <form class="room-form" on:submit=on_submit>
            <label class="field-label" for="roomName">"Room name"</label>
            <div class="room-row">
                <input
                    id="roomName"
                    node_ref=input
                    class="text-input"
                    type="text"
                    name="room"
                    autocomplete="off"
                    autocapitalize="off"
                    spellcheck="false"
                    aria-describedby="roomHelp"
                    prop:value=move || vm.room_input.get()
                    on:input=move |ev| vm.room_input.set(event_target_value(&ev))
                    disabled=move || !can_call()
                />
                <button
                    id="callButton"
                    class="button button-primary button-call"
                    type="submit"
                    disabled=move || !can_call()
                >
                    {move || view.screen.get().call_label()}
                </button>
            </div>
            <p id="roomHelp" class="field-help">
                "Letters, digits, '.', '_' and '-'. Share the room's link with the other person."
            </p>
            <Show when=move || room_link().is_some()>
                <div class="link-row">
                    <code id="prejoinLink" class="room-link">{room_link}</code>
                    <button
                        id="prejoinCopyButton"
                        class="button button-secondary button-icon"
                        type="button"
                        on:click=copy
                    >
                        <Icon kind=IconKind::Copy />
                        <span>{move || if copied.get() { "Copied" } else { "Copy link" }}</span>
                    </button>
                </div>
            </Show>
        </form>
    }
}
