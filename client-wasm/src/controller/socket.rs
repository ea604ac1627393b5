//! The signaling socket: opening it, dispatching the server's messages, and losing it.

use std::rc::Rc;

use leptos::logging::warn;
use leptos::prelude::*;
use visavis_shared::{ClientMessage, ServerMessage};
use wasm_bindgen_futures::spawn_local;

use crate::browser;
use crate::signaling::{Signaling, SignalingEvent};
use visavis_client_core::call::Role;
use visavis_client_core::call::Trigger;
use visavis_client_core::link::{self};

use super::Inner;

impl Inner {
    // ----- the signaling socket -------------------------------------------------------------

    /// Makes sure a socket exists (open or opening). Returns false, with the attempt abandoned
    /// and the reason shown, if none could be created.
    pub(super) fn ensure_socket(self: &Rc<Self>) -> bool {
        match self.open_socket() {
            Ok(()) => true,
            Err(err) => {
                warn!("signaling: {err}");
                self.abandon_start(Trigger::ServerUnreachable);
                false
            }
        }
    }

    /// Opens a socket unless one exists (open or opening).
    pub(super) fn open_socket(self: &Rc<Self>) -> Result<(), String> {
        if self.socket.borrow().is_some() {
            return Ok(());
        }
        let (protocol, host) =
            browser::protocol_and_host().ok_or("the page's address cannot be read")?;
        let generation = self.socket_generation.get() + 1;
        self.socket_generation.set(generation);
        self.socket_opened.set(false);
        *self.ice_servers.borrow_mut() = None;
        let url = link::websocket_url(&protocol, &host);
        let socket = Signaling::connect(&url, self.signaling_callback(generation))
            .map_err(|err| format!("could not open {url}: {err}"))?;
        *self.socket.borrow_mut() = Some(socket);
        Ok(())
    }

    /// The socket's callback: defers each event to a microtask and drops events of old
    /// sockets.
    pub(super) fn signaling_callback(
        self: &Rc<Self>,
        generation: u64,
    ) -> Rc<dyn Fn(SignalingEvent)> {
        let weak = Rc::downgrade(self);
        Rc::new(move |event| {
            let weak = weak.clone();
            spawn_local(async move {
                if let Some(inner) = weak.upgrade() {
                    if inner.socket_generation.get() == generation {
                        inner.on_signaling(event);
                    }
                }
            });
        })
    }

    pub(super) fn on_signaling(self: &Rc<Self>, event: SignalingEvent) {
        match event {
            // Nothing to do yet: the server sends `config` first, and the join waits for it.
            SignalingEvent::Opened => {
                crate::browser::timeline::mark("socket-open");
                self.socket_opened.set(true);
            }
            SignalingEvent::Message(message) => {
                crate::browser::timeline::mark(&format!("recv:{}", message.kind()));
                self.on_server_message(message);
            }
            SignalingEvent::Closed { code } => self.on_socket_closed(code),
        }
    }

    pub(super) fn on_server_message(self: &Rc<Self>, message: ServerMessage) {
        match message {
            ServerMessage::Config {
                ice_servers,
                max_file_bytes,
            } => {
                self.transfers.set_limit(max_file_bytes);
                // The first `config` lets the join go; later ones carry renewed TURN
                // credentials, which a live call needs for any later relay allocation.
                self.refresh_call_servers(&ice_servers);
                *self.ice_servers.borrow_mut() = Some(ice_servers);
                self.try_join();
                self.try_rejoin();
            }
            ServerMessage::Created { room, seat } => self.admitted(room, Role::Caller, seat),
            ServerMessage::Joined { room, seat } => self.admitted(room, Role::Callee, seat),
            ServerMessage::Full { .. } => self.refused_full(),
            ServerMessage::NewPeer { seat, .. } => self.peer_arrived(seat),
            ServerMessage::Invite { sdp } => self.offer_received(sdp),
            ServerMessage::Ok { sdp } => self.answer_received(sdp),
            ServerMessage::IceCandidate { candidate } => self.remote_candidate(candidate),
            ServerMessage::Bye { .. } => self.peer_left(),
            ServerMessage::Rejoined {
                seat, peer_present, ..
            } => self.rejoined(seat, peer_present),
            ServerMessage::PeerReconnecting { .. } => self.peer_reconnecting(),
            ServerMessage::PeerReconnected { .. } => self.peer_reconnected(),
            ServerMessage::Error { code, message } => self.server_error(code, message),
        }
    }

    pub(super) fn on_socket_closed(self: &Rc<Self>, code: u16) {
        warn!("signaling: the socket closed (code {code})");
        let opened = self.socket_opened.get();
        *self.socket.borrow_mut() = None;
        *self.ice_servers.borrow_mut() = None;
        let (in_room, has_seat, pending) = {
            let session = self.session.borrow();
            (
                session.room.is_some(),
                session.seat.is_some(),
                session.wanted.is_some() || session.joining.is_some(),
            )
        };
        if in_room && has_seat {
            // The server holds our seat for a while: keep the call, and take the seat back.
            self.socket_lost();
        } else if in_room {
            // The server has already told the other person we left.
            self.apply(Trigger::ServerLost);
            self.teardown();
        } else if pending || self.vm.starting.get_untracked() {
            self.abandon_start(if opened {
                Trigger::ServerLost
            } else {
                Trigger::ServerUnreachable
            });
        }
        // An idle page just reconnects at the next Call.
    }

    /// Sends a message, logging (not showing) a failure: the socket's close event, which
    /// follows any real failure, is what the page reacts to.
    pub(super) fn send(&self, message: &ClientMessage) {
        let socket = self.socket.borrow();
        let result = match socket.as_ref() {
            Some(socket) => socket.send(message).map_err(|err| err.to_string()),
            None => Err(format!(
                "cannot send {}: no signaling socket",
                message.kind()
            )),
        };
        match result {
            Ok(()) => crate::browser::timeline::mark(&format!("sent:{}", message.kind())),
            Err(err) => warn!("signaling: {err}"),
        }
    }
}
