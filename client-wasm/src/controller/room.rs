//! Taking a seat in a room, being refused one, and the other person leaving.

use std::rc::Rc;

use leptos::logging::warn;
use leptos::prelude::*;
use visavis_shared::{ClientMessage, ErrorCode, RoomName};

use crate::browser;
use crate::media::{self, facing, LocalMedia};
use crate::signaling::Signaling;
use visavis_client_core::call::Role;
use visavis_client_core::call::Trigger;
use visavis_client_core::devices::{self, AudioChoice};
use visavis_client_core::link::{self};

use super::Inner;

impl Inner {
    // ----- joining a room -------------------------------------------------------------------

    pub(super) fn media_ready(self: &Rc<Self>, room: RoomName, media: LocalMedia) {
        crate::browser::timeline::mark("media");
        self.adopt_media(media);
        self.watch_visibility();
        self.session.borrow_mut().wanted = Some(room);
        self.apply(Trigger::Joining);
        if self.ensure_socket() {
            self.try_join();
        }
    }

    /// Makes `media` the call's local media and shows it.
    pub(super) fn adopt_media(self: &Rc<Self>, media: LocalMedia) {
        let vm = self.vm;
        vm.local_stream.set(media.stream.clone());
        vm.local_mirrored.set(devices::preview_mirrored(
            media.source,
            facing::facing_of(media.stream.as_ref()),
        ));
        vm.media_note.set(media.source.note().map(str::to_owned));
        let has = |kind: &str| {
            media
                .stream
                .as_ref()
                .is_some_and(|stream| !media::tracks_of(stream, kind).is_empty())
        };
        vm.has_audio.set(has("audio"));
        vm.has_video.set(has("video"));
        // A screen shared because the camera failed cannot be swapped for another screen.
        vm.can_share
            .set(has("video") && media.source == media::MediaSource::Camera);
        vm.mic_on.set(true);
        vm.camera_on.set(true);
        *self.media.borrow_mut() = Some(media);
        self.offer_flip();
        // A microphone opened together with the camera only prefers the chosen processing;
        // a choice other than the default is made sure of on the live track.
        let audio = media::audio_processing::choice();
        if audio != AudioChoice::default() {
            self.set_audio_choice(audio);
        }
    }

    /// Sends the pending `join` once the socket is open and `config` has arrived.
    pub(super) fn try_join(self: &Rc<Self>) {
        let open = self
            .socket
            .borrow()
            .as_ref()
            .is_some_and(Signaling::is_open);
        if !open || self.ice_servers.borrow().is_none() {
            return;
        }
        let Some(room) = self.session.borrow_mut().wanted.take() else {
            return;
        };
        self.send(&ClientMessage::Join { room: room.clone() });
        self.session.borrow_mut().joining = Some(room);
        // While the server answers: whoever we turn out to be, we will need it.
        self.prepare_call(None);
    }

    pub(super) fn admitted(self: &Rc<Self>, room: RoomName, role: Role, seat: Option<String>) {
        let expected = self.session.borrow_mut().joining.take();
        if expected.is_none() {
            warn!("signaling: ignored an admission we did not ask for");
            return;
        }
        {
            let mut session = self.session.borrow_mut();
            session.room = Some(room.clone());
            session.role = Some(role);
            session.seat = seat;
            session.server_up = true;
            // The Callee joins someone who is already there.
            session.paired = role == Role::Callee;
        }
        self.save_seat();
        self.vm.starting.set(false);
        // The query is kept so that `?ice=relay` still applies after a reload of the room page.
        let path = link::with_query(&link::room_path(&room), &browser::search());
        if let Err(err) = browser::replace_path(&path) {
            warn!("could not update the address bar: {err}");
        }
        match role {
            Role::Caller => {
                self.apply(Trigger::Created {
                    link: link::room_link(&browser::origin(), &room),
                });
                self.seated_as(Role::Caller);
            }
            Role::Callee => {
                // The other person is already here: set-up starts now.
                self.setup_started.set(Some(browser::monotonic_ms()));
                self.apply(Trigger::Joined);
                // The Caller opens the negotiation; we answer its offer.
                self.seated_as(Role::Callee);
            }
        }
    }

    pub(super) fn refused_full(self: &Rc<Self>) {
        if self.session.borrow_mut().joining.take().is_none() {
            return;
        }
        self.apply(Trigger::Full);
        self.teardown();
    }

    pub(super) fn server_error(self: &Rc<Self>, code: ErrorCode, message: String) {
        warn!("signaling: the server refused a message: {code}: {message}");
        if self.session.borrow().rejoining {
            // Our seat could not be taken back: the call is over for the server, and the other
            // person has been (or will be) told so.
            self.session.borrow_mut().rejoining = false;
            self.apply(Trigger::CallFailed(
                visavis_client_core::call::describe_error(code, &message),
            ));
            self.teardown();
            return;
        }
        let was_joining = self.session.borrow().joining.is_some();
        self.apply(Trigger::ServerError { code, message });
        if was_joining {
            self.teardown();
            if code == ErrorCode::AlreadyInRoom {
                // The server holds a seat we do not know about; a fresh socket frees it.
                self.drop_socket();
            }
        }
    }

    pub(super) fn drop_socket(&self) {
        let socket = self.socket.borrow_mut().take();
        drop(socket);
        *self.ice_servers.borrow_mut() = None;
    }

    /// Abandons an attempt that never reached a room, showing why.
    pub(super) fn abandon_start(self: &Rc<Self>, why: Trigger) {
        self.apply(why);
        self.teardown();
    }

    pub(super) fn peer_left(self: &Rc<Self>) {
        if self.session.borrow().room.is_none() {
            return;
        }
        self.apply(Trigger::PeerLeft);
        // Answer with our own bye: it takes us out of the room on the server.
        self.leave_room();
    }
}
