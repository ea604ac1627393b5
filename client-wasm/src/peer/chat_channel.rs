//! The `chat` data channel: installs its handlers, sends text, and reports open, close and
//! incoming text through a callback. No DOM access; the message format lives in `visavis_client_core::chat`.

use std::rc::Rc;

use leptos::logging::warn;
use wasm_bindgen::prelude::*;
use web_sys::{Event, MessageEvent, RtcDataChannel, RtcDataChannelState};

use crate::browser::js_error;

/// The label both sides use for the chat channel.
pub const CHAT_LABEL: &str = "chat";

/// What the channel reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelEvent {
    /// The channel can carry messages.
    Open,
    /// The channel closed; no more messages.
    Closed,
    /// A text message arrived (binary messages are ignored).
    Text(String),
}

/// The channel's handlers, kept next to the channel they are installed on.
struct ChannelHandlers {
    on_open: Closure<dyn FnMut(Event)>,
    on_close: Closure<dyn FnMut(Event)>,
    on_message: Closure<dyn FnMut(MessageEvent)>,
    on_error: Closure<dyn FnMut(Event)>,
}

impl ChannelHandlers {
    fn install(&self, channel: &RtcDataChannel) {
        channel.set_onopen(Some(self.on_open.as_ref().unchecked_ref()));
        channel.set_onclose(Some(self.on_close.as_ref().unchecked_ref()));
        channel.set_onmessage(Some(self.on_message.as_ref().unchecked_ref()));
        channel.set_onerror(Some(self.on_error.as_ref().unchecked_ref()));
    }

    fn uninstall(channel: &RtcDataChannel) {
        channel.set_onopen(None);
        channel.set_onclose(None);
        channel.set_onmessage(None);
        channel.set_onerror(None);
    }
}

/// The chat data channel and its handlers.
pub struct ChatChannel {
    channel: RtcDataChannel,
    handlers: Option<ChannelHandlers>,
}

impl ChatChannel {
    /// Takes charge of `channel` (created locally or received through `ondatachannel`) and
    /// reports its events to `on_event`.
    pub fn attach(channel: RtcDataChannel, on_event: Rc<dyn Fn(ChannelEvent)>) -> ChatChannel {
        let report = on_event.clone();
        let on_open = Closure::<dyn FnMut(Event)>::new(move |_: Event| report(ChannelEvent::Open));
        let report = on_event.clone();
        let on_close =
            Closure::<dyn FnMut(Event)>::new(move |_: Event| report(ChannelEvent::Closed));
        let report = on_event.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            match event.data().as_string() {
                Some(text) => report(ChannelEvent::Text(text)),
                None => warn!("chat channel: ignored a binary message"),
            }
        });
        let on_error = Closure::<dyn FnMut(Event)>::new(move |_: Event| {
            warn!("chat channel: the data channel reported an error");
        });
        let handlers = ChannelHandlers {
            on_open,
            on_close,
            on_message,
            on_error,
        };
        handlers.install(&channel);
        // A channel received from the other side may already be open, in which case no `open`
        // event follows; report it now so the chat input is enabled either way.
        if channel.ready_state() == RtcDataChannelState::Open {
            on_event(ChannelEvent::Open);
        }
        ChatChannel {
            channel,
            handlers: Some(handlers),
        }
    }

    /// Whether messages can be sent now.
    pub fn is_open(&self) -> bool {
        self.handlers.is_some() && self.channel.ready_state() == RtcDataChannelState::Open
    }

    /// Sends one text message.
    pub fn send(&self, text: &str) -> Result<(), String> {
        if !self.is_open() {
            return Err("the chat channel is not open".into());
        }
        self.channel
            .send_with_str(text)
            .map_err(|err| js_error::describe(&err))
    }

    /// Uninstalls every handler, drops the closures and closes the channel.
    pub fn close(&mut self) {
        let Some(handlers) = self.handlers.take() else {
            return;
        };
        ChannelHandlers::uninstall(&self.channel);
        drop(handlers);
        self.channel.close();
    }
}

impl Drop for ChatChannel {
    fn drop(&mut self) {
        self.close();
    }
}
