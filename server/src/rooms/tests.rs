//! The room rules, one test per promise: seats, relays, leaving, and seats surviving a lost
//! connection (grace periods, tokens, takeover, restarts, `fresh`).

use rand::SeedableRng;
use visavis_shared::IceCandidate;

use super::*;
use crate::seat_token::SECRET_BYTES;

const A: ConnId = ConnId(1);
const B: ConnId = ConnId(2);
const C: ConnId = ConnId(3);
const D: ConnId = ConnId(4);
const E: ConnId = ConnId(5);

const SECRET: [u8; SECRET_BYTES] = [7; SECRET_BYTES];
const GRACE_MS: u64 = 20_000;

fn new_rooms() -> Rooms {
    rooms_seeded(1)
}

/// Rooms as a (re)started server has them: same secret, its own randomness, no memory.
fn rooms_seeded(seed: u64) -> Rooms {
    Rooms::new(SeatSigner::new(&SECRET), StdRng::seed_from_u64(seed))
}

fn room(name: &str) -> RoomName {
    RoomName::try_from(name).expect("test fixture is valid")
}

fn join(rooms: &mut Rooms, conn: ConnId, name: &str) -> Vec<Outgoing> {
    let out = rooms.handle(
        conn,
        Input::Message(ClientMessage::Join { room: room(name) }),
    );
    rooms.check_invariants().expect("invariants hold");
    out
}

fn send(rooms: &mut Rooms, conn: ConnId, message: ClientMessage) -> Vec<Outgoing> {
    let out = rooms.handle(conn, Input::Message(message));
    rooms.check_invariants().expect("invariants hold");
    out
}

fn lose(rooms: &mut Rooms, conn: ConnId) -> Vec<Outgoing> {
    let out = rooms.handle(conn, Input::Lost);
    rooms.check_invariants().expect("invariants hold");
    out
}

fn rejoin(rooms: &mut Rooms, conn: ConnId, name: &str, token: &str, fresh: bool) -> Vec<Outgoing> {
    send(
        rooms,
        conn,
        ClientMessage::Rejoin {
            room: room(name),
            seat: token.to_owned(),
            fresh,
        },
    )
}

/// Ends every grace period started so far, as if the hub's timers all fired.
fn expire_all(rooms: &mut Rooms) -> Vec<Outgoing> {
    let mut out = Vec::new();
    for timer in rooms.take_grace_timers() {
        assert_eq!(timer.after, DEFAULT_GRACE);
        if let Some(more) = rooms.grace_expired(&timer.room, timer.absence) {
            out.extend(more);
        }
        rooms.check_invariants().expect("invariants hold");
    }
    out
}

fn error_code(out: &[Outgoing]) -> Option<ErrorCode> {
    match out {
        [(_, ServerMessage::Error { code, .. })] => Some(*code),
        _ => None,
    }
}

/// The newest seat token `out` gives `conn`.
fn token_for(out: &[Outgoing], conn: ConnId) -> String {
    out.iter()
        .rev()
        .filter(|(to, _)| *to == conn)
        .find_map(|(_, message)| match message {
            ServerMessage::Created { seat, .. }
            | ServerMessage::Joined { seat, .. }
            | ServerMessage::NewPeer { seat, .. } => seat.clone(),
            ServerMessage::Rejoined { seat, .. } => Some(seat.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no seat token for {conn} in {out:?}"))
}

/// `out` with every seat token blanked (after checking it is there), so that messages compare
/// by meaning.
fn strip(out: &[Outgoing]) -> Vec<Outgoing> {
    out.iter()
        .cloned()
        .map(|(to, message)| {
            let message = match message {
                ServerMessage::Created { room, seat } => {
                    assert!(seat.is_some(), "created without a token");
                    ServerMessage::Created { room, seat: None }
                }
                ServerMessage::Joined { room, seat } => {
                    assert!(seat.is_some(), "joined without a token");
                    ServerMessage::Joined { room, seat: None }
                }
                ServerMessage::NewPeer { room, seat } => {
                    assert!(seat.is_some(), "new_peer without a token");
                    ServerMessage::NewPeer { room, seat: None }
                }
                ServerMessage::Rejoined {
                    room,
                    seat,
                    peer_present,
                } => {
                    assert!(!seat.is_empty(), "rejoined without a token");
                    ServerMessage::Rejoined {
                        room,
                        seat: String::new(),
                        peer_present,
                    }
                }
                other => other,
            };
            (to, message)
        })
        .collect()
}

fn created(name: &str) -> ServerMessage {
    ServerMessage::Created {
        room: room(name),
        seat: None,
    }
}

fn joined(name: &str) -> ServerMessage {
    ServerMessage::Joined {
        room: room(name),
        seat: None,
    }
}

fn new_peer(name: &str) -> ServerMessage {
    ServerMessage::NewPeer {
        room: room(name),
        seat: None,
    }
}

fn rejoined(name: &str, peer_present: bool) -> ServerMessage {
    ServerMessage::Rejoined {
        room: room(name),
        seat: String::new(),
        peer_present,
    }
}

fn reconnecting(name: &str) -> ServerMessage {
    ServerMessage::PeerReconnecting {
        room: room(name),
        grace_ms: GRACE_MS,
    }
}

fn reconnected(name: &str) -> ServerMessage {
    ServerMessage::PeerReconnected { room: room(name) }
}

fn bye(name: &str) -> ServerMessage {
    ServerMessage::Bye { room: room(name) }
}

fn invite(sdp: &str) -> ClientMessage {
    ClientMessage::Invite { sdp: sdp.into() }
}

fn relayed(sdp: &str) -> ServerMessage {
    ServerMessage::Invite { sdp: sdp.into() }
}

/// Rooms with A (Caller) and B (Callee) in "r", and their current tokens.
fn pair() -> (Rooms, String, String) {
    let mut rooms = new_rooms();
    join(&mut rooms, A, "r");
    let out = join(&mut rooms, B, "r");
    let (a, b) = (token_for(&out, A), token_for(&out, B));
    (rooms, a, b)
}

// --- Seats, relays and leaving ---

#[test]
fn the_first_join_creates_the_room() {
    let mut rooms = new_rooms();
    assert_eq!(strip(&join(&mut rooms, A, "r")), vec![(A, created("r"))]);
}

#[test]
fn the_second_join_is_joined_and_the_first_hears_new_peer() {
    let mut rooms = new_rooms();
    join(&mut rooms, A, "r");
    assert_eq!(
        strip(&join(&mut rooms, B, "r")),
        vec![(B, joined("r")), (A, new_peer("r"))]
    );
}

#[test]
fn a_third_join_is_full_and_not_admitted() {
    let (mut rooms, _, _) = pair();
    assert_eq!(
        join(&mut rooms, C, "r"),
        vec![(C, ServerMessage::Full { room: room("r") })]
    );
    assert_eq!(rooms.room_of(C), None);
    assert_eq!(
        error_code(&send(&mut rooms, C, invite("x"))),
        Some(ErrorCode::NotInRoom)
    );
}

#[test]
fn an_offer_goes_to_the_other_peer_only() {
    let (mut rooms, _, _) = pair();
    join(&mut rooms, C, "elsewhere");
    assert_eq!(
        send(&mut rooms, A, invite("offer")),
        vec![(B, relayed("offer"))]
    );
}

#[test]
fn an_answer_and_candidates_go_back_the_other_way() {
    let (mut rooms, _, _) = pair();
    assert_eq!(
        send(
            &mut rooms,
            B,
            ClientMessage::Ok {
                sdp: "answer".into()
            }
        ),
        vec![(
            A,
            ServerMessage::Ok {
                sdp: "answer".into()
            }
        )]
    );
    assert_eq!(
        send(
            &mut rooms,
            B,
            ClientMessage::IceCandidate { candidate: None }
        ),
        vec![(A, ServerMessage::IceCandidate { candidate: None })]
    );
}

#[test]
fn a_relay_while_alone_reaches_nobody_and_is_not_an_error() {
    let mut rooms = new_rooms();
    join(&mut rooms, A, "r");
    assert!(send(&mut rooms, A, invite("o")).is_empty());
}

#[test]
fn a_relay_before_joining_is_not_in_room() {
    let mut rooms = new_rooms();
    assert_eq!(
        error_code(&send(&mut rooms, A, ClientMessage::Ok { sdp: "a".into() })),
        Some(ErrorCode::NotInRoom)
    );
}

#[test]
fn a_second_join_while_seated_is_already_in_room_and_changes_nothing() {
    let (mut rooms, _, _) = pair();
    assert_eq!(
        error_code(&join(&mut rooms, A, "other")),
        Some(ErrorCode::AlreadyInRoom)
    );
    assert_eq!(rooms.room_of(A), Some(&room("r")));
    assert_eq!(rooms.room_count(), 1);
}

#[test]
fn bye_tells_the_other_peer_and_the_answering_bye_goes_nowhere() {
    let (mut rooms, _, _) = pair();
    assert_eq!(
        send(&mut rooms, A, ClientMessage::Bye { room: room("r") }),
        vec![(B, bye("r"))]
    );
    assert!(send(&mut rooms, B, ClientMessage::Bye { room: room("r") }).is_empty());
    assert_eq!(rooms.room_count(), 0);
}

#[test]
fn a_clean_disconnect_counts_as_bye_at_once_and_frees_the_seat() {
    let (mut rooms, a, _) = pair();
    assert_eq!(rooms.handle(A, Input::Disconnected), vec![(B, bye("r"))]);
    assert!(rooms.take_grace_timers().is_empty(), "no grace period");
    assert_eq!(
        strip(&join(&mut rooms, C, "r")),
        vec![(C, joined("r")), (B, new_peer("r"))]
    );
    // The seat is gone for good: its token no longer takes anything back.
    assert_eq!(
        error_code(&rejoin(&mut rooms, D, "r", &a, false)),
        Some(ErrorCode::SeatExpired)
    );
}

#[test]
fn a_bye_from_nobody_is_ignored() {
    let mut rooms = new_rooms();
    assert!(send(&mut rooms, A, ClientMessage::Bye { room: room("r") }).is_empty());
    assert!(rooms.handle(A, Input::Disconnected).is_empty());
    assert!(rooms.handle(A, Input::Lost).is_empty());
    assert!(rooms.take_grace_timers().is_empty());
}

#[test]
fn an_empty_room_is_forgotten_and_can_be_created_again() {
    let mut rooms = new_rooms();
    join(&mut rooms, A, "r");
    rooms.handle(A, Input::Disconnected);
    assert_eq!(rooms.room_count(), 0);
    assert_eq!(strip(&join(&mut rooms, B, "r")), vec![(B, created("r"))]);
}

#[test]
fn an_sdp_over_64_kib_is_refused_and_not_relayed() {
    let (mut rooms, _, _) = pair();
    let out = send(&mut rooms, A, invite(&"x".repeat(MAX_SDP_BYTES + 1)));
    assert_eq!(error_code(&out), Some(ErrorCode::SdpTooLarge));
    assert_eq!(out[0].0, A);
    let out = send(
        &mut rooms,
        A,
        ClientMessage::Ok {
            sdp: "x".repeat(MAX_SDP_BYTES + 1),
        },
    );
    assert_eq!(error_code(&out), Some(ErrorCode::SdpTooLarge));
}

#[test]
fn an_sdp_of_exactly_64_kib_is_relayed() {
    let (mut rooms, _, _) = pair();
    let out = send(&mut rooms, A, invite(&"x".repeat(MAX_SDP_BYTES)));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, B);
}

#[test]
fn a_candidate_over_2_kib_is_refused_and_not_relayed() {
    let (mut rooms, _, _) = pair();
    let big = IceCandidate {
        candidate: "c".repeat(MAX_CANDIDATE_BYTES + 1),
        sdp_mid: None,
        sdp_m_line_index: None,
        username_fragment: None,
    };
    let out = send(
        &mut rooms,
        A,
        ClientMessage::IceCandidate {
            candidate: Some(big),
        },
    );
    assert_eq!(error_code(&out), Some(ErrorCode::CandidateTooLarge));
    assert_eq!(out[0].0, A);
}

#[test]
fn a_new_room_beyond_the_cap_is_server_busy_but_existing_rooms_still_fill() {
    let mut rooms = new_rooms().with_room_limit(1);
    join(&mut rooms, A, "r");
    assert_eq!(
        error_code(&join(&mut rooms, C, "other")),
        Some(ErrorCode::ServerBusy)
    );
    assert!(matches!(
        join(&mut rooms, B, "r")[0].1,
        ServerMessage::Joined { .. }
    ));
}

#[test]
fn rooms_do_not_talk_to_each_other() {
    let mut rooms = new_rooms();
    for i in 0..200u64 {
        join(&mut rooms, ConnId(2 * i), &format!("room-{i}"));
        join(&mut rooms, ConnId(2 * i + 1), &format!("room-{i}"));
    }
    for i in 0..200u64 {
        let sdp = format!("offer-{i}");
        assert_eq!(
            send(&mut rooms, ConnId(2 * i), invite(&sdp)),
            vec![(ConnId(2 * i + 1), relayed(&sdp))]
        );
    }
}

// --- Tokens ---

#[test]
fn every_issue_rotates_the_token_and_using_one_spends_the_older_ones() {
    let mut rooms = new_rooms();
    let first = token_for(&join(&mut rooms, A, "r"), A);
    let out = join(&mut rooms, B, "r");
    let second = token_for(&out, A);
    assert_ne!(first, second);
    lose(&mut rooms, A);

    let out = rejoin(&mut rooms, C, "r", &second, false);
    let third = token_for(&out, C);
    assert_ne!(third, second);
    lose(&mut rooms, C);
    // `second` was used: the token from `created`, issued before it, is spent.
    assert_eq!(
        error_code(&rejoin(&mut rooms, D, "r", &first, false)),
        Some(ErrorCode::SeatInvalid)
    );
    let out = rejoin(&mut rooms, D, "r", &third, false);
    assert_eq!(
        strip(&out),
        vec![(D, rejoined("r", true)), (B, reconnected("r"))]
    );
    let fourth = token_for(&out, D);
    lose(&mut rooms, D);
    // And now `third` was used, `second` is spent too.
    assert_eq!(
        error_code(&rejoin(&mut rooms, E, "r", &second, false)),
        Some(ErrorCode::SeatInvalid)
    );
    assert_eq!(
        strip(&rejoin(&mut rooms, E, "r", &fourth, false)),
        vec![(E, rejoined("r", true)), (B, reconnected("r"))]
    );
}

#[test]
fn a_token_whose_replacement_was_lost_with_its_socket_still_reclaims_the_seat() {
    let (mut rooms, a, _) = pair();
    lose(&mut rooms, A);
    // C rejoins, and its socket dies before the browser reads `rejoined` and its new token.
    let unread = token_for(&rejoin(&mut rooms, C, "r", &a, false), C);
    lose(&mut rooms, C);
    // The browser comes back with the token it has.
    assert_eq!(
        strip(&rejoin(&mut rooms, D, "r", &a, false)),
        vec![(D, rejoined("r", true)), (B, reconnected("r"))]
    );
    // Not while the server still thinks a socket holds the seat: taking over a live-looking
    // seat needs the newest token, which D's page has.
    assert_eq!(
        error_code(&rejoin(&mut rooms, E, "r", &a, false)),
        Some(ErrorCode::SeatInvalid)
    );
    assert!(rooms.take_connections_to_close().is_empty());
    // The token that was never read works as well as the one that was.
    lose(&mut rooms, D);
    assert_eq!(
        strip(&rejoin(&mut rooms, C, "r", &unread, false)),
        vec![(C, rejoined("r", true)), (B, reconnected("r"))]
    );
    rooms.check_invariants().expect("invariants");
}

#[test]
fn a_new_peer_token_lost_with_its_socket_does_not_spend_the_one_before() {
    let mut rooms = new_rooms();
    let created_token = token_for(&join(&mut rooms, A, "r"), A);
    // B joins; A's socket is already dead and never reads `new_peer` (nor its token).
    join(&mut rooms, B, "r");
    lose(&mut rooms, A);
    assert_eq!(
        strip(&rejoin(&mut rooms, C, "r", &created_token, false)),
        vec![(C, rejoined("r", true)), (B, reconnected("r"))]
    );
}

#[test]
fn a_forged_or_garbage_token_is_seat_invalid() {
    let (mut rooms, a, _) = pair();
    lose(&mut rooms, A);
    let claim = SeatSigner::new(&SECRET).verify(&a).expect("a valid token");
    let forged = SeatSigner::new(&[8; SECRET_BYTES]).issue(&claim);
    for token in [forged.as_str(), "", "v1.e30.AAAA", &a[..a.len() - 1]] {
        assert_eq!(
            error_code(&rejoin(&mut rooms, C, "r", token, false)),
            Some(ErrorCode::SeatInvalid),
            "{token:?}"
        );
        assert_eq!(rooms.room_of(C), None);
    }
}

#[test]
fn a_token_of_another_room_is_seat_invalid() {
    let (mut rooms, a, _) = pair();
    join(&mut rooms, D, "s");
    lose(&mut rooms, A);
    assert_eq!(
        error_code(&rejoin(&mut rooms, C, "s", &a, false)),
        Some(ErrorCode::SeatInvalid)
    );
    // Nor does it open a room of that name.
    assert_eq!(
        error_code(&rejoin(&mut rooms, C, "t", &a, false)),
        Some(ErrorCode::SeatInvalid)
    );
    assert_eq!(rooms.room_count(), 2);
}

#[test]
fn a_token_of_an_ended_call_is_seat_expired_and_rebuilds_nothing() {
    let mut rooms = new_rooms();
    let a = token_for(&join(&mut rooms, A, "r"), A);
    send(&mut rooms, A, ClientMessage::Bye { room: room("r") });
    assert_eq!(rooms.room_count(), 0);
    assert_eq!(
        error_code(&rejoin(&mut rooms, C, "r", &a, false)),
        Some(ErrorCode::SeatExpired)
    );
    assert_eq!(rooms.room_count(), 0);
}

#[test]
fn a_token_of_an_earlier_call_in_a_reopened_room_is_seat_expired() {
    let (mut rooms, a, _) = pair();
    rooms.handle(A, Input::Disconnected);
    rooms.handle(B, Input::Disconnected);
    join(&mut rooms, D, "r");
    assert_eq!(
        error_code(&rejoin(&mut rooms, C, "r", &a, false)),
        Some(ErrorCode::SeatExpired)
    );
}

#[test]
fn a_rejoin_while_seated_is_already_in_room() {
    let (mut rooms, _, b) = pair();
    lose(&mut rooms, B);
    join(&mut rooms, C, "other");
    assert_eq!(
        error_code(&rejoin(&mut rooms, C, "r", &b, false)),
        Some(ErrorCode::AlreadyInRoom)
    );
    assert_eq!(rooms.room_of(C), Some(&room("other")));
}

#[test]
fn the_ended_call_memory_is_bounded() {
    let mut ended = EndedCalls::default();
    for call in 0..=ENDED_CALLS_REMEMBERED as u64 {
        ended.insert(call);
    }
    assert!(!ended.contains(0));
    assert!(ended.contains(1));
    assert!(ended.contains(ENDED_CALLS_REMEMBERED as u64));
    assert_eq!(ended.order.len(), ENDED_CALLS_REMEMBERED);
    assert_eq!(ended.set.len(), ENDED_CALLS_REMEMBERED);
}

// --- Grace periods ---

#[test]
fn a_lost_connection_holds_the_seat_and_tells_the_partner() {
    let (mut rooms, _, _) = pair();
    assert_eq!(lose(&mut rooms, A), vec![(B, reconnecting("r"))]);
    assert_eq!(rooms.room_of(A), None);
    assert_eq!(rooms.room_count(), 1);
    let timers = rooms.take_grace_timers();
    assert_eq!(timers.len(), 1);
    assert_eq!(timers[0].room, room("r"));
    assert_eq!(timers[0].after, DEFAULT_GRACE);
}

#[test]
fn the_grace_period_is_configurable() {
    let mut rooms = new_rooms().with_grace(Duration::from_millis(1500));
    join(&mut rooms, A, "r");
    join(&mut rooms, B, "r");
    assert_eq!(
        lose(&mut rooms, A),
        vec![(
            B,
            ServerMessage::PeerReconnecting {
                room: room("r"),
                grace_ms: 1500
            }
        )]
    );
    assert_eq!(
        rooms.take_grace_timers()[0].after,
        Duration::from_millis(1500)
    );
}

#[test]
fn a_lost_seat_is_reclaimed_and_the_partner_hears_peer_reconnected() {
    let (mut rooms, a, _) = pair();
    lose(&mut rooms, A);
    assert_eq!(
        strip(&rejoin(&mut rooms, C, "r", &a, false)),
        vec![(C, rejoined("r", true)), (B, reconnected("r"))]
    );
    assert_eq!(rooms.room_of(C), Some(&room("r")));
    assert_eq!(
        send(&mut rooms, C, invite("again")),
        vec![(B, relayed("again"))]
    );
    assert_eq!(
        send(&mut rooms, B, invite("back")),
        vec![(C, relayed("back"))]
    );
}

#[test]
fn relays_to_an_away_seat_are_dropped_silently() {
    let (mut rooms, _, _) = pair();
    lose(&mut rooms, A);
    assert!(send(&mut rooms, B, invite("lost")).is_empty());
    assert!(send(
        &mut rooms,
        B,
        ClientMessage::IceCandidate { candidate: None }
    )
    .is_empty());
}

#[test]
fn a_third_person_gets_full_while_a_seat_is_away() {
    let (mut rooms, _, _) = pair();
    lose(&mut rooms, A);
    assert_eq!(
        join(&mut rooms, C, "r"),
        vec![(C, ServerMessage::Full { room: room("r") })]
    );
}

#[test]
fn when_the_grace_period_runs_out_the_partner_gets_bye_and_the_seat_is_free() {
    let (mut rooms, a, _) = pair();
    lose(&mut rooms, A);
    assert_eq!(expire_all(&mut rooms), vec![(B, bye("r"))]);
    assert_eq!(
        error_code(&rejoin(&mut rooms, C, "r", &a, false)),
        Some(ErrorCode::SeatExpired)
    );
    assert_eq!(
        strip(&join(&mut rooms, D, "r")),
        vec![(D, joined("r")), (B, new_peer("r"))]
    );
}

#[test]
fn the_last_seat_expiring_ends_the_call() {
    let mut rooms = new_rooms();
    let a = token_for(&join(&mut rooms, A, "r"), A);
    assert!(lose(&mut rooms, A).is_empty());
    assert!(expire_all(&mut rooms).is_empty());
    assert_eq!(rooms.room_count(), 0);
    assert_eq!(
        error_code(&rejoin(&mut rooms, C, "r", &a, false)),
        Some(ErrorCode::SeatExpired)
    );
}

#[test]
fn an_expiry_after_the_seat_was_reclaimed_does_nothing() {
    let (mut rooms, a, _) = pair();
    lose(&mut rooms, A);
    let timers = rooms.take_grace_timers();
    let c = token_for(&rejoin(&mut rooms, C, "r", &a, false), C);
    assert_eq!(
        rooms.grace_expired(&timers[0].room, timers[0].absence),
        None
    );
    assert_eq!(rooms.room_of(C), Some(&room("r")));

    // Lost again: only the new absence's timer frees the seat.
    lose(&mut rooms, C);
    assert_eq!(
        rooms.grace_expired(&timers[0].room, timers[0].absence),
        None
    );
    assert_eq!(expire_all(&mut rooms), vec![(B, bye("r"))]);
    assert_eq!(
        error_code(&rejoin(&mut rooms, D, "r", &c, false)),
        Some(ErrorCode::SeatExpired)
    );
}

#[test]
fn a_rejoin_of_a_live_seat_takes_it_over_without_a_bye() {
    let (mut rooms, a, _) = pair();
    // A's socket died, but the server has not noticed yet.
    assert_eq!(
        strip(&rejoin(&mut rooms, C, "r", &a, false)),
        vec![(C, rejoined("r", true)), (B, reconnected("r"))]
    );
    assert_eq!(rooms.take_connections_to_close(), vec![A]);
    assert_eq!(rooms.room_of(A), None);
    assert_eq!(rooms.room_of(C), Some(&room("r")));
    // The old connection's end, when noticed, changes nothing.
    assert!(rooms.handle(A, Input::Lost).is_empty());
    assert!(rooms.handle(A, Input::Disconnected).is_empty());
    assert!(rooms.take_grace_timers().is_empty());
    assert_eq!(send(&mut rooms, B, invite("o")), vec![(C, relayed("o"))]);
}

#[test]
fn a_clean_leave_while_the_partner_is_away_is_told_on_its_return() {
    let (mut rooms, a, _) = pair();
    lose(&mut rooms, A);
    assert!(send(&mut rooms, B, ClientMessage::Bye { room: room("r") }).is_empty());
    assert_eq!(
        strip(&rejoin(&mut rooms, C, "r", &a, false)),
        vec![(C, rejoined("r", false)), (C, bye("r"))]
    );
}

#[test]
fn a_newcomer_while_the_first_is_away_waits_and_the_first_starts_the_call_on_return() {
    let mut rooms = new_rooms();
    let a = token_for(&join(&mut rooms, A, "r"), A);
    lose(&mut rooms, A);
    assert_eq!(
        strip(&join(&mut rooms, B, "r")),
        vec![(B, joined("r")), (B, reconnecting("r"))]
    );
    let out = rejoin(&mut rooms, C, "r", &a, false);
    assert_eq!(
        strip(&out),
        vec![
            (C, rejoined("r", true)),
            (C, new_peer("r")),
            (B, reconnected("r"))
        ]
    );
    // The token in new_peer is the current one, and it says paired.
    let claim = SeatSigner::new(&SECRET)
        .verify(&token_for(&out, C))
        .expect("a valid token");
    assert!(claim.paired);
}

// --- fresh ---

#[test]
fn a_fresh_rejoin_sends_the_partner_new_peer_with_a_new_token() {
    let (mut rooms, a, b) = pair();
    lose(&mut rooms, A);
    let out = rejoin(&mut rooms, C, "r", &a, true);
    assert_eq!(
        strip(&out),
        vec![(C, rejoined("r", true)), (B, new_peer("r"))]
    );
    let b2 = token_for(&out, B);
    assert_ne!(b, b2);
    lose(&mut rooms, B);
    assert_eq!(
        strip(&rejoin(&mut rooms, D, "r", &b2, false)),
        vec![(D, rejoined("r", true)), (C, reconnected("r"))]
    );
    // Once the token from new_peer is used, the one before it is spent.
    lose(&mut rooms, D);
    assert_eq!(
        error_code(&rejoin(&mut rooms, E, "r", &b, false)),
        Some(ErrorCode::SeatInvalid)
    );
}

#[test]
fn a_fresh_rejoin_while_the_partner_is_away_gives_the_partner_new_peer_on_its_return() {
    let (mut rooms, a, b) = pair();
    lose(&mut rooms, A);
    lose(&mut rooms, B);
    assert_eq!(
        strip(&rejoin(&mut rooms, C, "r", &a, true)),
        vec![(C, rejoined("r", false))]
    );
    let out = rejoin(&mut rooms, D, "r", &b, false);
    assert_eq!(
        strip(&out),
        vec![
            (D, rejoined("r", true)),
            (D, new_peer("r")),
            (C, reconnected("r"))
        ]
    );
    // Owed once only: another loss and return is a plain reconnection.
    let d = token_for(&out, D);
    lose(&mut rooms, D);
    assert_eq!(
        strip(&rejoin(&mut rooms, E, "r", &d, false)),
        vec![(E, rejoined("r", true)), (C, reconnected("r"))]
    );
}

// --- Server restart ---

/// A pair seated on one server, and the tokens they hold when it goes away.
fn tokens_of_a_pair_before_a_restart() -> (String, String) {
    let (rooms, a, b) = pair();
    drop(rooms);
    (a, b)
}

#[test]
fn after_a_restart_the_room_is_rebuilt_with_a_reserved_seat_for_the_partner() {
    let (a, b) = tokens_of_a_pair_before_a_restart();
    let mut rooms = rooms_seeded(2);

    assert_eq!(
        strip(&rejoin(&mut rooms, C, "r", &a, false)),
        vec![(C, rejoined("r", false))]
    );
    assert_eq!(rooms.room_count(), 1);
    assert_eq!(
        rooms.take_grace_timers().len(),
        1,
        "the reservation is timed"
    );
    // The reserved seat is taken: a stranger finds the room full.
    assert_eq!(
        join(&mut rooms, E, "r"),
        vec![(E, ServerMessage::Full { room: room("r") })]
    );
    // The partner's token of the same call takes the reserved seat.
    assert_eq!(
        strip(&rejoin(&mut rooms, D, "r", &b, false)),
        vec![(D, rejoined("r", true)), (C, reconnected("r"))]
    );
    assert_eq!(send(&mut rooms, C, invite("o")), vec![(D, relayed("o"))]);
    assert_eq!(send(&mut rooms, D, invite("a")), vec![(C, relayed("a"))]);
    assert_eq!(
        send(&mut rooms, C, ClientMessage::Bye { room: room("r") }),
        vec![(D, bye("r"))]
    );
}

#[test]
fn after_a_restart_the_token_that_rebuilt_works_until_a_newer_one_is_used() {
    let (a, _) = tokens_of_a_pair_before_a_restart();
    let mut rooms = rooms_seeded(2);
    rejoin(&mut rooms, C, "r", &a, false);
    rooms.handle(C, Input::Lost);
    // `rejoined` may have been lost with C's socket: the same token still works.
    let out = rejoin(&mut rooms, D, "r", &a, false);
    assert_eq!(strip(&out), vec![(D, rejoined("r", false))]);
    let newer = token_for(&out, D);
    rooms.handle(D, Input::Lost);
    assert_eq!(
        strip(&rejoin(&mut rooms, E, "r", &newer, false)),
        vec![(E, rejoined("r", false))]
    );
    rooms.handle(E, Input::Lost);
    assert_eq!(
        error_code(&rejoin(&mut rooms, C, "r", &a, false)),
        Some(ErrorCode::SeatInvalid)
    );
}

#[test]
fn after_a_restart_an_unclaimed_reservation_expires_with_a_bye() {
    let (a, b) = tokens_of_a_pair_before_a_restart();
    let mut rooms = rooms_seeded(2);
    rejoin(&mut rooms, C, "r", &a, false);
    assert_eq!(expire_all(&mut rooms), vec![(C, bye("r"))]);
    assert_eq!(
        error_code(&rejoin(&mut rooms, D, "r", &b, false)),
        Some(ErrorCode::SeatExpired)
    );
    // The seat is free for someone new.
    assert_eq!(
        strip(&join(&mut rooms, E, "r")),
        vec![(E, joined("r")), (C, new_peer("r"))]
    );
}

#[test]
fn after_a_restart_a_lone_seat_is_rebuilt_without_a_reservation() {
    let mut before = new_rooms();
    let a = token_for(&join(&mut before, A, "r"), A);
    drop(before);
    let mut rooms = rooms_seeded(2);
    assert_eq!(
        strip(&rejoin(&mut rooms, C, "r", &a, false)),
        vec![(C, rejoined("r", false))]
    );
    assert!(rooms.take_grace_timers().is_empty());
    assert_eq!(
        strip(&join(&mut rooms, D, "r")),
        vec![(D, joined("r")), (C, new_peer("r"))]
    );
}

#[test]
fn after_a_restart_a_fresh_rebuilder_is_called_by_the_partner() {
    let (a, b) = tokens_of_a_pair_before_a_restart();
    let mut rooms = rooms_seeded(2);
    rejoin(&mut rooms, C, "r", &a, true);
    assert_eq!(
        strip(&rejoin(&mut rooms, D, "r", &b, false)),
        vec![
            (D, rejoined("r", true)),
            (D, new_peer("r")),
            (C, reconnected("r"))
        ]
    );
}

#[test]
fn after_a_restart_rebuilding_counts_against_the_room_limit() {
    let (a, _) = tokens_of_a_pair_before_a_restart();
    let mut rooms = rooms_seeded(2).with_room_limit(1);
    join(&mut rooms, E, "other");
    assert_eq!(
        error_code(&rejoin(&mut rooms, C, "r", &a, false)),
        Some(ErrorCode::ServerBusy)
    );
    assert_eq!(rooms.room_count(), 1);
}

#[test]
fn a_server_with_another_secret_refuses_the_tokens() {
    let (a, _) = tokens_of_a_pair_before_a_restart();
    let mut rooms = Rooms::new(
        SeatSigner::new(&[9; SECRET_BYTES]),
        StdRng::seed_from_u64(2),
    );
    assert_eq!(
        error_code(&rejoin(&mut rooms, C, "r", &a, false)),
        Some(ErrorCode::SeatInvalid)
    );
    assert_eq!(rooms.room_count(), 0);
}

// --- Leaving: a page going away holds its seat only briefly ---

fn leaving(rooms: &mut Rooms, conn: ConnId) -> Vec<Outgoing> {
    send(rooms, conn, ClientMessage::Leaving)
}

#[test]
fn leaving_alone_tells_nobody_and_keeps_the_seat() {
    let (mut rooms, _, _) = pair();
    assert!(leaving(&mut rooms, A).is_empty());
    assert_eq!(rooms.room_of(A), Some(&room("r")));
    assert_eq!(
        send(&mut rooms, A, invite("still here")),
        vec![(B, relayed("still here"))]
    );
    assert!(rooms.take_grace_timers().is_empty());
}

#[test]
fn a_socket_lost_after_leaving_is_held_for_the_leaving_grace_only() {
    let (mut rooms, _, _) = pair();
    leaving(&mut rooms, A);
    assert_eq!(
        lose(&mut rooms, A),
        vec![(
            B,
            ServerMessage::PeerReconnecting {
                room: room("r"),
                grace_ms: 3_000
            }
        )]
    );
    let timers = rooms.take_grace_timers();
    assert_eq!(timers.len(), 1);
    assert_eq!(timers[0].after, DEFAULT_LEAVING_GRACE);
    assert_eq!(
        rooms.grace_expired(&timers[0].room, timers[0].absence),
        Some(vec![(B, bye("r"))])
    );
    rooms.check_invariants().expect("invariants hold");
}

#[test]
fn the_leaving_grace_is_configurable() {
    let mut rooms = new_rooms().with_leaving_grace(Duration::from_millis(700));
    join(&mut rooms, A, "r");
    join(&mut rooms, B, "r");
    leaving(&mut rooms, B);
    assert_eq!(
        lose(&mut rooms, B),
        vec![(
            A,
            ServerMessage::PeerReconnecting {
                room: room("r"),
                grace_ms: 700
            }
        )]
    );
    assert_eq!(
        rooms.take_grace_timers()[0].after,
        Duration::from_millis(700)
    );
}

#[test]
fn a_reload_after_leaving_reclaims_the_seat_within_the_leaving_grace() {
    let (mut rooms, a, _) = pair();
    leaving(&mut rooms, A);
    lose(&mut rooms, A);
    let timers = rooms.take_grace_timers();
    let out = rejoin(&mut rooms, C, "r", &a, true);
    let c = token_for(&out, C);
    assert_eq!(
        strip(&out),
        vec![(C, rejoined("r", true)), (B, new_peer("r"))]
    );
    // The short timer of the old absence finds the seat taken back: nothing happens.
    assert_eq!(
        rooms.grace_expired(&timers[0].room, timers[0].absence),
        None
    );
    // The reloaded page did not say `leaving`: losing it now holds the full grace period.
    assert_eq!(lose(&mut rooms, C), vec![(B, reconnecting("r"))]);
    assert_eq!(expire_all(&mut rooms), vec![(B, bye("r"))]);
    assert_eq!(
        error_code(&rejoin(&mut rooms, D, "r", &c, false)),
        Some(ErrorCode::SeatExpired)
    );
}

#[test]
fn leaving_then_a_clean_close_frees_the_seat_at_once() {
    let (mut rooms, _, _) = pair();
    leaving(&mut rooms, A);
    let out = rooms.handle(A, Input::Disconnected);
    rooms.check_invariants().expect("invariants hold");
    assert_eq!(out, vec![(B, bye("r"))]);
    assert!(rooms.take_grace_timers().is_empty());
}

#[test]
fn leaving_without_a_seat_is_ignored() {
    let mut rooms = new_rooms();
    assert!(leaving(&mut rooms, A).is_empty());
    join(&mut rooms, A, "r");
    join(&mut rooms, B, "r");
    // The earlier `leaving` was not remembered: this loss holds the full grace period.
    assert_eq!(lose(&mut rooms, A), vec![(B, reconnecting("r"))]);
    assert_eq!(rooms.take_grace_timers()[0].after, DEFAULT_GRACE);
}

#[test]
fn a_leaving_connection_replaced_by_a_rejoin_is_forgotten() {
    let (mut rooms, a, _) = pair();
    leaving(&mut rooms, A);
    // Its socket is not noticed dead yet when the reloaded page takes the seat over.
    let out = rejoin(&mut rooms, C, "r", &a, true);
    assert_eq!(rooms.take_connections_to_close(), vec![A]);
    token_for(&out, C);
    // The old socket's end changes nothing; the new one holds the full grace period.
    assert!(lose(&mut rooms, A).is_empty());
    assert_eq!(lose(&mut rooms, C), vec![(B, reconnecting("r"))]);
    assert_eq!(rooms.take_grace_timers()[0].after, DEFAULT_GRACE);
}

#[test]
fn a_removed_room_is_forgotten_with_its_seats_and_its_budget() {
    // Cluster mode: another node owns the room now; this node lets go without a word.
    let mut rooms = new_rooms().with_room_limit(1);
    join(&mut rooms, A, "kitchen");
    join(&mut rooms, B, "kitchen");
    lose(&mut rooms, B);
    let mut removed = rooms.remove_room(&room("kitchen"));
    removed.sort();
    assert_eq!(removed, vec![A], "only present seats have sockets to close");
    rooms.check_invariants().expect("invariants hold");
    assert_eq!(rooms.room_count(), 0);
    assert_eq!(rooms.room_of(A), None);
    assert!(rooms.remove_room(&room("kitchen")).is_empty());
    // Its grace timer ends in nothing, and its place under the room limit is free again.
    assert!(expire_all(&mut rooms).is_empty());
    assert_eq!(
        strip(&join(&mut rooms, C, "garden")),
        vec![(C, created("garden"))]
    );
}
