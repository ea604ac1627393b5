//! The status line: what is happening, in plain words, with the room link and a Copy link
//! button while waiting, a link to the check page after a connectivity problem, the media path
//! while connected, and a note when the media had to fall back.

use leptos::prelude::*;

use crate::controller::Controller;
use crate::model::ViewModel;
use visavis_client_core::call::{CallState, Status};
use visavis_client_core::link::CHECK_PATH;
use visavis_client_core::stats::path_label;

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
            {move || {
                vm.status
                    .with(Status::offers_check)
                    .then(|| {
                        view! {
                            <p class="status-check">
                                <a id="checkLink" href=CHECK_PATH>
                                    "Check your connection"
                                </a>
                                " to see what is blocking calls from here."
                            </p>
                        }
                    })
            }}
            {move || {
                // Shown only while connected: after a hang-up the path says nothing useful.
                let connected = vm.call_state.get() == CallState::Connected;
                vm.media_path
                    .get()
                    .filter(|_| connected)
                    .map(|path| {
                        view! {
                            <p id="mediaPath" class="media-path" data-path=path.as_str()>
                                {path_label(path)}
                            </p>
                        }
                    })
            }}
            {move || vm.media_note.get().map(|note| view! { <p class="status-note">{note}</p> })}
        </div>
    }
}
