//! The controller: owns the signaling socket, the call and the local media, reacts to their
//! events and to the person's clicks, and writes the view model. It does not touch the DOM;
//! window-level services go through `browser.rs`.
//!
//! Besides the call itself it runs the connectivity diagnosis of each attempt (ending a
//! relay-only attempt that cannot get a relay, explaining a failure that a TURN server would
//! probably have avoided), hands renewed TURN credentials to the live call, and sends one call
//! report per call once it connects.
//!
//! The in-call controls live here too: muting the microphone and turning the camera off
//! (`enabled` on the local tracks, told to the other side with a `media_state` frame on the chat
//! channel), and sharing the screen by replacing the camera track on the video sender, back to
//! the camera on a second press or when the browser ends the share.
//!
//! File transfers run in `transfers.rs`; the controller hands them the file channel's events,
//! the person's files and Cancel clicks, the server's size limit, and ends them with the call.
//!
//! Event handling is deferred to a microtask (`spawn_local`), never run inside the browser's
//! event handler itself. That way no handler ever drops the closure that is running it (a
//! `bye` tears down the call, a `close` drops the socket), and no `RefCell` borrow is held
//! when another event comes in.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;

use leptos::logging::warn;
use leptos::prelude::*;
use visavis_shared::{ClientMessage, ErrorCode, IceCandidate, IceServer, RoomName, ServerMessage};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;
use web_sys::{Event, MediaStream, MediaStreamTrack, MediaStreamTrackState};

use crate::browser;
use crate::call::{self, Call, Negotiator, PeerEvent, Role};
use crate::chat::{self, Author, ChatLine, ChatLog, Frame};
use crate::controls::{self, Shortcut};
use crate::datachannel::ChannelEvent;
use crate::diagnosis::{CandidateType, IceErrorReport, IceWatch};
use crate::file_channel::FileEvent;
use crate::link::{self, IcePolicy};
use crate::media::{self, LocalMedia};
use crate::model::ViewModel;
use crate::signaling::{Signaling, SignalingEvent};
use crate::state::{transition, LinkState, Trigger};
use crate::stats;
use crate::transfers::{TransferKey, Transfers};

/// The longest message id accepted from the other side; longer ones are cut.
const MAX_MESSAGE_ID_CHARS: usize = 64;

/// How long a relay-only attempt may go without a relay candidate before it is given up. A
/// reachable TURN server answers within a second or two; an unreachable one can keep the
/// browser gathering for much longer, and the person should not wait for that.
const RELAY_GRACE_MS: i32 = 15_000;

/// How long a new call may take to connect before it counts as failed: a backstop for browsers
/// that stay `connecting` without ever saying `failed` (seen when the other side gathered no
/// usable candidate). Working connections take a few seconds, even through a relay.
const CONNECT_LIMIT_MS: i32 = 30_000;

/// How many times, and how far apart, the stats are read for the media path: right after
/// `connected` some browsers have not filled in the selected candidate pair yet.
const PATH_TRIES: u32 = 10;
const PATH_RETRY_MS: i32 = 500;

/// A screen being shared in place of the camera, with the handler that notices when the
/// browser's own "stop sharing" ends it.
struct ScreenShare {
    track: MediaStreamTrack,
    on_ended: Option<Closure<dyn FnMut(Event)>>,
}

impl ScreenShare {
    /// Uninstalls the handler, drops it and stops the screen capture.
    fn stop(&mut self) {
        if let Some(handler) = self.on_ended.take() {
            self.track.set_onended(None);
            drop(handler);
        }
        self.track.stop();
    }
}

impl Drop for ScreenShare {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Where we are with the server's room, apart from the call itself.
#[derive(Debug, Default)]
struct Session {
    /// The room to join as soon as the socket is open and `config` has arrived.
    wanted: Option<RoomName>,
    /// The room a `join` was sent for, not yet answered.
    joining: Option<RoomName>,
    /// The room we have a seat in.
    room: Option<RoomName>,
    /// Our side of the call, once admitted.
    role: Option<Role>,
}

struct Inner {
    vm: ViewModel,
    socket: RefCell<Option<Signaling>>,
    /// Bumped for each new socket, so events of an old socket are ignored.
    socket_generation: Cell<u64>,
    /// Whether the current socket ever opened (to tell "unreachable" from "lost").
    socket_opened: Cell<bool>,
    /// The ICE servers from the current socket's `config`; `None` until it arrives.
    ice_servers: RefCell<Option<Vec<IceServer>>>,
    session: RefCell<Session>,
    call: RefCell<Option<Call>>,
    media: RefCell<Option<LocalMedia>>,
    /// Bumped for each call attempt and each teardown, so late results of an abandoned
    /// attempt (media, offer, answer, peer events) are ignored.
    attempt: Cell<u64>,
    /// Numbers chat messages when the random generator is unavailable.
    chat_counter: Cell<u64>,
    /// The page's ICE policy (`?ice=relay`), fixed for the page's life.
    policy: IcePolicy,
    /// What the current call has learnt about ICE.
    ice_watch: RefCell<IceWatch>,
    /// When the current call's set-up started (monotonic ms), for the call report's
    /// `setup_ms`: the moment this side learnt that both people are in the room (`joined` for
    /// the Callee, `new_peer` for the Caller), until the connection first became `connected`.
    /// Not from the Call click or `created`: those would count the camera permission prompt
    /// and the time spent waiting alone for the other person, which are not set-up time.
    setup_started: Cell<Option<f64>>,
    /// Whether the current call's report was started, so it is sent once per call.
    reported: Cell<bool>,
    /// The file transfers of the current call.
    transfers: Rc<Transfers>,
    /// The screen being shared, if any.
    screen: RefCell<Option<ScreenShare>>,
    /// A switch between camera and screen is under way (further presses are ignored).
    switching: Cell<bool>,
    /// Bumped for each screen share, so a late `ended` of an earlier one is ignored.
    share_generation: Cell<u64>,
}

/// The page's single controller. Cheap to clone: clones share the same state.
#[derive(Clone)]
pub struct Controller {
    inner: Rc<Inner>,
}

/// What the room name field starts with: the room of a `/r/<room>` address, or else a fresh
/// unguessable name.
pub fn initial_room_input() -> String {
    if let Some(room) = link::room_from_path(&browser::path()) {
        return room.to_string();
    }
    match browser::random_bytes::<16>() {
        Some(bytes) => RoomName::from_random_bytes(bytes).to_string(),
        // Without a secure random generator, no name is better than a guessable one.
        None => String::new(),
    }
}

impl Controller {
    /// Creates the controller; it writes to `vm`.
    pub fn new(vm: ViewModel) -> Controller {
        Controller {
            inner: Rc::new(Inner {
                vm,
                socket: RefCell::new(None),
                socket_generation: Cell::new(0),
                socket_opened: Cell::new(false),
                ice_servers: RefCell::new(None),
                session: RefCell::new(Session::default()),
                call: RefCell::new(None),
                media: RefCell::new(None),
                attempt: Cell::new(0),
                chat_counter: Cell::new(0),
                policy: link::ice_policy(&browser::search()),
                ice_watch: RefCell::new(IceWatch::default()),
                setup_started: Cell::new(None),
                reported: Cell::new(false),
                transfers: Transfers::new(vm.transfers),
                screen: RefCell::new(None),
                switching: Cell::new(false),
                share_generation: Cell::new(0),
            }),
        }
    }

    /// The person pressed Call.
    pub fn start_call(&self) {
        self.inner.start_call();
    }

    /// The person pressed Hang up.
    pub fn hang_up(&self) {
        self.inner.hang_up();
    }

    /// The person pressed Mute / Unmute.
    pub fn toggle_mic(&self) {
        self.inner.toggle_mic();
    }

    /// The person pressed Stop video / Start video.
    pub fn toggle_camera(&self) {
        self.inner.toggle_camera();
    }

    /// The person pressed Share screen / Stop sharing.
    pub fn toggle_screen(&self) {
        self.inner.toggle_screen();
    }

    /// The person pressed a keyboard shortcut (only acted on in a room).
    pub fn shortcut(&self, shortcut: Shortcut) {
        if !self.inner.vm.call_state.get_untracked().in_room() {
            return;
        }
        match shortcut {
            Shortcut::Mute => self.toggle_mic(),
            Shortcut::Video => self.toggle_camera(),
            Shortcut::Screen => self.toggle_screen(),
            Shortcut::HangUp => self.hang_up(),
        }
    }

    /// The person sent the chat draft.
    pub fn send_chat(&self) {
        self.inner.send_chat();
    }

    /// The person picked or dropped files to send.
    pub fn send_files(&self, files: Vec<web_sys::File>) {
        for file in files {
            if let Err(text) = self.inner.transfers.send_file(file) {
                self.inner.apply(Trigger::LocalError(text));
            }
        }
    }

    /// The person pressed Cancel on a transfer.
    pub fn cancel_transfer(&self, key: TransferKey) {
        self.inner.transfers.cancel(key);
    }

    /// The page's ICE policy, for the page to say when relaying is forced.
    pub fn ice_policy(&self) -> IcePolicy {
        self.inner.policy
    }

    /// The person pressed Copy link.
    pub fn copy_link(&self) {
        let vm = self.inner.vm;
        let Some(link) = vm.status.with_untracked(|s| s.link().map(str::to_owned)) else {
            return;
        };
        spawn_local(async move {
            match browser::copy_to_clipboard(&link).await {
                Ok(()) => vm.link_copied.set(true),
                Err(err) => warn!("could not copy the link: {err}"),
            }
        });
    }
}

impl Inner {
    // ----- the person's actions -------------------------------------------------------------

    fn start_call(self: &Rc<Self>) {
        let vm = self.vm;
        if vm.starting.get_untracked() || !vm.call_state.get_untracked().can_start() {
            return;
        }
        let Some(room) = RoomName::from_user_input(&vm.room_input.get_untracked()) else {
            self.apply(Trigger::InvalidRoomName);
            return;
        };
        // Show the name exactly as it will be used.
        vm.room_input.set(room.to_string());
        self.teardown();
        let attempt = self.attempt.get();
        vm.starting.set(true);
        vm.chat_log.update(ChatLog::clear);
        self.apply(Trigger::Starting);

        // The socket opens while the camera does; the join waits for both.
        if !self.ensure_socket() {
            return;
        }
        let weak = Rc::downgrade(self);
        spawn_local(async move {
            let media = media::open().await;
            match weak.upgrade() {
                Some(inner) if inner.attempt.get() == attempt => inner.media_ready(room, media),
                // The attempt was abandoned meanwhile: give the camera back at once.
                _ => media.stop(),
            }
        });
    }

    fn hang_up(self: &Rc<Self>) {
        if self.session.borrow().room.is_none() {
            return;
        }
        self.apply(Trigger::HungUp);
        self.leave_room();
    }

    /// The camera-and-microphone stream of the current call, if any.
    fn camera_stream(&self) -> Option<MediaStream> {
        self.media.borrow().as_ref().and_then(|m| m.stream.clone())
    }

    fn toggle_mic(&self) {
        let vm = self.vm;
        if !vm.has_audio.get_untracked() {
            return;
        }
        let on = !vm.mic_on.get_untracked();
        vm.mic_on.set(on);
        if let Some(stream) = self.camera_stream() {
            media::set_enabled(&stream, "audio", on);
        }
        self.send_media_state();
    }

    fn toggle_camera(&self) {
        let vm = self.vm;
        if !vm.has_video.get_untracked() {
            return;
        }
        let on = !vm.camera_on.get_untracked();
        vm.camera_on.set(on);
        if let Some(stream) = self.camera_stream() {
            media::set_enabled(&stream, "video", on);
        }
        // "Stop video" while sharing stops the pictures the other side gets: the screen's.
        if let Some(share) = self.screen.borrow().as_ref() {
            share.track.set_enabled(on);
        }
        self.send_media_state();
    }

    /// Tells the other side whether our microphone and camera are on, if the chat channel is
    /// open (it is told again when the channel opens).
    fn send_media_state(&self) {
        let vm = self.vm;
        if !vm.chat_open.get_untracked() {
            return;
        }
        let sent = controls::sent_media(
            vm.has_audio.get_untracked(),
            vm.mic_on.get_untracked(),
            vm.has_video.get_untracked(),
            vm.camera_on.get_untracked(),
        );
        let frame = Frame::MediaState {
            audio: sent.audio,
            video: sent.video,
        };
        if let Some(call) = self.call.borrow().as_ref() {
            if let Err(err) = call.send_chat(&frame.to_json()) {
                warn!("controls: could not send the media state: {err}");
            }
        }
    }

    fn toggle_screen(self: &Rc<Self>) {
        if self.switching.get() {
            return;
        }
        if self.screen.borrow().is_some() {
            self.stop_sharing();
        } else {
            self.start_sharing();
        }
    }

    /// Asks for the screen and, once given, sends it in place of the camera.
    fn start_sharing(self: &Rc<Self>) {
        let vm = self.vm;
        if !vm.can_share.get_untracked() || self.call.borrow().is_none() {
            return;
        }
        self.switching.set(true);
        let weak = Rc::downgrade(self);
        let attempt = self.attempt.get();
        spawn_local(async move {
            let opened = media::open_screen().await;
            let current = weak
                .upgrade()
                .filter(|inner| inner.attempt.get() == attempt);
            let Some(inner) = current else {
                if let Ok(stream) = &opened {
                    media::stop_tracks(stream);
                }
                return;
            };
            let stream = match opened {
                Ok(stream) => stream,
                Err(err) => {
                    inner.switching.set(false);
                    warn!("controls: the screen could not be shared: {err}");
                    inner.apply(Trigger::LocalError(
                        "Your screen could not be shared (cancelled or refused).".into(),
                    ));
                    return;
                }
            };
            let track = media::tracks_of(&stream, "video").into_iter().next();
            let sender = inner.call.borrow().as_ref().and_then(Call::video_sender);
            let (Some(track), Some(sender)) = (track, sender) else {
                media::stop_tracks(&stream);
                inner.switching.set(false);
                warn!("controls: no screen track or no video sender");
                return;
            };
            track.set_enabled(vm.camera_on.get_untracked());
            let replaced = call::replace_track(&sender, &track).await;
            if inner.attempt.get() != attempt {
                track.stop();
                return;
            }
            if let Err(err) = replaced {
                track.stop();
                inner.switching.set(false);
                warn!("controls: {err}");
                inner.apply(Trigger::LocalError(
                    "Your screen could not be shared.".into(),
                ));
                return;
            }
            inner.screen_started(track);
        });
    }

    /// The screen is being sent: shows it (un-mirrored, with our microphone, so the local
    /// stream still holds every track we send) and watches for the browser ending it.
    fn screen_started(self: &Rc<Self>, track: MediaStreamTrack) {
        let vm = self.vm;
        let generation = self.share_generation.get() + 1;
        self.share_generation.set(generation);
        let weak = Rc::downgrade(self);
        let attempt = self.attempt.get();
        let on_ended = Closure::<dyn FnMut(Event)>::new(move |_: Event| {
            let weak = weak.clone();
            spawn_local(async move {
                if let Some(inner) = weak.upgrade() {
                    if inner.attempt.get() == attempt && inner.share_generation.get() == generation
                    {
                        inner.stop_sharing();
                    }
                }
            });
        });
        track.set_onended(Some(on_ended.as_ref().unchecked_ref()));
        match MediaStream::new() {
            Ok(preview) => {
                preview.add_track(&track);
                if let Some(camera) = self.camera_stream() {
                    for audio in media::tracks_of(&camera, "audio") {
                        preview.add_track(&audio);
                    }
                }
                vm.local_stream.set(Some(preview));
            }
            Err(err) => warn!("controls: could not show the screen: {err:?}"),
        }
        vm.local_mirrored.set(false);
        vm.sharing.set(true);
        *self.screen.borrow_mut() = Some(ScreenShare {
            track,
            on_ended: Some(on_ended),
        });
        self.switching.set(false);
    }

    /// Stops the screen share and sends the camera again (reopening it if its track ended).
    fn stop_sharing(self: &Rc<Self>) {
        let share = self.screen.borrow_mut().take();
        let Some(mut share) = share else {
            return;
        };
        share.stop();
        drop(share);
        let vm = self.vm;
        vm.sharing.set(false);
        let camera = self.camera_stream();
        let mirrored = self
            .media
            .borrow()
            .as_ref()
            .is_some_and(|m| m.source.is_mirrored());
        vm.local_stream.set(camera.clone());
        vm.local_mirrored.set(mirrored);
        let Some(camera) = camera else {
            return;
        };
        let live = media::tracks_of(&camera, "video")
            .into_iter()
            .find(|track| track.ready_state() == MediaStreamTrackState::Live);
        self.switching.set(true);
        let weak = Rc::downgrade(self);
        let attempt = self.attempt.get();
        spawn_local(async move {
            let (track, fresh) = match live {
                Some(track) => (track, false),
                None => match media::reopen_camera().await {
                    Ok(stream) => match media::tracks_of(&stream, "video").into_iter().next() {
                        Some(track) => (track, true),
                        None => {
                            media::stop_tracks(&stream);
                            warn!("controls: the reopened camera has no video track");
                            if let Some(inner) = weak.upgrade() {
                                inner.switching.set(false);
                            }
                            return;
                        }
                    },
                    Err(err) => {
                        warn!("controls: the camera could not be reopened: {err}");
                        if let Some(inner) = weak.upgrade() {
                            inner.switching.set(false);
                        }
                        return;
                    }
                },
            };
            let current = weak
                .upgrade()
                .filter(|inner| inner.attempt.get() == attempt);
            let Some(inner) = current else {
                if fresh {
                    track.stop();
                }
                return;
            };
            if fresh {
                for old in media::tracks_of(&camera, "video") {
                    camera.remove_track(&old);
                }
                camera.add_track(&track);
            }
            track.set_enabled(vm.camera_on.get_untracked());
            let sender = inner.call.borrow().as_ref().and_then(Call::video_sender);
            if let Some(sender) = sender {
                if let Err(err) = call::replace_track(&sender, &track).await {
                    warn!("controls: {err}");
                }
            }
            if let Some(inner) = weak.upgrade() {
                if inner.attempt.get() == attempt {
                    inner.switching.set(false);
                    inner.send_media_state();
                }
            }
        });
    }

    fn send_chat(&self) {
        let vm = self.vm;
        let Some(text) = chat::prepare_outgoing(&vm.chat_draft.get_untracked()) else {
            return;
        };
        let id = self.next_message_id();
        let sent_at_ms = browser::now_ms();
        let frame = Frame::Chat {
            id: id.clone(),
            text: text.clone(),
            sent_at_ms,
        };
        let sent = match self.call.borrow().as_ref() {
            Some(call) => call.send_chat(&frame.to_json()),
            None => Err("there is no call".into()),
        };
        match sent {
            Ok(()) => {
                vm.chat_log.update(|log| {
                    log.push(ChatLine {
                        author: Author::You,
                        id,
                        text,
                        time: local_clock_time(sent_at_ms),
                    });
                });
                vm.chat_draft.set(String::new());
            }
            Err(err) => {
                warn!("chat: could not send: {err}");
                // The draft is kept so the person can try again.
                self.apply(Trigger::LocalError(
                    "Your message could not be sent.".into(),
                ));
            }
        }
    }

    fn next_message_id(&self) -> String {
        match browser::random_bytes::<8>() {
            Some(bytes) => chat::message_id(&bytes),
            None => {
                let n = self.chat_counter.get() + 1;
                self.chat_counter.set(n);
                format!("n{n}")
            }
        }
    }

    // ----- the signaling socket -------------------------------------------------------------

    /// Makes sure a socket exists (open or opening). Returns false, with the attempt abandoned
    /// and the reason shown, if none could be created.
    fn ensure_socket(self: &Rc<Self>) -> bool {
        if self.socket.borrow().is_some() {
            return true;
        }
        let Some((protocol, host)) = browser::protocol_and_host() else {
            self.abandon_start(Trigger::ServerUnreachable);
            return false;
        };
        let generation = self.socket_generation.get() + 1;
        self.socket_generation.set(generation);
        self.socket_opened.set(false);
        *self.ice_servers.borrow_mut() = None;
        let url = link::websocket_url(&protocol, &host);
        match Signaling::connect(&url, self.signaling_callback(generation)) {
            Ok(socket) => {
                *self.socket.borrow_mut() = Some(socket);
                true
            }
            Err(err) => {
                warn!("signaling: could not open {url}: {err}");
                self.abandon_start(Trigger::ServerUnreachable);
                false
            }
        }
    }

    /// The socket's callback: defers each event to a microtask and drops events of old
    /// sockets.
    fn signaling_callback(self: &Rc<Self>, generation: u64) -> Rc<dyn Fn(SignalingEvent)> {
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

    fn on_signaling(self: &Rc<Self>, event: SignalingEvent) {
        match event {
            // Nothing to do yet: the server sends `config` first, and the join waits for it.
            SignalingEvent::Opened => self.socket_opened.set(true),
            SignalingEvent::Message(message) => self.on_server_message(message),
            SignalingEvent::Closed { code } => self.on_socket_closed(code),
        }
    }

    fn on_server_message(self: &Rc<Self>, message: ServerMessage) {
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
            }
            ServerMessage::Created { room } => self.admitted(room, Role::Caller),
            ServerMessage::Joined { room } => self.admitted(room, Role::Callee),
            ServerMessage::Full { .. } => self.refused_full(),
            ServerMessage::NewPeer { .. } => self.peer_arrived(),
            ServerMessage::Invite { sdp } => self.offer_received(sdp),
            ServerMessage::Ok { sdp } => self.answer_received(sdp),
            ServerMessage::IceCandidate { candidate } => self.remote_candidate(candidate),
            ServerMessage::Bye { .. } => self.peer_left(),
            ServerMessage::Error { code, message } => self.server_error(code, message),
        }
    }

    fn on_socket_closed(self: &Rc<Self>, code: u16) {
        warn!("signaling: the socket closed (code {code})");
        let opened = self.socket_opened.get();
        *self.socket.borrow_mut() = None;
        *self.ice_servers.borrow_mut() = None;
        let (in_room, pending) = {
            let session = self.session.borrow();
            (
                session.room.is_some(),
                session.wanted.is_some() || session.joining.is_some(),
            )
        };
        if in_room {
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
    fn send(&self, message: &ClientMessage) {
        let socket = self.socket.borrow();
        let result = match socket.as_ref() {
            Some(socket) => socket.send(message).map_err(|err| err.to_string()),
            None => Err(format!(
                "cannot send {}: no signaling socket",
                message.kind()
            )),
        };
        if let Err(err) = result {
            warn!("signaling: {err}");
        }
    }

    // ----- joining a room -------------------------------------------------------------------

    fn media_ready(self: &Rc<Self>, room: RoomName, media: LocalMedia) {
        let vm = self.vm;
        vm.local_stream.set(media.stream.clone());
        vm.local_mirrored.set(media.source.is_mirrored());
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
        self.session.borrow_mut().wanted = Some(room);
        self.apply(Trigger::Joining);
        if self.ensure_socket() {
            self.try_join();
        }
    }

    /// Sends the pending `join` once the socket is open and `config` has arrived.
    fn try_join(&self) {
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
    }

    fn admitted(self: &Rc<Self>, room: RoomName, role: Role) {
        let expected = self.session.borrow_mut().joining.take();
        if expected.is_none() {
            warn!("signaling: ignored an admission we did not ask for");
            return;
        }
        {
            let mut session = self.session.borrow_mut();
            session.room = Some(room.clone());
            session.role = Some(role);
        }
        self.vm.starting.set(false);
        // The query is kept so that `?ice=relay` still applies after a reload of the room page.
        let path = link::with_query(&link::room_path(&room), &browser::search());
        if let Err(err) = browser::replace_path(&path) {
            warn!("could not update the address bar: {err}");
        }
        match role {
            Role::Caller => self.apply(Trigger::Created {
                link: link::room_link(&browser::origin(), &room),
            }),
            Role::Callee => {
                // The other person is already here: set-up starts now.
                self.setup_started.set(Some(browser::monotonic_ms()));
                self.apply(Trigger::Joined);
                self.create_call(Role::Callee);
            }
        }
    }

    fn refused_full(self: &Rc<Self>) {
        if self.session.borrow_mut().joining.take().is_none() {
            return;
        }
        self.apply(Trigger::Full);
        self.teardown();
    }

    fn server_error(self: &Rc<Self>, code: ErrorCode, message: String) {
        warn!("signaling: the server refused a message: {code}: {message}");
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

    fn drop_socket(&self) {
        let socket = self.socket.borrow_mut().take();
        drop(socket);
        *self.ice_servers.borrow_mut() = None;
    }

    /// Abandons an attempt that never reached a room, showing why.
    fn abandon_start(self: &Rc<Self>, why: Trigger) {
        self.apply(why);
        self.teardown();
    }

    // ----- the call -------------------------------------------------------------------------

    /// Creates the peer connection for `role`. On failure (or when relay-only mode cannot
    /// work with the servers on offer) the room is left and the reason shown.
    fn create_call(self: &Rc<Self>, role: Role) -> bool {
        let ice_servers = self.ice_servers.borrow().clone().unwrap_or_default();
        let local = self.media.borrow().as_ref().and_then(|m| m.stream.clone());
        let on_event = self.peer_callback(self.attempt.get());
        match Call::new(role, &ice_servers, self.policy, local.as_ref(), on_event) {
            Ok(call) => {
                *self.call.borrow_mut() = Some(call);
                self.vm.call_ready.set(true);
                *self.ice_watch.borrow_mut() = IceWatch::new(self.policy, &ice_servers);
                self.reported.set(false);
                if self.policy == IcePolicy::Relay {
                    self.start_relay_grace();
                }
                self.start_connect_limit();
                self.check_ice();
                self.call.borrow().is_some()
            }
            Err(err) => {
                self.call_failed(&err);
                false
            }
        }
    }

    /// Gives the live call, if any, a renewed ICE server list. A failure is only logged: the
    /// current connection keeps working with the credentials it has.
    fn refresh_call_servers(&self, ice_servers: &[IceServer]) {
        if let Some(call) = self.call.borrow().as_ref() {
            match call.update_ice_servers(ice_servers) {
                Ok(()) => leptos::logging::log!("call: ICE servers renewed"),
                Err(err) => warn!("call: could not renew the ICE servers: {err}"),
            }
        }
    }

    /// In relay-only mode, gives the attempt [`RELAY_GRACE_MS`] to gather a relay candidate.
    fn start_relay_grace(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        let attempt = self.attempt.get();
        spawn_local(async move {
            browser::sleep(RELAY_GRACE_MS).await;
            let Some(inner) = weak.upgrade() else {
                return;
            };
            if inner.attempt.get() == attempt {
                inner.ice_watch.borrow_mut().waited_enough();
                inner.check_ice();
            }
        });
    }

    /// Gives a new call [`CONNECT_LIMIT_MS`] to connect for the first time.
    fn start_connect_limit(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        let attempt = self.attempt.get();
        spawn_local(async move {
            browser::sleep(CONNECT_LIMIT_MS).await;
            let Some(inner) = weak.upgrade() else {
                return;
            };
            if inner.attempt.get() == attempt && !inner.ice_watch.borrow().was_connected() {
                warn!("call: not connected after {CONNECT_LIMIT_MS} ms; giving up");
                inner.connection_failed();
            }
        });
    }

    /// The connection failed (or never came up): ends the call, saying that a TURN server
    /// was probably missing if not a single relay candidate was gathered.
    fn connection_failed(&self) {
        let reason = self.ice_watch.borrow().failure_reason();
        self.apply(match reason {
            Some(problem) => Trigger::IceProblem(problem),
            None => Trigger::Link(LinkState::Failed),
        });
        self.leave_room();
    }

    /// Ends the attempt if the diagnosis says it cannot work.
    fn check_ice(&self) {
        if self.call.borrow().is_none() {
            return;
        }
        let verdict = self.ice_watch.borrow().abort_reason();
        if let Some(problem) = verdict {
            warn!("call: giving up: {}", problem.text());
            self.apply(Trigger::IceProblem(problem));
            self.leave_room();
        }
    }

    /// The call's callback: defers each event and drops those of an earlier attempt.
    fn peer_callback(self: &Rc<Self>, attempt: u64) -> Rc<dyn Fn(PeerEvent)> {
        let weak = Rc::downgrade(self);
        Rc::new(move |event| {
            let weak = weak.clone();
            spawn_local(async move {
                if let Some(inner) = weak.upgrade() {
                    if inner.attempt.get() == attempt {
                        inner.on_peer(event);
                    }
                }
            });
        })
    }

    fn negotiator(&self) -> Option<Negotiator> {
        self.call.borrow().as_ref().map(Call::negotiator)
    }

    fn role(&self) -> Option<Role> {
        self.session.borrow().role
    }

    /// Runs one asynchronous negotiation step; its result is used only if the attempt it
    /// belongs to is still current, and a failure ends the call.
    fn after<T: 'static>(
        self: &Rc<Self>,
        step: impl Future<Output = Result<T, String>> + 'static,
        then: impl FnOnce(&Rc<Inner>, T) + 'static,
    ) {
        let weak = Rc::downgrade(self);
        let attempt = self.attempt.get();
        spawn_local(async move {
            let result = step.await;
            let Some(inner) = weak.upgrade() else {
                return;
            };
            if inner.attempt.get() != attempt {
                return;
            }
            match result {
                Ok(value) => then(&inner, value),
                Err(err) => inner.call_failed(&err),
            }
        });
    }

    fn peer_arrived(self: &Rc<Self>) {
        if self.role() != Some(Role::Caller) || self.call.borrow().is_some() {
            return;
        }
        // Set-up starts when the other person arrives: the time spent waiting alone in the
        // room is not set-up time.
        self.setup_started.set(Some(browser::monotonic_ms()));
        self.apply(Trigger::NewPeer);
        if !self.create_call(Role::Caller) {
            return;
        }
        let Some(negotiator) = self.negotiator() else {
            return;
        };
        self.after(
            async move { negotiator.create_offer().await },
            |inner, sdp| {
                inner.send(&ClientMessage::Invite { sdp });
            },
        );
    }

    fn offer_received(self: &Rc<Self>, sdp: String) {
        if self.role() != Some(Role::Callee) {
            warn!("signaling: ignored an offer: we are not the callee");
            return;
        }
        let Some(negotiator) = self.negotiator() else {
            warn!("signaling: ignored an offer: there is no call");
            return;
        };
        self.after(
            async move { negotiator.answer_offer(&sdp).await },
            |inner, sdp| inner.send(&ClientMessage::Ok { sdp }),
        );
    }

    fn answer_received(self: &Rc<Self>, sdp: String) {
        if self.role() != Some(Role::Caller) {
            warn!("signaling: ignored an answer: we are not the caller");
            return;
        }
        let Some(negotiator) = self.negotiator() else {
            warn!("signaling: ignored an answer: there is no call");
            return;
        };
        self.after(
            async move { negotiator.accept_answer(&sdp).await },
            |_, ()| {},
        );
    }

    fn remote_candidate(&self, candidate: Option<IceCandidate>) {
        match self.negotiator() {
            Some(negotiator) => negotiator.add_remote_candidate(candidate),
            None => warn!("signaling: ignored a candidate: there is no call"),
        }
    }

    fn on_peer(self: &Rc<Self>, event: PeerEvent) {
        let vm = self.vm;
        match event {
            PeerEvent::LocalCandidate(candidate) => {
                {
                    let mut watch = self.ice_watch.borrow_mut();
                    match &candidate {
                        Some(c) => {
                            watch.candidate(CandidateType::from_candidate_line(&c.candidate))
                        }
                        // The end-of-candidates marker: gathering is complete.
                        None => watch.gathering_complete(),
                    }
                }
                self.send(&ClientMessage::IceCandidate { candidate });
                self.check_ice();
            }
            PeerEvent::IceError(error) => self.ice_error(&error),
            PeerEvent::GatheringComplete => {
                self.ice_watch.borrow_mut().gathering_complete();
                self.check_ice();
            }
            PeerEvent::RemoteStream(stream) => vm.remote_stream.set(Some(stream)),
            PeerEvent::Link(LinkState::Failed) => self.connection_failed(),
            PeerEvent::Link(LinkState::Connected) => {
                self.ice_watch.borrow_mut().connected();
                self.apply(Trigger::Link(LinkState::Connected));
                self.report_once();
            }
            PeerEvent::Link(state) => self.apply(Trigger::Link(state)),
            PeerEvent::Chat(ChannelEvent::Open) => {
                vm.chat_open.set(true);
                self.send_media_state();
            }
            PeerEvent::Chat(ChannelEvent::Closed) => vm.chat_open.set(false),
            PeerEvent::Chat(ChannelEvent::Text(raw)) => self.chat_received(&raw),
            PeerEvent::File(FileEvent::Open) => {
                let sender = self.call.borrow().as_ref().and_then(Call::file_sender);
                self.transfers.connect(sender);
                vm.file_open.set(true);
            }
            PeerEvent::File(FileEvent::Closed) => {
                self.transfers.channel_closed();
                vm.file_open.set(false);
            }
            PeerEvent::File(FileEvent::Text(raw)) => self.transfers.on_text(&raw),
            PeerEvent::File(FileEvent::Binary(bytes)) => self.transfers.on_chunk(&bytes),
        }
    }

    fn ice_error(&self, error: &IceErrorReport) {
        // Browsers report many harmless errors (an interface that cannot reach a STUN server),
        // so this is a log line; the watch decides whether it matters.
        warn!(
            "call: ICE server error {} from {}: {}",
            error.code, error.url, error.text
        );
        self.ice_watch.borrow_mut().ice_error(error);
        self.check_ice();
    }

    /// The first time the call connects: reads the media path from the stats, shows it, and
    /// sends the call report. Retries for a while if the stats cannot tell yet.
    fn report_once(self: &Rc<Self>) {
        if self.reported.replace(true) {
            return;
        }
        let setup_ms = self
            .setup_started
            .get()
            .map(|start| stats::elapsed_ms(start, browser::monotonic_ms()));
        let Some(negotiator) = self.negotiator() else {
            return;
        };
        let weak = Rc::downgrade(self);
        let attempt = self.attempt.get();
        spawn_local(async move {
            for _ in 0..PATH_TRIES {
                let path = match negotiator.stats().await {
                    Ok(entries) => stats::media_path(&entries),
                    Err(err) => {
                        warn!("call: {err}");
                        None
                    }
                };
                {
                    let Some(inner) = weak.upgrade() else {
                        return;
                    };
                    if inner.attempt.get() != attempt {
                        return;
                    }
                    if let Some(path) = path {
                        inner.vm.media_path.set(Some(path));
                        match setup_ms {
                            Some(setup_ms) => {
                                inner.send(&ClientMessage::Report { setup_ms, path });
                            }
                            None => warn!("call: no set-up start was recorded; no report sent"),
                        }
                        return;
                    }
                }
                browser::sleep(PATH_RETRY_MS).await;
            }
            warn!("call: the stats never named the media path; no report sent");
        });
    }

    fn chat_received(&self, raw: &str) {
        match Frame::from_json(raw) {
            Ok(Some(Frame::Chat { id, text, .. })) => {
                let line = ChatLine {
                    author: Author::Them,
                    id: id.chars().take(MAX_MESSAGE_ID_CHARS).collect(),
                    text: text.chars().take(chat::MAX_CHAT_CHARS).collect(),
                    // Our own clock: the other device's may be off.
                    time: local_clock_time(browser::now_ms()),
                };
                self.vm.chat_log.update(|log| {
                    log.push(line);
                });
            }
            Ok(Some(Frame::MediaState { audio, video })) => {
                self.vm.remote_audio.set(audio);
                self.vm.remote_video.set(video);
            }
            Ok(None) => {}
            Err(err) => warn!("chat: ignored a malformed message: {err}"),
        }
    }

    fn peer_left(self: &Rc<Self>) {
        if self.session.borrow().room.is_none() {
            return;
        }
        self.apply(Trigger::PeerLeft);
        // Answer with our own bye: it takes us out of the room on the server.
        self.leave_room();
    }

    fn call_failed(self: &Rc<Self>, err: &str) {
        warn!("call: {err}");
        self.apply(Trigger::CallFailed(format!(
            "The call could not be set up ({err})."
        )));
        self.leave_room();
    }

    // ----- ending -------------------------------------------------------------------------

    /// Says `bye` to the server if we are in a room, then tears everything down.
    fn leave_room(&self) {
        let room = self.session.borrow().room.clone();
        if let Some(room) = room {
            self.send(&ClientMessage::Bye { room });
        }
        self.teardown();
    }

    /// Closes the call, stops every local track, clears both videos and forgets the room.
    /// The socket stays open for the next call.
    fn teardown(&self) {
        let call = self.call.borrow_mut().take();
        if let Some(mut call) = call {
            call.close();
        }
        let share = self.screen.borrow_mut().take();
        drop(share);
        self.switching.set(false);
        let media = self.media.borrow_mut().take();
        if let Some(media) = media {
            media.stop();
        }
        // After the call is closed, so no send is still in progress on a live channel.
        self.transfers.reset();
        *self.session.borrow_mut() = Session::default();
        *self.ice_watch.borrow_mut() = IceWatch::default();
        self.setup_started.set(None);
        self.reported.set(false);
        self.attempt.set(self.attempt.get() + 1);
        let vm = self.vm;
        vm.local_stream.set(None);
        vm.remote_stream.set(None);
        vm.chat_open.set(false);
        vm.file_open.set(false);
        vm.media_note.set(None);
        vm.media_path.set(None);
        vm.starting.set(false);
        vm.has_audio.set(false);
        vm.has_video.set(false);
        vm.can_share.set(false);
        vm.mic_on.set(true);
        vm.camera_on.set(true);
        vm.sharing.set(false);
        vm.call_ready.set(false);
        vm.remote_audio.set(true);
        vm.remote_video.set(true);
    }

    /// Applies a trigger to the state machine and publishes the result.
    fn apply(&self, trigger: Trigger) {
        let vm = self.vm;
        let current = vm.call_state.get_untracked();
        let next = transition(current, &trigger);
        if next.state != current {
            vm.call_state.set(next.state);
        }
        if let Some(status) = next.status {
            vm.link_copied.set(false);
            vm.status.set(status);
        }
    }
}

/// Formats an instant as the local `HH:MM`.
fn local_clock_time(epoch_ms: f64) -> String {
    chat::clock_time(epoch_ms, browser::utc_offset_minutes(epoch_ms))
}
