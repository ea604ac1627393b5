//! The chat panel: the log of messages (rendered as text, never HTML) and the input with its
//! Send button, usable only while the data channel is open.

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;

use crate::chat::{Author, ChatLine};
use crate::controller::Controller;
use crate::model::ViewModel;

/// The chat panel. Submitting the form (Send, or Enter in the input) sends the message.
#[component]
pub fn ChatPanel(
    vm: ViewModel,
    controller: StoredValue<Controller, LocalStorage>,
) -> impl IntoView {
    let input = NodeRef::<html::Input>::new();
    let log = NodeRef::<html::Ol>::new();
    let closed = move || !vm.chat_open.get();

    // Keep the newest message in view. The scroll waits for the next frame, when the new line
    // has been rendered.
    Effect::new(move |_| {
        vm.chat_log.track();
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
        <section class="chat" aria-labelledby="chatTitle">
            <h2 id="chatTitle" class="chat-title">"Chat"</h2>
            <ol id="dataChannelOutput" node_ref=log class="chat-log" aria-live="polite">
                <For
                    each=move || vm.chat_log.with(|log| log.lines().to_vec())
                    key=ChatLine::key
                    children=move |line: ChatLine| {
                        let side = match line.author {
                            Author::You => "chat-line from-you",
                            Author::Them => "chat-line from-them",
                        };
                        view! {
                            <li class=side>
                                <span class="chat-meta">
                                    <span class="chat-author">{line.author.label()}</span>
                                    " "
                                    <time class="chat-time">{line.time}</time>
                                </span>
                                " "
                                <span class="chat-text">{line.text}</span>
                            </li>
                        }
                    }
                />
            </ol>
            <form class="chat-form" on:submit=on_submit>
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
