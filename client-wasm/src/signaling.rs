//! The signaling channel: one WebSocket to the server's `/ws`, carrying `ClientMessage`s out
//! and `ServerMessage`s in, as JSON text frames. It reports what happens through a callback and
//! knows nothing about the page (no DOM access).

use std::fmt;
use std::rc::Rc;

use leptos::logging::warn;
use visavis_shared::{ClientMessage, ServerMessage};
use wasm_bindgen::prelude::*;
use web_sys::{CloseEvent, Event, MessageEvent, WebSocket};

use crate::browser::js_error;

/// What the socket reports to its owner.
#[derive(Debug, Clone)]
pub enum SignalingEvent {
    /// The socket is open; the server will send `config` next.
    Opened,
    /// A decoded server message. Unknown message types never get here.
    Message(ServerMessage),
    /// The socket closed (or could not open). No more events follow.
    Closed {
        /// The WebSocket close code (1006 when the connection just dropped).
        code: u16,
    },
}

/// Why a message could not be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError(pub String);

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The socket's event handlers. They live exactly as long as they are installed on the socket.
struct SocketHandlers {
    on_open: Closure<dyn FnMut(Event)>,
    on_message: Closure<dyn FnMut(MessageEvent)>,
    on_close: Closure<dyn FnMut(CloseEvent)>,
    on_error: Closure<dyn FnMut(Event)>,
}

impl SocketHandlers {
    fn install(&self, socket: &WebSocket) {
        socket.set_onopen(Some(self.on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(self.on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(self.on_close.as_ref().unchecked_ref()));
        socket.set_onerror(Some(self.on_error.as_ref().unchecked_ref()));
    }

    fn uninstall(socket: &WebSocket) {
        socket.set_onopen(None);
        socket.set_onmessage(None);
        socket.set_onclose(None);
        socket.set_onerror(None);
    }
}

/// An open (or opening) signaling socket.
///
/// The callback given to [`connect`](Signaling::connect) runs inside the socket's event
/// handlers, so it must not drop this `Signaling` synchronously; the controller defers its work
/// to a microtask for that reason.
pub struct Signaling {
    socket: WebSocket,
    handlers: Option<SocketHandlers>,
}

/// The `WebSocket.OPEN` ready state.
const OPEN: u16 = 1;

impl Signaling {
    /// Opens a socket to `url` and starts reporting events to `on_event`.
    pub fn connect(url: &str, on_event: Rc<dyn Fn(SignalingEvent)>) -> Result<Signaling, String> {
        let socket = WebSocket::new(url).map_err(|err| js_error::describe(&err))?;

        let report = on_event.clone();
        let on_open =
            Closure::<dyn FnMut(Event)>::new(move |_: Event| report(SignalingEvent::Opened));

        let report = on_event.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            // The protocol is text only; anything else is not for us.
            let Some(text) = event.data().as_string() else {
                warn!("signaling: ignored a non-text frame");
                return;
            };
            match ServerMessage::from_json(&text) {
                Ok(Some(message)) => report(SignalingEvent::Message(message)),
                // A message type from a newer server: ignore it, as the protocol asks.
                Ok(None) => {}
                Err(err) => warn!("signaling: ignored a malformed server message: {err}"),
            }
        });

        let report = on_event.clone();
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            report(SignalingEvent::Closed { code: event.code() })
        });

        // An error event is always followed by a close event, which is what the owner acts on;
        // the error itself carries no detail worth more than a log line.
        let on_error = Closure::<dyn FnMut(Event)>::new(move |_: Event| {
            warn!("signaling: the WebSocket reported an error");
        });

        let handlers = SocketHandlers {
            on_open,
            on_message,
            on_close,
            on_error,
        };
        handlers.install(&socket);
        Ok(Signaling {
            socket,
            handlers: Some(handlers),
        })
    }

    /// Whether the socket is open and messages can be sent.
    pub fn is_open(&self) -> bool {
        self.handlers.is_some() && self.socket.ready_state() == OPEN
    }

    /// Sends one message as a JSON text frame.
    pub fn send(&self, message: &ClientMessage) -> Result<(), SendError> {
        if !self.is_open() {
            return Err(SendError(format!(
                "cannot send {}: the signaling socket is not open",
                message.kind()
            )));
        }
        self.socket
            .send_with_str(&message.to_json())
            .map_err(|err| {
                SendError(format!(
                    "cannot send {}: {}",
                    message.kind(),
                    js_error::describe(&err)
                ))
            })
    }

    /// Closes the socket: uninstalls every handler, drops the closures, then closes. No event
    /// is reported after this.
    pub fn close(&mut self) {
        let Some(handlers) = self.handlers.take() else {
            return;
        };
        SocketHandlers::uninstall(&self.socket);
        drop(handlers);
        if let Err(err) = self.socket.close() {
            warn!(
                "signaling: closing the socket failed: {}",
                js_error::describe(&err)
            );
        }
    }
}

impl Drop for Signaling {
    fn drop(&mut self) {
        self.close();
    }
}
