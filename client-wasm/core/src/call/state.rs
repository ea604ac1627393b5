//! The call's state machine: which of the six states the page is in, and which status line each
//! transition shows (the words are in [`status`](super::status)). Pure Rust with no browser
//! types, so every transition is unit-tested natively.

use visavis_shared::ErrorCode;

use super::status::{describe_error, Status};
use crate::connectivity::IceProblem;

/// Where the page is in a call. Its [`as_str`](CallState::as_str) value is published on
/// `<body data-call-state>`, which automated tests read, so the names are a contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallState {
    /// Not in a room: the page just loaded, or a new attempt is starting.
    #[default]
    Idle,
    /// In a room alone, waiting for the other person.
    Waiting,
    /// Two people in the room; the peer connection is not (or no longer) connected.
    Connecting,
    /// The peer connection is connected.
    Connected,
    /// The call was connected and is being restored: the server, the other person's link to
    /// it, or the media path dropped. Media may well still flow meanwhile.
    Reconnecting,
    /// The room already had two people; we were not admitted.
    Full,
    /// The call is over: we hung up, the other person left, or a connection was lost.
    Ended,
}

impl CallState {
    /// The value of the `data-call-state` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Idle => "idle",
            CallState::Waiting => "waiting",
            CallState::Connecting => "connecting",
            CallState::Connected => "connected",
            CallState::Reconnecting => "reconnecting",
            CallState::Full => "full",
            CallState::Ended => "ended",
        }
    }

    /// Whether we hold a seat in a room (so hanging up makes sense).
    pub fn in_room(self) -> bool {
        matches!(
            self,
            CallState::Waiting
                | CallState::Connecting
                | CallState::Connected
                | CallState::Reconnecting
        )
    }

    /// Whether a new call may be started from here.
    pub fn can_start(self) -> bool {
        !self.in_room()
    }
}

/// The peer connection's `connectionState`, mirrored here so the state machine stays free of
/// browser types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// `new`
    New,
    /// `connecting`
    Connecting,
    /// `connected`
    Connected,
    /// `disconnected`: media stopped flowing; the browser may still recover.
    Disconnected,
    /// `failed`: the browser gave up.
    Failed,
    /// `closed`: we closed it ourselves.
    Closed,
}

/// What is missing while a call is being restored, most fundamental first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interruption {
    /// Our connection to the server dropped; the page is reconnecting to it.
    Server,
    /// The other person's connection to the server dropped; the server holds their seat.
    Peer,
    /// The media path between the two browsers is down; an ICE restart is under way.
    Media,
}

/// How whole a call in progress is, as the controller sees it after any change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// Our signaling socket is open and our seat is confirmed.
    pub server_up: bool,
    /// The other person holds their seat on a live connection.
    pub peer_present: bool,
    /// The peer connection is `connected`.
    pub media_up: bool,
    /// The room's address, for the status line while waiting alone.
    pub link: String,
}

impl Health {
    /// What is missing, if anything; the most fundamental gap is named.
    pub fn interruption(&self) -> Option<Interruption> {
        if !self.server_up {
            Some(Interruption::Server)
        } else if !self.peer_present {
            Some(Interruption::Peer)
        } else if !self.media_up {
            Some(Interruption::Media)
        } else {
            None
        }
    }
}

/// Something that happened which may change the state or the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// The person pressed Call: a new attempt starts by opening the camera.
    Starting,
    /// Media is ready and the `join` message is on its way.
    Joining,
    /// The server says we are first in the room; `link` is the address to share.
    Created {
        /// The room's shareable address.
        link: String,
    },
    /// The server says we are second in the room.
    Joined,
    /// The other person arrived while we were waiting.
    NewPeer,
    /// The peer connection changed state.
    Link(LinkState),
    /// The room already had two people.
    Full,
    /// The other person left (the server sent `bye`).
    PeerLeft,
    /// We pressed Hang up.
    HungUp,
    /// The connection to the server closed or never opened.
    ServerLost,
    /// The server refused a message.
    ServerError {
        /// The machine-readable reason.
        code: ErrorCode,
        /// The server's explanation.
        message: String,
    },
    /// The room name field holds nothing usable.
    InvalidRoomName,
    /// Something failed locally but the call, if any, goes on (a chat message not sent).
    LocalError(String),
    /// The call could not be set up or kept going (no peer connection, a refused offer).
    CallFailed(String),
    /// The server could not be reached at all.
    ServerUnreachable,
    /// The connectivity diagnosis ended the call attempt (relay-only mode without a working
    /// relay) or explains why the connection failed (no relay candidate at all).
    IceProblem(IceProblem),
    /// Something the call depends on dropped or came back (see [`Health`]).
    Health(Health),
}

/// The outcome of a [`Trigger`]: the new state, and the new status if it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The state after the trigger.
    pub state: CallState,
    /// The new status line, or `None` to keep the current one.
    pub status: Option<Status>,
}

impl Transition {
    fn to(state: CallState, status: Status) -> Transition {
        Transition {
            state,
            status: Some(status),
        }
    }

    fn stay(state: CallState) -> Transition {
        Transition {
            state,
            status: None,
        }
    }
}

/// Decides the new state and status from the current state and what happened.
///
/// Triggers that make no sense in the current state (a late `new_peer`, a peer connection event
/// after the call ended) leave everything as it is, so stale browser events cannot corrupt the
/// page.
pub fn transition(state: CallState, trigger: &Trigger) -> Transition {
    use CallState as S;
    match trigger {
        Trigger::Starting if state.can_start() => Transition::to(S::Idle, Status::OpeningMedia),
        Trigger::Joining if state == S::Idle => Transition::to(S::Idle, Status::Joining),
        Trigger::Created { link } if state == S::Idle => {
            Transition::to(S::Waiting, Status::Waiting { link: link.clone() })
        }
        Trigger::Joined if state == S::Idle => Transition::to(S::Connecting, Status::Connecting),
        Trigger::NewPeer if state == S::Waiting => {
            Transition::to(S::Connecting, Status::Connecting)
        }
        Trigger::Link(link) => link_transition(state, *link),
        Trigger::Full if state == S::Idle => Transition::to(S::Full, Status::RoomFull),
        Trigger::PeerLeft if state.in_room() => Transition::to(S::Ended, Status::PeerLeft),
        Trigger::HungUp if state.in_room() => Transition::to(S::Ended, Status::HungUp),
        Trigger::ServerLost if state.in_room() => Transition::to(S::Ended, Status::ServerLost),
        Trigger::ServerLost => Transition::to(state, Status::ServerLost),
        Trigger::ServerError { code, message } => {
            Transition::to(state, Status::Error(describe_error(*code, message)))
        }
        Trigger::InvalidRoomName => Transition::to(
            state,
            Status::Error(
                "That room name has no usable characters. Use letters, digits, '.', '_' or '-'."
                    .into(),
            ),
        ),
        Trigger::LocalError(text) => Transition::to(state, Status::Error(text.clone())),
        Trigger::CallFailed(text) => {
            let next = if state.in_room() { S::Ended } else { state };
            Transition::to(next, Status::Error(text.clone()))
        }
        Trigger::IceProblem(problem) => {
            let next = if state.in_room() { S::Ended } else { state };
            Transition::to(next, Status::IceTrouble(*problem))
        }
        Trigger::Health(health) => health_transition(state, health),
        Trigger::ServerUnreachable => Transition::to(
            state,
            Status::Error(
                "Could not reach the server. Check your connection and try again.".into(),
            ),
        ),
        _ => Transition::stay(state),
    }
}

/// The part of [`transition`] driven by the peer connection's state, until the call first
/// connects. After that, a dropped link is something to restore, not the end: the controller
/// reports it with [`Trigger::Health`].
fn link_transition(state: CallState, link: LinkState) -> Transition {
    use CallState as S;
    match (state, link) {
        (S::Connecting, LinkState::Connected) => Transition::to(S::Connected, Status::Connected),
        (S::Connecting, LinkState::Failed) => Transition::to(S::Ended, Status::ConnectionFailed),
        _ => Transition::stay(state),
    }
}

/// The part of [`transition`] driven by [`Health`]: a connected call shows what is being
/// restored, and becomes `connected` again by itself once everything is back. Before the call
/// first connects, the state stays and only the status line tells of an outage.
fn health_transition(state: CallState, health: &Health) -> Transition {
    use CallState as S;
    let gap = health.interruption();
    match (state, gap) {
        (S::Connected | S::Reconnecting, None) => Transition::to(S::Connected, Status::Connected),
        (S::Connected | S::Reconnecting, Some(gap)) => {
            Transition::to(S::Reconnecting, Status::Reconnecting(gap))
        }
        (S::Waiting | S::Connecting, Some(gap @ (Interruption::Server | Interruption::Peer))) => {
            Transition::to(state, Status::Reconnecting(gap))
        }
        // Before the first connection the media path is not "interrupted", just not up yet.
        (S::Waiting, _) => Transition::to(
            S::Waiting,
            Status::Waiting {
                link: health.link.clone(),
            },
        ),
        (S::Connecting, _) => Transition::to(S::Connecting, Status::Connecting),
        _ => Transition::stay(state),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::status::Tone;

    fn after(state: CallState, trigger: Trigger) -> CallState {
        transition(state, &trigger).state
    }

    #[test]
    fn every_state_has_the_attribute_value_the_tests_expect() {
        let all = [
            (CallState::Idle, "idle"),
            (CallState::Waiting, "waiting"),
            (CallState::Connecting, "connecting"),
            (CallState::Connected, "connected"),
            (CallState::Reconnecting, "reconnecting"),
            (CallState::Full, "full"),
            (CallState::Ended, "ended"),
        ];
        for (state, name) in all {
            assert_eq!(state.as_str(), name);
        }
    }

    #[test]
    fn the_page_starts_idle() {
        assert_eq!(CallState::default(), CallState::Idle);
        assert_eq!(Status::default(), Status::Ready);
    }

    #[test]
    fn the_first_person_waits_with_a_link_to_share() {
        let t = transition(
            CallState::Idle,
            &Trigger::Created {
                link: "https://example.org/r/abc".into(),
            },
        );
        assert_eq!(t.state, CallState::Waiting);
        assert_eq!(
            t.status.as_ref().and_then(Status::link),
            Some("https://example.org/r/abc")
        );
    }

    #[test]
    fn the_caller_connects_when_the_other_person_arrives() {
        assert_eq!(
            after(CallState::Waiting, Trigger::NewPeer),
            CallState::Connecting
        );
    }

    #[test]
    fn the_callee_starts_connecting_when_admitted() {
        assert_eq!(
            after(CallState::Idle, Trigger::Joined),
            CallState::Connecting
        );
    }

    #[test]
    fn a_connected_peer_connection_means_connected() {
        let t = transition(CallState::Connecting, &Trigger::Link(LinkState::Connected));
        assert_eq!(t.state, CallState::Connected);
        assert_eq!(t.status, Some(Status::Connected));
    }

    #[test]
    fn intermediate_peer_connection_states_keep_connecting() {
        for link in [LinkState::New, LinkState::Connecting] {
            assert_eq!(
                after(CallState::Connecting, Trigger::Link(link)),
                CallState::Connecting
            );
        }
    }

    fn health(server_up: bool, peer_present: bool, media_up: bool) -> Trigger {
        Trigger::Health(Health {
            server_up,
            peer_present,
            media_up,
            link: "https://example.org/r/abc".into(),
        })
    }

    #[test]
    fn a_first_connection_that_fails_ends_the_call() {
        assert_eq!(
            after(CallState::Connecting, Trigger::Link(LinkState::Failed)),
            CallState::Ended
        );
    }

    #[test]
    fn a_connected_call_ignores_raw_link_changes_and_follows_health() {
        for link in [LinkState::Disconnected, LinkState::Failed] {
            assert_eq!(
                after(CallState::Connected, Trigger::Link(link)),
                CallState::Connected
            );
        }
        let t = transition(CallState::Connected, &health(true, true, false));
        assert_eq!(t.state, CallState::Reconnecting);
        assert_eq!(t.status, Some(Status::Reconnecting(Interruption::Media)));
        let t = transition(CallState::Reconnecting, &health(true, true, true));
        assert_eq!(t.state, CallState::Connected);
        assert_eq!(t.status, Some(Status::Connected));
    }

    #[test]
    fn the_most_fundamental_gap_is_named() {
        let cases = [
            (health(false, false, false), Interruption::Server),
            (health(false, true, true), Interruption::Server),
            (health(true, false, true), Interruption::Peer),
            (health(true, true, false), Interruption::Media),
        ];
        for (trigger, gap) in cases {
            let t = transition(CallState::Connected, &trigger);
            assert_eq!(t.status, Some(Status::Reconnecting(gap)), "{trigger:?}");
            assert_eq!(t.state, CallState::Reconnecting);
        }
    }

    #[test]
    fn an_outage_while_waiting_keeps_the_state_and_says_so() {
        let t = transition(CallState::Waiting, &health(false, false, false));
        assert_eq!(t.state, CallState::Waiting);
        assert_eq!(t.status, Some(Status::Reconnecting(Interruption::Server)));
        // Back: the link to share is shown again (a media path that is not up yet is no
        // outage before the first connection).
        let t = transition(CallState::Waiting, &health(true, true, false));
        assert_eq!(t.state, CallState::Waiting);
        assert_eq!(
            t.status.as_ref().and_then(Status::link),
            Some("https://example.org/r/abc")
        );
        let t = transition(CallState::Connecting, &health(true, true, false));
        assert_eq!(t, Transition::to(CallState::Connecting, Status::Connecting));
        let t = transition(CallState::Connecting, &health(true, false, false));
        assert_eq!(t.status, Some(Status::Reconnecting(Interruption::Peer)));
    }

    #[test]
    fn health_changes_nothing_outside_a_call() {
        for state in [CallState::Idle, CallState::Ended, CallState::Full] {
            let t = transition(state, &health(false, false, false));
            assert_eq!(t, Transition::stay(state));
        }
    }

    #[test]
    fn one_can_hang_up_while_reconnecting() {
        assert!(CallState::Reconnecting.in_room());
        assert_eq!(
            after(CallState::Reconnecting, Trigger::HungUp),
            CallState::Ended
        );
        assert_eq!(
            after(CallState::Reconnecting, Trigger::PeerLeft),
            CallState::Ended
        );
    }

    #[test]
    fn peer_connection_events_after_the_call_ended_change_nothing() {
        let t = transition(CallState::Ended, &Trigger::Link(LinkState::Connected));
        assert_eq!(t, Transition::stay(CallState::Ended));
    }

    #[test]
    fn a_full_room_is_reported() {
        let t = transition(CallState::Idle, &Trigger::Full);
        assert_eq!(t.state, CallState::Full);
        assert_eq!(t.status, Some(Status::RoomFull));
    }

    #[test]
    fn the_other_person_leaving_ends_the_call_from_any_in_room_state() {
        for state in [
            CallState::Waiting,
            CallState::Connecting,
            CallState::Connected,
        ] {
            let t = transition(state, &Trigger::PeerLeft);
            assert_eq!(t.state, CallState::Ended);
            assert_eq!(
                t.status.map(|s| s.text()),
                Some("The other person left.".into())
            );
        }
    }

    #[test]
    fn hanging_up_ends_the_call() {
        let t = transition(CallState::Connected, &Trigger::HungUp);
        assert_eq!(t.state, CallState::Ended);
        assert_eq!(t.status, Some(Status::HungUp));
    }

    #[test]
    fn hanging_up_outside_a_room_changes_nothing() {
        assert_eq!(
            transition(CallState::Idle, &Trigger::HungUp),
            Transition::stay(CallState::Idle)
        );
    }

    #[test]
    fn a_new_call_can_start_after_an_ended_or_full_call() {
        for state in [CallState::Ended, CallState::Full, CallState::Idle] {
            let t = transition(state, &Trigger::Starting);
            assert_eq!(t.state, CallState::Idle);
            assert_eq!(t.status, Some(Status::OpeningMedia));
        }
    }

    #[test]
    fn a_new_call_cannot_start_while_in_a_room() {
        assert_eq!(
            after(CallState::Connected, Trigger::Starting),
            CallState::Connected
        );
    }

    #[test]
    fn a_late_new_peer_is_ignored() {
        assert_eq!(after(CallState::Ended, Trigger::NewPeer), CallState::Ended);
        assert_eq!(after(CallState::Idle, Trigger::NewPeer), CallState::Idle);
    }

    #[test]
    fn losing_the_server_ends_a_call_but_not_an_idle_page() {
        assert_eq!(
            after(CallState::Connected, Trigger::ServerLost),
            CallState::Ended
        );
        let t = transition(CallState::Idle, &Trigger::ServerLost);
        assert_eq!(t.state, CallState::Idle);
        assert_eq!(t.status, Some(Status::ServerLost));
    }

    #[test]
    fn a_server_error_keeps_the_state_and_shows_plain_words() {
        let t = transition(
            CallState::Connected,
            &Trigger::ServerError {
                code: ErrorCode::RateLimited,
                message: "slow down".into(),
            },
        );
        assert_eq!(t.state, CallState::Connected);
        let status = t.status.unwrap_or_default();
        assert_eq!(status.tone(), Tone::Error);
        assert!(status.text().contains("wait a moment"));
    }

    #[test]
    fn a_call_that_cannot_be_set_up_ends_with_an_error() {
        let t = transition(CallState::Connecting, &Trigger::CallFailed("no way".into()));
        assert_eq!(t.state, CallState::Ended);
        assert_eq!(t.status, Some(Status::Error("no way".into())));
    }

    #[test]
    fn a_local_error_does_not_end_the_call() {
        let t = transition(
            CallState::Connected,
            &Trigger::LocalError("not sent".into()),
        );
        assert_eq!(t.state, CallState::Connected);
        assert_eq!(t.status.map(|s| s.tone()), Some(Tone::Error));
    }

    #[test]
    fn an_unreachable_server_keeps_the_page_idle_and_says_so() {
        let t = transition(CallState::Idle, &Trigger::ServerUnreachable);
        assert_eq!(t.state, CallState::Idle);
        assert!(t
            .status
            .is_some_and(|s| s.text().contains("Could not reach the server")));
    }

    #[test]
    fn hang_up_is_possible_exactly_in_the_in_room_states() {
        assert!(CallState::Waiting.in_room());
        assert!(CallState::Connecting.in_room());
        assert!(CallState::Connected.in_room());
        assert!(!CallState::Idle.in_room());
        assert!(!CallState::Full.in_room());
        assert!(!CallState::Ended.in_room());
    }

    #[test]
    fn a_connectivity_problem_ends_the_call_and_offers_the_check_page() {
        for state in [
            CallState::Waiting,
            CallState::Connecting,
            CallState::Connected,
        ] {
            let t = transition(state, &Trigger::IceProblem(IceProblem::NoRelay));
            assert_eq!(t.state, CallState::Ended);
            let status = t.status.unwrap_or_default();
            assert!(status.offers_check());
            assert_eq!(status.tone(), Tone::Error);
            assert_eq!(status.text(), IceProblem::NoRelay.text());
        }
    }

    #[test]
    fn a_late_connectivity_problem_outside_a_room_keeps_the_state() {
        let t = transition(
            CallState::Ended,
            &Trigger::IceProblem(IceProblem::RelayRefused { code: 401 }),
        );
        assert_eq!(t.state, CallState::Ended);
    }

    #[test]
    fn only_connectivity_problems_offer_the_check_page() {
        assert!(!Status::ConnectionFailed.offers_check());
        assert!(!Status::Error("x".into()).offers_check());
    }
}
