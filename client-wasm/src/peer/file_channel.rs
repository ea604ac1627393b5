//! The `file` data channel: installs its handlers, sends text and binary messages, reports
//! open, close and incoming messages through a callback, and lets a sender wait for the send
//! buffer to drain (`bufferedAmountLowThreshold` + `bufferedamountlow`). No DOM access; the
//! message format lives in `visavis_client_core::files`, the transfers themselves in
//! `crate::files`.
//!
//! Files get a channel of their own, rather than sharing `chat`, so a large file queued in the
//! send buffer never delays a chat message behind it, and the chat's framing stays text-only.
//! Like `chat` it is ordered and reliable (the defaults), and the Caller creates it before the
//! offer, so both channels ride the offer's single data section and no renegotiation is needed.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{ArrayBuffer, Function, Promise, Uint8Array};
use leptos::logging::warn;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Event, MessageEvent, RtcDataChannel, RtcDataChannelState, RtcDataChannelType};

use crate::browser::js_error;
use visavis_client_core::files::LOW_WATER_BYTES;

/// The label both sides use for the file channel.
pub const FILE_LABEL: &str = "file";

/// What the file channel reports.
#[derive(Debug, Clone)]
pub enum FileEvent {
    /// The channel can carry messages.
    Open,
    /// The channel closed; no more messages.
    Closed,
    /// A text (control) message arrived.
    Text(String),
    /// A binary message (a chunk) arrived; the view covers the whole message.
    Binary(Uint8Array),
}

/// The `resolve` functions of senders waiting for the send buffer to drain.
type Waiters = Rc<RefCell<Vec<Function>>>;

/// Wakes every waiting sender. Each then looks at the channel again: it may have drained, or
/// closed.
fn wake_all(waiters: &Waiters) {
    let woken: Vec<Function> = waiters.borrow_mut().drain(..).collect();
    for resolve in woken {
        let _ = resolve.call0(&JsValue::NULL);
    }
}

/// The channel's handlers, kept next to the channel they are installed on.
struct FileHandlers {
    on_open: Closure<dyn FnMut(Event)>,
    on_close: Closure<dyn FnMut(Event)>,
    on_message: Closure<dyn FnMut(MessageEvent)>,
    on_error: Closure<dyn FnMut(Event)>,
    on_buffered_low: Closure<dyn FnMut(Event)>,
}

impl FileHandlers {
    fn install(&self, channel: &RtcDataChannel) {
        channel.set_onopen(Some(self.on_open.as_ref().unchecked_ref()));
        channel.set_onclose(Some(self.on_close.as_ref().unchecked_ref()));
        channel.set_onmessage(Some(self.on_message.as_ref().unchecked_ref()));
        channel.set_onerror(Some(self.on_error.as_ref().unchecked_ref()));
        channel.set_onbufferedamountlow(Some(self.on_buffered_low.as_ref().unchecked_ref()));
    }

    fn uninstall(channel: &RtcDataChannel) {
        channel.set_onopen(None);
        channel.set_onclose(None);
        channel.set_onmessage(None);
        channel.set_onerror(None);
        channel.set_onbufferedamountlow(None);
    }
}

/// The file data channel and its handlers.
pub struct FileChannel {
    channel: RtcDataChannel,
    handlers: Option<FileHandlers>,
    waiters: Waiters,
}

impl FileChannel {
    /// Takes charge of `channel` (created locally or received through `ondatachannel`) and
    /// reports its events to `on_event`.
    pub fn attach(channel: RtcDataChannel, on_event: Rc<dyn Fn(FileEvent)>) -> FileChannel {
        // ArrayBuffers can be read synchronously; Blobs (the other choice) would need another
        // asynchronous read per chunk.
        channel.set_binary_type(RtcDataChannelType::Arraybuffer);
        channel.set_buffered_amount_low_threshold(LOW_WATER_BYTES);
        let waiters: Waiters = Rc::new(RefCell::new(Vec::new()));

        let report = on_event.clone();
        let on_open = Closure::<dyn FnMut(Event)>::new(move |_: Event| report(FileEvent::Open));
        let report = on_event.clone();
        let closing = waiters.clone();
        let on_close = Closure::<dyn FnMut(Event)>::new(move |_: Event| {
            // No `bufferedamountlow` will come any more: let waiting senders see the close.
            wake_all(&closing);
            report(FileEvent::Closed);
        });
        let report = on_event.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let data = event.data();
            if let Some(text) = data.as_string() {
                report(FileEvent::Text(text));
            } else if let Ok(buffer) = data.dyn_into::<ArrayBuffer>() {
                report(FileEvent::Binary(Uint8Array::new(&buffer)));
            } else {
                warn!("file channel: ignored a message of an unexpected type");
            }
        });
        let on_error = Closure::<dyn FnMut(Event)>::new(move |_: Event| {
            warn!("file channel: the data channel reported an error");
        });
        let draining = waiters.clone();
        let on_buffered_low = Closure::<dyn FnMut(Event)>::new(move |_: Event| {
            wake_all(&draining);
        });
        let handlers = FileHandlers {
            on_open,
            on_close,
            on_message,
            on_error,
            on_buffered_low,
        };
        handlers.install(&channel);
        // A channel received from the other side may already be open, in which case no `open`
        // event follows.
        if channel.ready_state() == RtcDataChannelState::Open {
            on_event(FileEvent::Open);
        }
        FileChannel {
            channel,
            handlers: Some(handlers),
            waiters,
        }
    }

    /// A handle for sending, usable across awaits without borrowing the call.
    pub fn sender(&self) -> FileSender {
        FileSender {
            channel: self.channel.clone(),
            waiters: self.waiters.clone(),
        }
    }

    /// Uninstalls every handler, drops the closures, closes the channel and wakes any waiting
    /// sender (which then finds the channel closed).
    pub fn close(&mut self) {
        let Some(handlers) = self.handlers.take() else {
            return;
        };
        FileHandlers::uninstall(&self.channel);
        drop(handlers);
        self.channel.close();
        wake_all(&self.waiters);
    }
}

impl Drop for FileChannel {
    fn drop(&mut self) {
        self.close();
    }
}

/// The sending side of the file channel. Cheap to clone.
#[derive(Clone)]
pub struct FileSender {
    channel: RtcDataChannel,
    waiters: Waiters,
}

impl FileSender {
    /// Whether messages can be sent now.
    pub fn is_open(&self) -> bool {
        self.channel.ready_state() == RtcDataChannelState::Open
    }

    /// The bytes queued in the channel and not yet sent.
    pub fn buffered_amount(&self) -> u32 {
        self.channel.buffered_amount()
    }

    /// Sends one control message.
    pub fn send_text(&self, text: &str) -> Result<(), String> {
        if !self.is_open() {
            return Err("the file channel is not open".into());
        }
        self.channel
            .send_with_str(text)
            .map_err(|err| js_error::describe(&err))
    }

    /// Sends one binary message (the browser copies the bytes).
    pub fn send_bytes(&self, bytes: &[u8]) -> Result<(), String> {
        if !self.is_open() {
            return Err("the file channel is not open".into());
        }
        self.channel
            .send_with_u8_array(bytes)
            .map_err(|err| js_error::describe(&err))
    }

    /// Resolves once the send buffer has drained to the low-water mark, or the channel has
    /// closed. Only call it while the buffer holds more than the low-water mark (otherwise no
    /// `bufferedamountlow` would follow); it returns at once if the channel is not open.
    pub async fn wait_for_low(&self) {
        if !self.is_open() || self.buffered_amount() <= LOW_WATER_BYTES {
            return;
        }
        let waiters = self.waiters.clone();
        // The event can only fire in a later task, after this registration: no wake-up is lost.
        let promise = Promise::new(&mut |resolve, _reject| waiters.borrow_mut().push(resolve));
        // The promise never rejects.
        let _ = JsFuture::from(promise).await;
    }
}
