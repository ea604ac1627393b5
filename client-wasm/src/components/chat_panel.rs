//! The chat panel: the log of messages (rendered as text, never HTML; only `http(s)://`
//! addresses become links) and the input with its Send button, usable only while the data
//! channel is open. The panel collapses to its title, which then counts the other person's new
//! messages; it starts collapsed on phone-sized screens, where it would push the call away.

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;

use crate::controller::Controller;
use crate::model::ViewModel;
use visavis_client_core::chat::links::{self as chat_links, Piece};
use visavis_client_core::chat::Unread;
use visavis_client_core::chat::{Author, ChatLine};

/// The chat panel. Submitting the form (Send, or Enter in the input) sends the message.
#[component]
pub fn ChatPanel(
    vm: ViewModel,
    controller: StoredValue<Controller, LocalStorage>,
) -> impl IntoView {
    let input = NodeRef::<html::Input>::new();
    let log = NodeRef::<html::Ol>::new();
    let closed = move || !vm.chat_open.get();
    let theirs = move || {
        vm.chat_log.with(|log| {
            log.lines()
                .iter()
                .filter(|line| line.author == Author::Them)
                .count()
        })
    };
    let unread = RwSignal::new(Unread::new(phone_sized(), untrack(theirs)));
    Effect::new(move |_| {
        let theirs = theirs();
        unread.update(|unread| unread.observe(theirs));
    });
    let collapsed = move || unread.with(Unread::collapsed);
    let unread_count = move || unread.with(Unread::count);

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
        <section class="chat" class:chat-collapsed=collapsed aria-labelledby="chatTitle">
            <h2 id="chatTitle" class="chat-title panel-title">
                <button
                    id="chatToggle"
                    class="disclosure"
                    type="button"
                    aria-expanded=move || (!collapsed()).to_string()
                    aria-controls="dataChannelOutput chatForm"
                    on:click=move |_| unread.update(Unread::toggle)
                >
                    "Chat"
                    <span id="chatUnread" class="unread-badge" hidden=move || unread_count() == 0>
                        {unread_count}
                    </span>
                    <span class="visually-hidden" hidden=move || unread_count() == 0>
                        " unread"
                    </span>
                </button>
            </h2>
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

/// Screens narrower than this (CSS pixels) are phone-sized: the chat starts collapsed there.
const PHONE_MAX_WIDTH_PX: f64 = 600.0;

/// Whether the window is phone-sized now.
fn phone_sized() -> bool {
    window()
        .inner_width()
        .ok()
        .and_then(|width| width.as_f64())
        .is_some_and(|width| width < PHONE_MAX_WIDTH_PX)
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
