//! Keeping a call alive through outages, without the person doing anything:
//!
//! - the signaling socket drops: the call (and its media) goes on, the socket is reopened with
//!   backoff and jitter, and our seat is taken back with the server's seat token (`rejoin`);
//! - the page is reloaded: the seat kept in `sessionStorage` is taken back and the other side,
//!   told by the server, starts a new peer connection with us;
//! - the other person's socket drops: the server says so, and we wait for them;
//! - the media path drops: an ICE restart at once when the connection `failed`, or after
//!   [`ICE_DISCONNECT_GRACE_MS`] of `disconnected`, repeated until it is back.
//!
//! Offers and restarts that cannot be signalled right now (our server link or the other person
//! is away) are remembered and made once both are back; an offer that may have been lost with
//! the server is sent again.

use std::rc::Rc;

use leptos::logging::{log, warn};
use leptos::prelude::*;
use visavis_shared::ClientMessage;
use wasm_bindgen_futures::spawn_local;

use crate::browser;
use crate::signaling::Signaling;
use visavis_client_core::call::Role;
use visavis_client_core::call::{Health, LinkState, Trigger};
use visavis_client_core::call::{SavedSeat, STORAGE_KEY};
use visavis_client_core::connectivity::IceWatch;
use visavis_client_core::link;

use super::Inner;

/// How long `disconnected` may last before the ICE is restarted. Browsers often recover by
/// themselves from a short blip (a Wi-Fi hand-over); a restart is for when they do not.
const ICE_DISCONNECT_GRACE_MS: i32 = 5_000;

/// How long an ICE restart may take before another is tried. A working path connects within
/// a second or two; retrying this often means a path that comes back is used within a few
/// seconds.
const ICE_RESTART_RETRY_MS: i32 = 4_000;

/// How long the media path may stay down, with restarts failing, before the call is given up.
const RECOVERY_LIMIT_MS: f64 = 120_000.0;

impl Inner {
    // ----- the seat -------------------------------------------------------------------------

    /// Keeps the seat in `sessionStorage`, for a reload to take it back.
    pub(super) fn save_seat(&self) {
        let saved = {
            let session = self.session.borrow();
            match (&session.room, session.role, &session.seat) {
                (Some(room), Some(role), Some(token)) => {
                    SavedSeat::new(room.clone(), role, token.clone(), session.paired)
                }
                _ => return,
            }
        };
        if let Err(err) = browser::session_set(STORAGE_KEY, &saved.to_json()) {
            warn!("could not keep the seat for a reload: {err}");
        }
    }

    /// Forgets the kept seat: the call is over.
    pub(super) fn forget_seat(&self) {
        browser::session_remove(STORAGE_KEY);
    }

    /// At page load: if this tab held a seat in the room of the address (it was reloaded in a
    /// call), opens the camera and takes the seat back.
    pub(super) fn resume_saved_seat(self: &Rc<Self>) {
        let Some(room) = link::room_from_path(&browser::path()) else {
            return;
        };
        let Some(saved) =
            browser::session_get(STORAGE_KEY).and_then(|text| SavedSeat::for_room(&text, &room))
        else {
            return;
        };
        let vm = self.vm;
        if vm.starting.get_untracked() || !vm.call_state.get_untracked().can_start() {
            return;
        }
        log!("signaling: this tab had a seat in {room}; taking it back");
        vm.room_input.set(room.to_string());
        vm.starting.set(true);
        self.apply(Trigger::Starting);
        self.watch_page_exit();
        {
            let mut session = self.session.borrow_mut();
            session.room = Some(room);
            session.role = Some(saved.role());
            session.seat = Some(saved.token);
            session.paired = saved.paired;
            session.fresh = true;
        }
        if let Err(err) = self.open_socket() {
            warn!("signaling: {err}");
            self.schedule_reconnect();
        }
        let weak = Rc::downgrade(self);
        let attempt = self.attempt.get();
        // The camera the page just opened for its preview (or is opening) is the call's.
        let local = self.claim_call_media();
        spawn_local(async move {
            let media = local.open().await;
            match weak.upgrade() {
                Some(inner) if inner.attempt.get() == attempt => {
                    inner.adopt_media(media);
                    inner.apply(Trigger::Joining);
                    inner.try_rejoin();
                }
                _ => media.stop(),
            }
        });
    }

    // ----- the signaling socket -------------------------------------------------------------

    /// Our socket dropped while we hold a seat: the call goes on, the socket is reopened.
    pub(super) fn socket_lost(self: &Rc<Self>) {
        {
            let mut session = self.session.borrow_mut();
            session.server_up = false;
            session.rejoining = false;
        }
        self.refresh_health();
        self.schedule_reconnect();
    }

    /// Reopens the socket after the backoff's next delay.
    pub(super) fn schedule_reconnect(self: &Rc<Self>) {
        if self.reconnect_scheduled.replace(true) {
            return;
        }
        let delay = self
            .backoff
            .borrow_mut()
            .next_delay_ms(browser::random_unit());
        log!("signaling: reconnecting in {delay} ms");
        let weak = Rc::downgrade(self);
        let attempt = self.attempt.get();
        spawn_local(async move {
            browser::sleep(i32::try_from(delay).unwrap_or(i32::MAX)).await;
            let Some(inner) = weak.upgrade() else {
                return;
            };
            inner.reconnect_scheduled.set(false);
            if inner.attempt.get() != attempt || inner.session.borrow().room.is_none() {
                return;
            }
            if let Err(err) = inner.open_socket() {
                warn!("signaling: {err}");
                inner.schedule_reconnect();
            }
        });
    }

    /// Sends `rejoin` once the socket is open, `config` has arrived and our media is ready.
    pub(super) fn try_rejoin(&self) {
        let open = self
            .socket
            .borrow()
            .as_ref()
            .is_some_and(Signaling::is_open);
        if !open || self.ice_servers.borrow().is_none() || self.media.borrow().is_none() {
            return;
        }
        let message = {
            let session = self.session.borrow();
            if session.server_up || session.rejoining {
                return;
            }
            let (Some(room), Some(seat)) = (session.room.clone(), session.seat.clone()) else {
                return;
            };
            ClientMessage::Rejoin {
                room,
                seat,
                fresh: session.fresh,
            }
        };
        self.send(&message);
        self.session.borrow_mut().rejoining = true;
    }

    /// `rejoined`: the seat is ours again, with a new token.
    pub(super) fn rejoined(self: &Rc<Self>, seat: String, peer_present: bool) {
        let (fresh, paired) = {
            let mut session = self.session.borrow_mut();
            if !session.rejoining {
                warn!("signaling: ignored a rejoin answer we did not ask for");
                return;
            }
            session.rejoining = false;
            session.server_up = true;
            session.seat = Some(seat);
            session.paired |= peer_present;
            session.peer_away = !peer_present && session.paired;
            (std::mem::take(&mut session.fresh), session.paired)
        };
        self.save_seat();
        self.backoff.borrow_mut().reset();
        log!(
            "signaling: seat taken back (the other person is {}here)",
            if peer_present { "" } else { "not " }
        );
        if fresh {
            self.vm.starting.set(false);
            if paired {
                // The other side learns that we have no peer connection any more and makes a
                // new offer; we answer it.
                self.setup_started.set(Some(browser::monotonic_ms()));
                self.apply(Trigger::Joined);
                let role = self.role().unwrap_or(Role::Callee);
                self.create_call(role, false);
            } else {
                // We were waiting alone: wait again.
                let room = self.session.borrow().room.clone();
                if let Some(room) = room {
                    self.apply(Trigger::Created {
                        link: link::room_link(&browser::origin(), &room),
                    });
                    if self.role() == Some(Role::Caller) {
                        self.prepare_call(Some(Role::Caller));
                    }
                }
            }
        } else {
            self.signal_restored();
        }
        self.refresh_health();
    }

    /// `peer_reconnecting`: the other person's socket dropped; the server holds their seat.
    pub(super) fn peer_reconnecting(&self) {
        self.session.borrow_mut().peer_away = true;
        self.refresh_health();
    }

    /// `peer_reconnected`: the other person is back with their peer connection.
    pub(super) fn peer_reconnected(self: &Rc<Self>) {
        {
            let mut session = self.session.borrow_mut();
            session.peer_away = false;
            session.paired = true;
        }
        self.save_seat();
        self.signal_restored();
        self.refresh_health();
    }

    /// Whether a message to the other side would reach them now.
    pub(super) fn can_signal(&self) -> bool {
        let open = self
            .socket
            .borrow()
            .as_ref()
            .is_some_and(Signaling::is_open);
        let session = self.session.borrow();
        open && session.server_up && !session.peer_away
    }

    /// Both sides can talk again: sends what may have been lost, and makes the offers and
    /// restarts that had to wait.
    fn signal_restored(self: &Rc<Self>) {
        if !self.can_signal() {
            return;
        }
        let Some(negotiator) = self.negotiator() else {
            return;
        };
        if let Some(sdp) = negotiator.unanswered_offer() {
            log!("call: sending our unanswered offer again");
            self.send(&ClientMessage::Invite { sdp });
        }
        let (offer_wanted, restart_wanted, link) = {
            let mut recovery = self.recovery.borrow_mut();
            (
                std::mem::take(&mut recovery.offer_wanted),
                std::mem::take(&mut recovery.restart_wanted),
                recovery.link,
            )
        };
        let media_down =
            self.ice_watch.borrow().was_connected() && link != Some(LinkState::Connected);
        if restart_wanted || media_down {
            self.restart_ice();
        } else if offer_wanted {
            self.negotiate();
        }
    }

    // ----- the peer connection --------------------------------------------------------------

    /// Replaces the peer connection: the other side lost theirs (a reload). Local media stays;
    /// the screen share ends, since the new connection starts from the camera.
    pub(super) fn replace_call(&self) {
        let call = self.call.borrow_mut().take();
        if let Some(mut call) = call {
            call.close();
        }
        let share = self.screen.share.borrow_mut().take();
        if share.is_some() {
            drop(share);
            let vm = self.vm;
            vm.sharing.set(false);
            vm.local_stream.set(self.camera_stream());
            vm.local_mirrored.set(self.call_picture_mirrored());
        }
        self.transfers.reset();
        *self.ice_watch.borrow_mut() = IceWatch::default();
        self.reported.set(false);
        let vm = self.vm;
        vm.remote_stream.set(None);
        vm.chat_open.set(false);
        vm.file_open.set(false);
        vm.remote_audio.set(true);
        vm.remote_video.set(true);
    }

    /// The connection state changed after the call first connected.
    pub(super) fn link_changed(self: &Rc<Self>, state: LinkState) {
        let episode = {
            let mut recovery = self.recovery.borrow_mut();
            recovery.link = Some(state);
            recovery.episode += 1;
            match state {
                LinkState::Connected => {
                    recovery.media_down_since = None;
                    recovery.restart_wanted = false;
                }
                LinkState::Disconnected | LinkState::Failed => {
                    recovery
                        .media_down_since
                        .get_or_insert_with(browser::monotonic_ms);
                }
                _ => {}
            }
            recovery.episode
        };
        match state {
            LinkState::Connected => log!("call: the media path is back"),
            LinkState::Disconnected => self.restart_if_still_down(episode),
            LinkState::Failed => self.restart_ice(),
            _ => {}
        }
        self.refresh_health();
    }

    /// Restarts ICE if the link is still in the same state after the grace period.
    fn restart_if_still_down(self: &Rc<Self>, episode: u64) {
        let weak = Rc::downgrade(self);
        let attempt = self.attempt.get();
        spawn_local(async move {
            browser::sleep(ICE_DISCONNECT_GRACE_MS).await;
            let Some(inner) = weak.upgrade() else {
                return;
            };
            if inner.attempt.get() == attempt && inner.recovery.borrow().episode == episode {
                log!("call: disconnected for {ICE_DISCONNECT_GRACE_MS} ms");
                inner.restart_ice();
            }
        });
    }

    /// Restarts ICE now if the other side can be reached (or as soon as it can), and tries
    /// again every [`ICE_RESTART_RETRY_MS`] until the link is back. The polite side only
    /// watches while the other side restarts (see `POLITE_RESTART_FALLBACK_MS` in
    /// `visavis_client_core::call::recovery`).
    pub(super) fn restart_ice(self: &Rc<Self>) {
        if !self.can_signal() {
            self.recovery.borrow_mut().restart_wanted = true;
            return;
        }
        let Some(negotiator) = self.negotiator() else {
            return;
        };
        let now = browser::monotonic_ms();
        let down_for = now - self.recovery.borrow().media_down_since.unwrap_or(now);
        if down_for > RECOVERY_LIMIT_MS {
            warn!("call: the media path has been down for {down_for:.0} ms; giving up");
            self.connection_failed();
            return;
        }
        let polite = self.role().is_some_and(Role::polite);
        if polite && !self.recovery.borrow().polite_may_restart(now) {
            log!("call: leaving the ICE restart to the other side for now");
        } else {
            log!("call: restarting ICE");
            negotiator.restart_ice();
        }
        let serial = {
            let mut recovery = self.recovery.borrow_mut();
            recovery.restarts += 1;
            recovery.restarts
        };
        let weak = Rc::downgrade(self);
        let attempt = self.attempt.get();
        spawn_local(async move {
            browser::sleep(ICE_RESTART_RETRY_MS).await;
            let Some(inner) = weak.upgrade() else {
                return;
            };
            let retry = {
                let recovery = inner.recovery.borrow();
                recovery.restarts == serial && recovery.link != Some(LinkState::Connected)
            };
            if inner.attempt.get() == attempt && retry {
                inner.restart_ice();
            }
        });
    }

    // ----- what the page shows --------------------------------------------------------------

    /// Publishes how whole the call is: the page says what is being restored, and returns to
    /// `connected` by itself.
    pub(super) fn refresh_health(&self) {
        let health = {
            let session = self.session.borrow();
            let Some(room) = session.room.as_ref() else {
                return;
            };
            Health {
                server_up: session.server_up,
                peer_present: !session.peer_away,
                media_up: self.recovery.borrow().link == Some(LinkState::Connected),
                link: link::room_link(&browser::origin(), room),
            }
        };
        self.apply(Trigger::Health(health));
    }
}
