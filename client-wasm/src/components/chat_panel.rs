//! The chat panel: the log of messages (rendered as text, never HTML; only `http(s)://`
//! addresses become links) and the input with its Send button, usable only while the data
//! channel is open. A side panel on wide screens, a bottom sheet on phones; the control bar's
//! chat button opens and closes it and counts the other person's messages while it is closed.

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;

use super::call_view::CallView;
use super::icons::{Icon, IconKind};
use crate::controller::Controller;
use crate::model::ViewModel;
use visavis_client_core::chat::links::{self as chat_links, Piece};
use visavis_client_core::chat::{Author, ChatLine};
use visavis_client_core::screen::Panel;

/// The chat panel. Submitting the form (Send, or Enter in the input) sends the message.
#[component]
pub fn ChatPanel(
    vm: ViewModel,
    view: CallView,
    controller: StoredValue<Controller, LocalStorage>,
) -> impl IntoView {
    let input = NodeRef::<html::Input>::new();
    let log = NodeRef::<html::Ol>::new();
    let closed = move || !vm.chat_open.get();
    let collapsed = move || !view.is_open(Panel::Chat);

    // Keep the newest message in view. The scroll waits for the next frame, when the new line
    // has been rendered.
    Effect::new(move |_| {
        vm.chat_log.track();
        // A hidden log cannot scroll: scroll again once it is shown.
        collapsed();
        request_animation_frame(move || {
            if let Some(list) = log.get_untracked() {
                list.set_scroll_top(list.scroll_height());
            }
        });
    });

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        // Take the field's value as it is now, even if it was set without an input event.
        if let Some(field) = input.get() {
            vm.chat_draft.set(field.value());
        }
        controller.get_value().send_chat();
        if let Some(field) = input.get() {
            let _ = field.focus();
        }
    };

    view! {
        <section
            id="chatPanel"
            class="chat side-card"
            class:chat-collapsed=collapsed
            aria-labelledby="chatTitle"
            hidden=collapsed
        >
            <div class="panel-head">
                <h2 id="chatTitle" class="panel-title">"Chat"</h2>
                <button
                    class="icon-button panel-close"
                    type="button"
                    aria-label="Close the chat"
                    on:click=move |_| view.close(Panel::Chat)
                >
                    <Icon kind=IconKind::Close />
                </button>
            </div>
            <ol
                id="dataChannelOutput"
                node_ref=log
                class="chat-log"
                aria-live="polite"
                hidden=collapsed
            >
                <For
                    each=move || vm.chat_log.with(|log| log.lines().to_vec())
                    key=ChatLine::key
                    children=move |line: ChatLine| {
                        let (side, author) = match line.author {
                            Author::You => ("chat-line from-you", "you"),
                            Author::Them => ("chat-line from-them", "them"),
                        };
                        // Our own lines say whether the other side has them yet: a message
                        // typed during an outage waits, and is sent when the call is back.
                        let mine = line.author == Author::You;
                        let id = line.id.clone();
                        let unsent =
                            Memo::new(move |_| mine && vm.chat_unsent.with(|u| u.contains(&id)));
                        let delivery = move || {
                            mine.then(|| if unsent.get() { "sending" } else { "delivered" })
                        };
                        view! {
                            <li class=side data-author=author data-delivery=delivery>
                                <span class="chat-meta">
                                    <span class="chat-author">{line.author.label()}</span>
                                    " "
                                    <time class="chat-time">{line.time}</time>
                                    <span class="chat-sending" hidden=move || !unsent.get()>
                                        " · sending…"
                                    </span>
                                </span>
                                " "
                                <span class="chat-text">{message_text(&line.text)}</span>
                            </li>
                        }
                    }
                />
            </ol>
            <form id="chatForm" class="chat-form" on:submit=on_submit hidden=collapsed>
                <label class="visually-hidden" for="dataChannelInput">"Message"</label>
                <input
                    id="dataChannelInput"
                    node_ref=input
                    class="text-input"
                    type="text"
                    autocomplete="off"
                    maxlength="2000"
                    placeholder=move || {
                        if closed() { "Chat opens once you are connected" } else { "Type a message" }
                    }
                    prop:value=move || vm.chat_draft.get()
                    on:input=move |ev| vm.chat_draft.set(event_target_value(&ev))
                    disabled=closed
                />
                <button id="sendButton" class="button button-primary" type="submit" disabled=closed>
                    "Send"
                </button>
            </form>
        </section>
    }
}

/// A message as text nodes, with its web addresses as links that open in a new tab without
/// giving that tab a handle on this page (`noopener`) or telling it where it came from
/// (`noreferrer`).
fn message_text(text: &str) -> impl IntoView {
    chat_links::pieces(text)
        .into_iter()
        .map(|piece| match piece {
            Piece::Text(text) => text.into_any(),
            Piece::Link(url) => {
                let href = url.clone();
                view! {
                    <a class="chat-link" href=href target="_blank" rel="noopener noreferrer">
                        {url}
                    </a>
                }
                .into_any()
            }
        })
        .collect_view()
}
