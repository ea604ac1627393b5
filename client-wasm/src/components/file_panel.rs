//! The file panel: the "Send a file" picker and the list of transfers, each with its name (as
//! text: names from the other side are untrusted), size, progress bar, Cancel button while it
//! runs, and a download link once a received file is verified. A side panel (a bottom sheet on
//! phones) opened from the control bar, and by itself when a transfer starts; its picker and
//! list are there while the file channel is open, and afterwards for as long as the call's
//! transfers are listed.
//!
//! Dropping files onto the page is handled by the call page (`app.rs`), which hands them to
//! the same controller method as the picker.

use leptos::ev::Event;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{FileList, HtmlInputElement};

use super::call_view::CallView;
use super::icons::{Icon, IconKind};
use crate::controller::Controller;
use crate::files::TransferKey;
use crate::model::ViewModel;
use visavis_client_core::files::{self as file_transfer, Direction, TransferState, TransferView};
use visavis_client_core::screen::Panel;

/// The files of a `FileList`, in order.
pub fn files_of(list: Option<FileList>) -> Vec<web_sys::File> {
    let Some(list) = list else {
        return Vec::new();
    };
    (0..list.length()).filter_map(|i| list.item(i)).collect()
}

/// The file panel.
#[component]
pub fn FilePanel(
    vm: ViewModel,
    view: CallView,
    controller: StoredValue<Controller, LocalStorage>,
) -> impl IntoView {
    let visible = move || vm.file_open.get() || vm.transfers.with(|rows| !rows.is_empty());
    let closed = move || !vm.file_open.get();

    let on_change = move |ev: Event| {
        let Some(input) = ev
            .target()
            .and_then(|target| target.dyn_into::<HtmlInputElement>().ok())
        else {
            return;
        };
        let files = files_of(input.files());
        // Cleared so that picking the same file again is a change too.
        input.set_value("");
        controller.get_value().send_files(files);
    };

    view! {
        <section
            id="filesPanel"
            class="files side-card"
            aria-labelledby="filesTitle"
            hidden=move || !view.is_open(Panel::Files)
        >
            <div class="panel-head">
                <h2 id="filesTitle" class="panel-title">"Files"</h2>
                <button
                    class="icon-button panel-close"
                    type="button"
                    aria-label="Close the files"
                    on:click=move |_| view.close(Panel::Files)
                >
                    <Icon kind=IconKind::Close />
                </button>
            </div>
            <Show
                when=visible
                fallback=|| {
                    view! { <p class="panel-empty">"Files can be sent once you are connected."</p> }
                }
            >
                <div class="file-picker">
                    <input
                        id="fileInput"
                        class="file-input"
                        type="file"
                        multiple=true
                        disabled=closed
                        on:change=on_change
                    />
                    <label for="fileInput" class="button button-secondary file-label">
                        "Send a file"
                    </label>
                    <span class="file-hint">
                        {move || {
                            if closed() {
                                "Sending files needs a connection."
                            } else {
                                "or drop files anywhere on the page."
                            }
                        }}
                    </span>
                </div>
                <ul id="fileTransfers" class="file-list" aria-live="polite">
                    <For
                        each=move || {
                            vm.transfers.with(|rows| rows.iter().map(TransferView::key).collect::<Vec<_>>())
                        }
                        key=|key| *key
                        children=move |key| view! { <TransferRow vm=vm controller=controller key=key /> }
                    />
                </ul>
            </Show>
        </section>
    }
}

/// One transfer.
#[component]
fn TransferRow(
    vm: ViewModel,
    controller: StoredValue<Controller, LocalStorage>,
    key: TransferKey,
) -> impl IntoView {
    // Re-rendered only when this row changes, not when another row's progress moves.
    let row = Memo::new(move |_| {
        vm.transfers
            .with(|rows| rows.iter().find(|row| row.key() == key).cloned())
    });
    let read =
        move |f: fn(&TransferView) -> String| row.with(|r| r.as_ref().map(f).unwrap_or_default());
    let name = move || read(|r| r.name.clone());
    let state = move || read(|r| r.state.as_str().to_owned());
    let active = move || row.with(|r| r.as_ref().is_some_and(|r| r.state.is_active()));
    let arrow = match key.0 {
        Direction::Outgoing => "↑",
        Direction::Incoming => "↓",
    };
    let arrow_label = match key.0 {
        Direction::Outgoing => "To them:",
        Direction::Incoming => "From them:",
    };

    view! {
        <li
            class="file-transfer"
            data-direction=key.0.as_str()
            data-state=state
            data-id=key.1.to_string()
            data-sha256=move || row.with(|r| r.as_ref().and_then(|r| r.sha256.clone()))
        >
            <div class="file-head">
                <span class="file-arrow" aria-hidden="true">{arrow}</span>
                <span class="visually-hidden">{arrow_label}</span>
                " "
                <span class="file-name">{name}</span>
                " "
                <span class="file-size">{move || read(|r| file_transfer::format_size(r.size))}</span>
            </div>
            <progress
                class="file-progress"
                max=move || read(|r| r.progress_max().to_string())
                value=move || read(|r| r.progress_value().to_string())
                aria-label=move || format!("Progress of {}", name())
            ></progress>
            <div class="file-foot">
                <span class="file-status">{move || read(TransferView::label)}</span>
                {move || {
                    active()
                        .then(|| {
                            view! {
                                <button
                                    class="button button-secondary file-cancel"
                                    type="button"
                                    on:click=move |_| controller.get_value().cancel_transfer(key)
                                >
                                    "Cancel"
                                </button>
                            }
                        })
                }}
                {move || {
                    row.with(|r| r.as_ref().and_then(|r| r.url.clone()))
                        .map(|url| {
                            view! {
                                <a
                                    class="button button-primary file-download"
                                    href=url
                                    download=name
                                >
                                    "Download"
                                </a>
                            }
                        })
                }}
            </div>
            {move || {
                row.with(|r| r.as_ref().and_then(|r| r.note.clone()))
                    .map(|note| {
                        let tone = row
                            .with(|r| r.as_ref().map(|r| r.state))
                            .filter(|s| *s == TransferState::Failed)
                            .map_or("file-note", |_| "file-note file-note-error");
                        view! { <p class=tone>{note}</p> }
                    })
            }}
        </li>
    }
}
