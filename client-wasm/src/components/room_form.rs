//! The room name field with the Call and Hang up buttons.

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;

use crate::controller::Controller;
use crate::model::ViewModel;

/// The room form. Submitting it (Call, or Enter in the field) starts a call.
#[component]
pub fn RoomForm(vm: ViewModel, controller: StoredValue<Controller, LocalStorage>) -> impl IntoView {
    let input = NodeRef::<html::Input>::new();
    let can_call = move || !vm.starting.get() && vm.call_state.get().can_start();
    let in_room = move || vm.call_state.get().in_room();

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
                    class="button button-primary"
                    type="submit"
                    disabled=move || !can_call()
                >
                    "Call"
                </button>
                <button
                    id="hangupButton"
                    class="button button-danger"
                    type="button"
                    disabled=move || !in_room()
                    on:click=move |_| controller.get_value().hang_up()
                >
                    "Hang up"
                </button>
            </div>
            <p id="roomHelp" class="field-help">
                "Letters, digits, '.', '_' and '-'. Share the room's link with the other person."
            </p>
        </form>
    }
}
