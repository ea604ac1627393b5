//! The view model: the Leptos signals the controller writes and the components read. It is
//! the only thing the two share, which keeps components free of call logic.

use leptos::prelude::*;
use web_sys::MediaStream;

use crate::chat::ChatLog;
use crate::state::{CallState, Status};

/// Every piece of state the page shows. Copyable handles; the values live in Leptos' arena.
#[derive(Clone, Copy)]
pub struct ViewModel {
    /// The call state, published on `<body data-call-state>`.
    pub call_state: RwSignal<CallState>,
    /// The status line.
    pub status: RwSignal<Status>,
    /// An extra sentence about a media fallback (screen share, receive-only), if any.
    pub media_note: RwSignal<Option<String>>,
    /// Whether the room link was just copied (reset when the link changes).
    pub link_copied: RwSignal<bool>,
    /// A call attempt is starting (media or join pending): Call is disabled meanwhile.
    pub starting: RwSignal<bool>,
    /// The text of the room name field.
    pub room_input: RwSignal<String>,
    /// The local stream shown in `localVideo`.
    pub local_stream: RwSignal<Option<MediaStream>, LocalStorage>,
    /// Whether the local picture is a camera image (mirrored) rather than a shared screen.
    pub local_mirrored: RwSignal<bool>,
    /// The other person's stream shown in `remoteVideo`.
    pub remote_stream: RwSignal<Option<MediaStream>, LocalStorage>,
    /// Whether the chat data channel is open.
    pub chat_open: RwSignal<bool>,
    /// The conversation.
    pub chat_log: RwSignal<ChatLog>,
    /// The text being typed in the chat input.
    pub chat_draft: RwSignal<String>,
}

impl ViewModel {
    /// Creates the signals, in the current reactive owner, with the room field prefilled.
    pub fn new(room_input: String) -> ViewModel {
        ViewModel {
            call_state: RwSignal::new(CallState::Idle),
            status: RwSignal::new(Status::Ready),
            media_note: RwSignal::new(None),
            link_copied: RwSignal::new(false),
            starting: RwSignal::new(false),
            room_input: RwSignal::new(room_input),
            local_stream: RwSignal::new_local(None),
            local_mirrored: RwSignal::new(true),
            remote_stream: RwSignal::new_local(None),
            chat_open: RwSignal::new(false),
            chat_log: RwSignal::new(ChatLog::default()),
            chat_draft: RwSignal::new(String::new()),
        }
    }
}
