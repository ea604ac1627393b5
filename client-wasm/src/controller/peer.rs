//! The peer connection of the call: creating it, negotiating, watching ICE, and the call report.

use std::future::Future;
use std::rc::Rc;

use leptos::logging::warn;
use leptos::prelude::*;
use visavis_shared::{ClientMessage, IceCandidate, IceServer};
use wasm_bindgen_futures::spawn_local;

use crate::browser;
use crate::peer::chat_channel::ChannelEvent;
use crate::peer::file_channel::FileEvent;
use crate::peer::{Call, LocalDescription, Negotiator, PeerEvent};
use visavis_client_core::call::Role;
use visavis_client_core::call::{LinkState, Trigger};
use visavis_client_core::connectivity::{CandidateType, IceErrorReport, IceWatch};
use visavis_client_core::link::IcePolicy;
use visavis_client_core::stats;

use super::Inner;

/// How long a relay-only attempt may go without a relay candidate before it is given up. A
/// reachable TURN server answers within a second or two; an unreachable one can keep the
/// browser gathering for much longer, and the person should not wait for that.
const RELAY_GRACE_MS: i32 = 15_000;

/// How long a new call may take to connect before it counts as failed: a backstop for browsers
/// that stay `connecting` without ever saying `failed` (seen when the other side gathered no
/// usable candidate). Working connections take a few seconds, even through a relay.
const CONNECT_LIMIT_MS: i32 = 30_000;

/// How long the polite side waits before making an offer of its own in a connected call
/// (see [`Inner::negotiate`]): longer than an offer takes to cross the server.
const POLITE_OFFER_DELAY_MS: i32 = 1_000;

/// How many times, and how far apart, the stats are read for the media path: right after
/// `connected` some browsers have not filled in the selected candidate pair yet.
const PATH_TRIES: u32 = 10;
const PATH_RETRY_MS: i32 = 500;

impl Inner {
    // ----- the call -------------------------------------------------------------------------

    /// Creates the peer connection for `role` and starts watching it; `opener` makes the first
    /// offer, the other side waits for it. On failure (or when relay-only mode cannot work with
    /// the servers on offer) the room is left and the reason shown.
    pub(super) fn create_call(self: &Rc<Self>, role: Role, opener: bool) -> bool {
        if !self.open_call(role, opener) {
            return false;
        }
        self.recovery.borrow_mut().new_call();
        self.watch_call();
        self.call.borrow().is_some()
    }

    /// Opens the peer connection ahead of need, with our tracks and data channels: right after
    /// `join` is sent (`role` not known yet), or after a reload that finds us alone in our room
    /// (the Caller). Creating it took about 60–80 ms of the set-up once both people were there;
    /// now only the offer (or the answer) is left to make then. Its `negotiationneeded` is kept
    /// for later ([`Inner::negotiate`] offers to nobody), and it is not watched until it is
    /// used: no connect limit runs while nobody is there to connect to. Refused, or left
    /// alone, it is closed like any call (`teardown`).
    pub(super) fn prepare_call(self: &Rc<Self>, role: Option<Role>) {
        if self.call.borrow().is_some() || self.session.borrow().paired {
            return;
        }
        // Until the server says, the connection neither offers first nor asks for anything;
        // `admitted` gives it its role.
        let opened = match role {
            Some(role) => self.open_call(role, role == Role::Caller),
            None => self.open_call(Role::Callee, false),
        };
        if opened {
            self.recovery.borrow_mut().new_call();
            self.session.borrow_mut().call_waiting = true;
        }
    }

    /// We have a seat as `role`: the prepared connection (if any) takes that role. The
    /// Callee's is used at once, as the Caller's offer is on its way; the Caller's waits for
    /// the other person (`new_peer`). Without a prepared connection, it is made now.
    pub(super) fn seated_as(self: &Rc<Self>, role: Role) {
        let prepared = self.session.borrow().call_waiting && self.call.borrow().is_some();
        if !prepared {
            match role {
                Role::Caller => self.prepare_call(Some(role)),
                Role::Callee => {
                    self.create_call(role, false);
                }
            }
            return;
        }
        if let Some(call) = self.call.borrow().as_ref() {
            call.assign_role(role, role == Role::Caller);
        }
        if role == Role::Callee {
            self.session.borrow_mut().call_waiting = false;
            self.use_prepared_call();
        }
    }

    /// The other person is there for the connection [`Inner::prepare_call`] opened: watch it,
    /// and make the offer its `negotiationneeded` asked for while we waited.
    fn use_prepared_call(self: &Rc<Self>) {
        self.watch_call();
        let wanted = std::mem::take(&mut self.recovery.borrow_mut().offer_wanted);
        if wanted {
            self.negotiate();
        }
    }

    /// Creates the peer connection and makes it the current one; on failure the call ends.
    fn open_call(self: &Rc<Self>, role: Role, opener: bool) -> bool {
        let ice_servers = self.ice_servers.borrow().clone().unwrap_or_default();
        let local = self.media.borrow().as_ref().and_then(|m| m.stream.clone());
        let serial = self.call_serial.get() + 1;
        self.call_serial.set(serial);
        let on_event = self.peer_callback(self.attempt.get(), serial);
        match Call::new(
            role,
            opener,
            &ice_servers,
            self.policy,
            local.as_ref(),
            on_event,
        ) {
            Ok(call) => {
                *self.call.borrow_mut() = Some(call);
                true
            }
            Err(err) => {
                self.call_failed(&err);
                false
            }
        }
    }

    /// Starts the diagnosis and the time limits of the current peer connection's attempt.
    fn watch_call(self: &Rc<Self>) {
        let ice_servers = self.ice_servers.borrow().clone().unwrap_or_default();
        self.vm.call_ready.set(true);
        *self.ice_watch.borrow_mut() = IceWatch::new(self.policy, &ice_servers);
        self.reported.set(false);
        if self.policy == IcePolicy::Relay {
            self.start_relay_grace();
        }
        self.start_connect_limit();
        self.check_ice();
    }

    /// Gives the live call, if any, a renewed ICE server list. A failure is only logged: the
    /// current connection keeps working with the credentials it has.
    pub(super) fn refresh_call_servers(&self, ice_servers: &[IceServer]) {
        if let Some(call) = self.call.borrow().as_ref() {
            match call.update_ice_servers(ice_servers) {
                Ok(()) => leptos::logging::log!("call: ICE servers renewed"),
                Err(err) => warn!("call: could not renew the ICE servers: {err}"),
            }
        }
    }

    /// In relay-only mode, gives the attempt [`RELAY_GRACE_MS`] to gather a relay candidate.
    pub(super) fn start_relay_grace(self: &Rc<Self>) {
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
    pub(super) fn start_connect_limit(self: &Rc<Self>) {
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
    pub(super) fn connection_failed(&self) {
        let reason = self.ice_watch.borrow().failure_reason();
        self.apply(match reason {
            Some(problem) => Trigger::IceProblem(problem),
            None => Trigger::Link(LinkState::Failed),
        });
        self.leave_room();
    }

    /// Ends the attempt if the diagnosis says it cannot work.
    pub(super) fn check_ice(&self) {
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

    /// The call's callback: defers each event and drops those of an earlier attempt or of a
    /// peer connection since replaced.
    pub(super) fn peer_callback(
        self: &Rc<Self>,
        attempt: u64,
        serial: u64,
    ) -> Rc<dyn Fn(PeerEvent)> {
        let weak = Rc::downgrade(self);
        Rc::new(move |event| {
            let weak = weak.clone();
            spawn_local(async move {
                if let Some(inner) = weak.upgrade() {
                    if inner.attempt.get() == attempt && inner.call_serial.get() == serial {
                        inner.on_peer(event);
                    }
                }
            });
        })
    }

    pub(super) fn negotiator(&self) -> Option<Negotiator> {
        self.call.borrow().as_ref().map(Call::negotiator)
    }

    pub(super) fn role(&self) -> Option<Role> {
        self.session.borrow().role
    }

    /// Runs one asynchronous negotiation step; its result is used only if the attempt and the
    /// peer connection it belongs to are still current, and a failure ends the call.
    pub(super) fn after<T: 'static>(
        self: &Rc<Self>,
        step: impl Future<Output = Result<T, String>> + 'static,
        then: impl FnOnce(&Rc<Inner>, T) + 'static,
    ) {
        let weak = Rc::downgrade(self);
        let attempt = self.attempt.get();
        let serial = self.call_serial.get();
        spawn_local(async move {
            let result = step.await;
            let Some(inner) = weak.upgrade() else {
                return;
            };
            if inner.attempt.get() != attempt || inner.call_serial.get() != serial {
                return;
            }
            match result {
                Ok(value) => then(&inner, value),
                Err(err) => inner.call_failed(&err),
            }
        });
    }

    /// `new_peer`: the other person arrived while we waited (we are the Caller), or came back
    /// after a reload without their peer connection (either role). Either way we open a new
    /// peer connection and make the offer.
    pub(super) fn peer_arrived(self: &Rc<Self>, seat: Option<String>) {
        if self.session.borrow().room.is_none() {
            return;
        }
        if let Some(seat) = seat {
            let mut session = self.session.borrow_mut();
            session.seat = Some(seat);
            session.paired = true;
            session.peer_away = false;
        }
        self.save_seat();
        let Some(role) = self.role() else {
            return;
        };
        // Set-up starts when the other person arrives: the time spent waiting alone in the
        // room is not set-up time.
        self.setup_started.set(Some(browser::monotonic_ms()));
        let prepared = std::mem::take(&mut self.session.borrow_mut().call_waiting);
        if prepared && self.call.borrow().is_some() {
            self.apply(Trigger::NewPeer);
            self.use_prepared_call();
            return;
        }
        if self.call.borrow().is_some() {
            leptos::logging::log!(
                "call: the other side has a new peer connection; starting afresh"
            );
            self.replace_call();
        } else {
            self.apply(Trigger::NewPeer);
        }
        // The offer follows from `negotiationneeded`.
        self.create_call(role, true);
    }

    /// Makes an offer if the browser asks for one, or remembers to once the other side can
    /// be reached.
    ///
    /// Once the call has connected, the polite side (the Callee) waits [`POLITE_OFFER_DELAY_MS`]
    /// before offering, and drops its offer if the other side renegotiated meanwhile (the
    /// browser asks again if it still needs one). Perfect negotiation resolves a real
    /// collision by rolling the polite side's offer back, and Chromium (156) stops rendering
    /// that side's remote video after any rollback of a local offer; letting the impolite side
    /// go first makes collisions rare instead of routine.
    pub(super) fn negotiate(self: &Rc<Self>) {
        // A connection prepared while we wait alone offers once someone is there to answer.
        if !self.can_signal() || self.session.borrow().call_waiting {
            self.recovery.borrow_mut().offer_wanted = true;
            return;
        }
        let polite = self.role().is_some_and(Role::polite);
        if !polite || !self.ice_watch.borrow().was_connected() {
            self.offer_now();
            return;
        }
        let offers_seen = self.recovery.borrow().remote_offers;
        let weak = Rc::downgrade(self);
        let attempt = self.attempt.get();
        let serial = self.call_serial.get();
        spawn_local(async move {
            browser::sleep(POLITE_OFFER_DELAY_MS).await;
            let Some(inner) = weak.upgrade() else {
                return;
            };
            if inner.attempt.get() != attempt || inner.call_serial.get() != serial {
                return;
            }
            if inner.recovery.borrow().remote_offers != offers_seen {
                leptos::logging::log!("call: the other side renegotiated first; not offering");
                return;
            }
            if !inner.can_signal() {
                inner.recovery.borrow_mut().offer_wanted = true;
                return;
            }
            inner.offer_now();
        });
    }

    /// Makes the offer (or, if an offer of the other side is being answered, the answer).
    fn offer_now(self: &Rc<Self>) {
        let Some(negotiator) = self.negotiator() else {
            return;
        };
        self.after(
            async move { negotiator.make_offer().await },
            |inner, description| match description {
                Some(LocalDescription::Offer(sdp)) => inner.send(&ClientMessage::Invite { sdp }),
                Some(LocalDescription::Answer(sdp)) => inner.send(&ClientMessage::Ok { sdp }),
                None => {}
            },
        );
    }

    pub(super) fn offer_received(self: &Rc<Self>, sdp: String) {
        let Some(negotiator) = self.negotiator() else {
            warn!("signaling: ignored an offer: there is no call");
            return;
        };
        self.recovery
            .borrow_mut()
            .offer_arrived(browser::monotonic_ms());
        self.after(
            async move { negotiator.receive_offer(&sdp).await },
            |inner, answer| {
                if let Some(sdp) = answer {
                    inner.send(&ClientMessage::Ok { sdp });
                }
            },
        );
    }

    pub(super) fn answer_received(self: &Rc<Self>, sdp: String) {
        let Some(negotiator) = self.negotiator() else {
            warn!("signaling: ignored an answer: there is no call");
            return;
        };
        self.after(
            async move { negotiator.receive_answer(&sdp).await },
            |_, ()| {},
        );
    }

    pub(super) fn remote_candidate(&self, candidate: Option<IceCandidate>) {
        match self.negotiator() {
            Some(negotiator) => negotiator.add_remote_candidate(candidate),
            None => warn!("signaling: ignored a candidate: there is no call"),
        }
    }

    pub(super) fn on_peer(self: &Rc<Self>, event: PeerEvent) {
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
            PeerEvent::RemoteStream(stream) => {
                crate::browser::timeline::mark("remote-track");
                vm.remote_stream.set(Some(stream));
            }
            PeerEvent::NegotiationNeeded => {
                crate::browser::timeline::mark("negotiation-needed");
                self.negotiate();
            }
            PeerEvent::Link(state) if self.ice_watch.borrow().was_connected() => {
                // Once the call has connected, a dropped link is restored, not fatal.
                self.link_changed(state);
            }
            PeerEvent::Link(LinkState::Failed) => self.connection_failed(),
            PeerEvent::Link(LinkState::Connected) => {
                crate::browser::timeline::mark("connected");
                self.ice_watch.borrow_mut().connected();
                self.recovery.borrow_mut().link = Some(LinkState::Connected);
                self.apply(Trigger::Link(LinkState::Connected));
                self.refresh_health();
                self.start_stats_loop();
                self.report_once();
                self.keep_screen_on();
            }
            PeerEvent::Link(state) => {
                self.recovery.borrow_mut().link = Some(state);
                self.apply(Trigger::Link(state));
            }
            PeerEvent::Chat(ChannelEvent::Open) => {
                vm.chat_open.set(true);
                self.send_media_state();
                self.tell_network(true);
                self.flush_outbox();
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

    pub(super) fn ice_error(&self, error: &IceErrorReport) {
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
    pub(super) fn report_once(self: &Rc<Self>) {
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
                // Not at once: `getStats()` right at `connected` competes with the first
                // frames, and the selected pair is often not filled in yet anyway.
                browser::sleep(PATH_RETRY_MS).await;
                let (path, relay_transport) = match negotiator.stats().await {
                    Ok(entries) => (
                        stats::media_path(&entries),
                        stats::relay_transport(&entries),
                    ),
                    Err(err) => {
                        warn!("call: {err}");
                        (None, None)
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
                                inner.send(&ClientMessage::Report {
                                    setup_ms,
                                    path,
                                    relay_transport,
                                });
                            }
                            None => warn!("call: no set-up start was recorded; no report sent"),
                        }
                        return;
                    }
                }
            }
            warn!("call: the stats never named the media path; no report sent");
        });
    }

    pub(super) fn call_failed(self: &Rc<Self>, err: &str) {
        warn!("call: {err}");
        self.apply(Trigger::CallFailed(format!(
            "The call could not be set up ({err})."
        )));
        self.leave_room();
    }
}
