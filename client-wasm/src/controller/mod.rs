//! The controller: owns the signaling socket, the call and the local media, reacts to their
//! events and to the person's clicks, and writes the view model. It does not touch the DOM;
//! window-level services go through `crate::browser`.
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
//! File transfers run in `crate::files`; the controller hands them the file channel's events,
//! the person's files and Cancel clicks, the server's size limit, and ends them with the call.
//!
//! Event handling is deferred to a microtask (`spawn_local`), never run inside the browser's
//! event handler itself. That way no handler ever drops the closure that is running it (a
//! `bye` tears down the call, a `close` drops the socket), and no `RefCell` borrow is held
//! when another event comes in.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use leptos::logging::warn;
use leptos::prelude::*;
use visavis_shared::{ClientMessage, IceServer, RoomName};
use wasm_bindgen_futures::spawn_local;

use crate::browser;
use crate::files::{TransferKey, Transfers};
use crate::media::LocalMedia;
use crate::model::ViewModel;
use crate::peer::Call;
use crate::signaling::Signaling;
use visavis_client_core::call::Backoff;
use visavis_client_core::call::Role;
use visavis_client_core::call::{transition, Trigger};
use visavis_client_core::chat::Outbox;
use visavis_client_core::chat::{self, ChatLog};
use visavis_client_core::connectivity::IceWatch;
use visavis_client_core::controls::Shortcut;
use visavis_client_core::link::{self, IcePolicy};

mod background;
mod devices;
mod media_controls;
mod network;
mod page_exit;
mod peer;
mod recovery;
mod room;
mod socket;
mod stats_loop;
mod text_chat;
mod wake;

use media_controls::ScreenState;
use visavis_client_core::call::Recovery;

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
    /// The server's latest token for our seat, which takes it back after an outage.
    seat: Option<String>,
    /// Whether the other person has been in the call (so that their absence is an outage).
    paired: bool,
    /// The peer connection was opened ahead of need (`prepare_call`: while the server
    /// answers our `join`, or while we wait alone), and nobody has been offered it yet.
    call_waiting: bool,
    /// Our socket is open and the server has confirmed our seat on it.
    server_up: bool,
    /// A `rejoin` was sent on the current socket and not answered yet.
    rejoining: bool,
    /// The page was reloaded: it has no peer connection, and its rejoin says so.
    fresh: bool,
    /// The server told us the other person's connection dropped (or, after a server restart,
    /// they have not taken their seat back yet).
    peer_away: bool,
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
    /// The screen share and switches between camera and screen.
    screen: ScreenState,
    /// The signaling socket's retry schedule while it is down.
    backoff: RefCell<Backoff>,
    /// A reconnection of the socket is scheduled.
    reconnect_scheduled: Cell<bool>,
    /// What the live call needs to get whole again after an outage.
    recovery: RefCell<Recovery>,
    /// Bumped for each new peer connection, so events of a replaced one are ignored.
    call_serial: Cell<u64>,
    /// Chat messages not yet acknowledged by the other side.
    outbox: RefCell<Outbox>,
    /// The pre-join preview, the device lists, the microphone meter and device switches.
    devices: RefCell<devices::DeviceState>,
    /// The `pagehide` / `beforeunload` listeners of the current call, which say `leaving`.
    page_exit: RefCell<Vec<browser::PageListener>>,
    /// The screen wake lock of the current call.
    wake: RefCell<wake::WakeState>,
    /// The adaptation to the network: video level, signal bars, audio-only mode.
    network: network::NetworkState,
    /// The call's `visibilitychange` listener (a camera paused in the background).
    visibility: RefCell<Option<background::VisibilityWatch>>,
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
                screen: ScreenState::default(),
                backoff: RefCell::new(Backoff::new()),
                reconnect_scheduled: Cell::new(false),
                recovery: RefCell::new(Recovery::default()),
                call_serial: Cell::new(0),
                outbox: RefCell::new(Outbox::new()),
                devices: RefCell::new(devices::DeviceState::default()),
                page_exit: RefCell::new(Vec::new()),
                wake: RefCell::new(wake::WakeState::default()),
                network: network::NetworkState::default(),
                visibility: RefCell::new(None),
            }),
        }
    }

    /// Takes this tab's seat back if the page was reloaded during a call in this room.
    pub fn resume(&self) {
        self.inner.resume_saved_seat();
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

    /// The person pressed Audio only / Turn video back on.
    pub fn toggle_audio_only(&self) {
        self.inner.toggle_audio_only();
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
        crate::browser::timeline::mark("start");
        let attempt = self.attempt.get();
        vm.starting.set(true);
        vm.chat_log.update(ChatLog::clear);
        self.apply(Trigger::Starting);
        self.watch_page_exit();

        // The socket opens while the camera does; the join waits for both.
        if !self.ensure_socket() {
            return;
        }
        // The pre-join preview's stream (or its promise) becomes the call's: no second prompt.
        let local = self.claim_call_media();
        let weak = Rc::downgrade(self);
        spawn_local(async move {
            let media = local.open().await;
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
        let share = self.screen.share.borrow_mut().take();
        drop(share);
        self.screen.switching.set(false);
        let media = self.media.borrow_mut().take();
        if let Some(media) = media {
            media.stop();
        }
        self.devices_after_call();
        self.page_exit.borrow_mut().clear();
        self.release_wake_lock();
        // After the call is closed, so no send is still in progress on a live channel.
        self.transfers.reset();
        *self.session.borrow_mut() = Session::default();
        // The seat is gone with the call: a reload must not try to take it back.
        self.forget_seat();
        *self.recovery.borrow_mut() = Recovery::default();
        self.backoff.borrow_mut().reset();
        self.outbox.borrow_mut().clear();
        self.vm.chat_unsent.update(|unsent| unsent.clear());
        *self.ice_watch.borrow_mut() = IceWatch::default();
        self.setup_started.set(None);
        self.reported.set(false);
        self.network.reset();
        self.visibility.borrow_mut().take();
        self.attempt.set(self.attempt.get() + 1);
        let vm = self.vm;
        vm.local_stream.set(None);
        vm.remote_stream.set(None);
        vm.chat_open.set(false);
        vm.file_open.set(false);
        vm.media_note.set(None);
        vm.media_path.set(None);
        vm.call_stats.set(None);
        vm.starting.set(false);
        vm.has_audio.set(false);
        vm.has_video.set(false);
        vm.can_share.set(false);
        vm.can_flip.set(false);
        vm.mic_on.set(true);
        vm.camera_on.set(true);
        vm.sharing.set(false);
        vm.call_ready.set(false);
        vm.remote_audio.set(true);
        vm.remote_video.set(true);
        vm.network.reset();
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
pub(super) fn local_clock_time(epoch_ms: f64) -> String {
    chat::clock_time(epoch_ms, browser::utc_offset_minutes(epoch_ms))
}
