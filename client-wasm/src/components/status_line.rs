//! The status line: what is happening, in plain words, with the room link and a Copy link
//! button while waiting, and a note when the media had to fall back.

use leptos::prelude::*;

use crate::controller::Controller;
use crate::model::ViewModel;
use crate::state::Status;

/// The status line. A polite live region, so screen readers announce changes.
#[component]
pub fn StatusLine(
    vm: ViewModel,
    controller: StoredValue<Controller, LocalStorage>,
) -> impl IntoView {
    let class = move || format!("status {}", vm.status.with(|s| s.tone().class()));
    let link = move || vm.status.with(|s| s.link().map(str::to_owned));

    view! {
        <div id="status" class=class role="status" aria-live="polite">
            <p class="status-text">{move || vm.status.with(Status::text)}</p>
            {move || {
                link()
                    .map(|link| {
                        view! {
                            <p class="status-link">
                                // Not a hyperlink: following it here would join our own room.
                                <code id="roomLink" class="room-link">{link}</code>
                                <button
                                    id="copyLinkButton"
                                    class="button button-secondary"
                                    type="button"
                                    on:click=move |_| controller.get_value().copy_link()
                                >
                                    {move || if vm.link_copied.get() { "Copied" } else { "Copy link" }}
                                </button>
                            </p>
                        }
                    })
            }}
            {move || vm.media_note.get().map(|note| view! { <p class="status-note">{note}</p> })}
        </div>
    }
}
