//! Property-based fuzzing of the frame decoder and the room logic: at least 100k generated inputs
//! per run. Nothing may panic, and the room invariants must hold after every step: at most two
//! per room, no relay outside the sender's room, nothing but refusals to unseated connections,
//! and the same through lost connections, rejoins with current, stale and bad tokens, grace
//! periods ending, and server restarts.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::{json, Value};
use visavis::hub::routing::{RoomOwners, Route, SeatTracker};
use visavis::rooms::{ConnId, GraceTimer, Input, Outgoing, RoomBudget, Rooms};
use visavis::seat_token::SeatSigner;
use visavis_shared::{decode_client_message, ClientMessage, IceCandidate, RoomName, ServerMessage};

/// Generated inputs per property; the two properties together exceed 100k cases, and every room
/// case is a sequence of many steps.
const CASES: u32 = 60_000;

/// JSON values shaped like client messages, with every field sometimes missing, mistyped or
/// oversized, so the decoder's error paths are exercised as much as its happy path.
fn message_like_json() -> impl Strategy<Value = String> {
    let kind = prop_oneof![
        Just(json!("join")),
        Just(json!("invite")),
        Just(json!("ok")),
        Just(json!("ice_candidate")),
        Just(json!("bye")),
        Just(json!("rejoin")),
        Just(json!("report")),
        "[a-z_]{0,12}".prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        Just(Value::Null),
    ];
    let field_value = prop_oneof![
        "[A-Za-z0-9._ <>/-]{0,70}".prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
        Just(
            json!({"candidate": "candidate:1 1 udp 1 192.0.2.1 1 typ host", "sdpMid": "0", "sdpMLineIndex": 0})
        ),
        Just(json!([1, "two"])),
    ];
    let field_name = prop_oneof![
        Just("room".to_owned()),
        Just("sdp".to_owned()),
        Just("candidate".to_owned()),
        Just("setup_ms".to_owned()),
        Just("path".to_owned()),
        Just("seat".to_owned()),
        Just("fresh".to_owned()),
        "[a-z]{1,6}",
    ];
    (
        kind,
        proptest::collection::vec((field_name, field_value), 0..4),
    )
        .prop_map(|(kind, fields)| {
            let mut object = serde_json::Map::new();
            object.insert("type".into(), kind);
            for (name, value) in fields {
                object.insert(name, value);
            }
            Value::Object(object).to_string()
        })
}

fn any_frame() -> impl Strategy<Value = String> {
    prop_oneof![
        message_like_json(),
        any::<String>(),
        "[{}\\[\\]\":,a-z0-9 ]{0,40}"
    ]
}

#[test]
fn the_decoder_never_panics_and_what_it_accepts_round_trips() {
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&any_frame(), |frame| {
            if let Ok(message) = decode_client_message(&frame) {
                let again = decode_client_message(&message.to_json());
                prop_assert_eq!(again, Ok(message));
            }
            Ok(())
        })
        .unwrap();
}

#[derive(Debug, Clone)]
enum Step {
    Join(u8),
    Invite,
    Answer,
    Candidate,
    Bye,
    /// The page says it is going away (its socket usually ends uncleanly next).
    Leaving,
    Disconnect,
    /// The socket ends uncleanly.
    Lose,
    /// Rejoin with a token picked from all tokens issued so far (stale ones included), in its
    /// own room or in another one, or with a token that was never issued.
    Rejoin {
        pick: u8,
        own_room: bool,
        fresh: bool,
    },
    RejoinGarbage,
    /// One pending grace period ends.
    Expire(u8),
    /// The server restarts: same secret, nothing remembered, every connection gone.
    Restart,
}

fn step() -> impl Strategy<Value = (u8, Step)> {
    let step = prop_oneof![
        2 => (0u8..3).prop_map(Step::Join),
        1 => Just(Step::Invite),
        1 => Just(Step::Answer),
        1 => Just(Step::Candidate),
        1 => Just(Step::Bye),
        1 => Just(Step::Leaving),
        1 => Just(Step::Disconnect),
        2 => Just(Step::Lose),
        3 => (any::<u8>(), prop::bool::weighted(0.9), any::<bool>()).prop_map(
            |(pick, own_room, fresh)| Step::Rejoin {
                pick,
                own_room,
                fresh
            }
        ),
        1 => Just(Step::RejoinGarbage),
        2 => any::<u8>().prop_map(Step::Expire),
        1 => Just(Step::Restart),
    ];
    (0u8..6, step)
}

fn room(index: u8) -> RoomName {
    RoomName::try_from(format!("room-{index}")).expect("generated names are valid")
}

const SECRET: [u8; 32] = [42; 32];

fn fresh_rooms(seed: u64) -> Rooms {
    Rooms::new(SeatSigner::new(&SECRET), StdRng::seed_from_u64(seed))
}

/// The seat token a message carries, with its room.
fn token_of(message: &ServerMessage) -> Option<(RoomName, String)> {
    match message {
        ServerMessage::Created { room, seat }
        | ServerMessage::Joined { room, seat }
        | ServerMessage::NewPeer { room, seat } => seat.clone().map(|seat| (room.clone(), seat)),
        ServerMessage::Rejoined { room, seat, .. } => Some((room.clone(), seat.clone())),
        _ => None,
    }
}

/// How often the interesting paths were taken, so the fuzzing provably reaches them.
#[derive(Default)]
struct Coverage {
    rejoined: AtomicUsize,
    rejoined_fresh_new_peer: AtomicUsize,
    takeovers: AtomicUsize,
    expired: AtomicUsize,
    rebuilt: AtomicUsize,
}

#[test]
fn room_invariants_hold_for_any_sequence_of_inputs() {
    let coverage = Coverage::default();
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&proptest::collection::vec(step(), 1..40), |steps| {
            let mut rooms = fresh_rooms(0);
            let mut restarts = 0;
            // Every token ever issued, with its room: current and replaced ones alike.
            let mut tokens: Vec<(RoomName, String)> = Vec::new();
            let mut timers: Vec<GraceTimer> = Vec::new();
            for (conn, step) in steps {
                let conn = ConnId(u64::from(conn));
                let sender_room = rooms.room_of(conn).cloned();
                let input = match step {
                    Step::Join(r) => Input::Message(ClientMessage::Join { room: room(r) }),
                    Step::Invite => Input::Message(ClientMessage::Invite {
                        sdp: "offer".into(),
                    }),
                    Step::Answer => Input::Message(ClientMessage::Ok {
                        sdp: "answer".into(),
                    }),
                    Step::Candidate => Input::Message(ClientMessage::IceCandidate {
                        candidate: Some(IceCandidate {
                            candidate: "c".into(),
                            sdp_mid: None,
                            sdp_m_line_index: None,
                            username_fragment: None,
                        }),
                    }),
                    Step::Bye => Input::Message(ClientMessage::Bye { room: room(0) }),
                    Step::Leaving => Input::Message(ClientMessage::Leaving),
                    Step::Disconnect => Input::Disconnected,
                    Step::Lose => Input::Lost,
                    Step::Rejoin {
                        pick,
                        own_room,
                        fresh,
                    } => {
                        let Some((token_room, token)) =
                            tokens.get(usize::from(pick) % tokens.len().max(1)).cloned()
                        else {
                            continue;
                        };
                        let room = if own_room { token_room } else { room(pick % 3) };
                        Input::Message(ClientMessage::Rejoin {
                            room,
                            seat: token,
                            fresh,
                        })
                    }
                    Step::RejoinGarbage => Input::Message(ClientMessage::Rejoin {
                        room: room(0),
                        seat: "v1.e30.AAAA".into(),
                        fresh: false,
                    }),
                    Step::Expire(pick) => {
                        if timers.is_empty() {
                            continue;
                        }
                        let timer = timers.remove(usize::from(pick) % timers.len());
                        let out = match rooms.grace_expired(&timer.room, timer.absence) {
                            Some(out) => {
                                coverage.expired.fetch_add(1, Relaxed);
                                out
                            }
                            None => Vec::new(),
                        };
                        rooms.check_invariants().map_err(TestCaseError::fail)?;
                        for (to, message) in &out {
                            prop_assert!(
                                matches!(message, ServerMessage::Bye { .. }),
                                "an expiry sent {:?}",
                                message
                            );
                            prop_assert!(rooms.room_of(*to).is_some(), "a bye to nobody");
                        }
                        continue;
                    }
                    Step::Restart => {
                        restarts += 1;
                        rooms = fresh_rooms(restarts);
                        timers.clear();
                        continue;
                    }
                };
                let is_rejoin = matches!(input, Input::Message(ClientMessage::Rejoin { .. }));
                let rooms_before = rooms.room_count();
                let out = rooms.handle(conn, input);
                rooms.check_invariants().map_err(TestCaseError::fail)?;
                if is_rejoin && rooms.room_count() > rooms_before {
                    coverage.rebuilt.fetch_add(1, Relaxed);
                }
                timers.extend(rooms.take_grace_timers());
                for closed in rooms.take_connections_to_close() {
                    coverage.takeovers.fetch_add(1, Relaxed);
                    prop_assert!(
                        is_rejoin,
                        "a connection closed by something else than a rejoin"
                    );
                    prop_assert_ne!(closed, conn);
                    prop_assert_eq!(
                        rooms.room_of(closed),
                        None,
                        "a closed connection kept its seat"
                    );
                }
                for (to, message) in &out {
                    if let Some(token) = token_of(message) {
                        tokens.push(token);
                    }
                    match message {
                        ServerMessage::Invite { .. }
                        | ServerMessage::Ok { .. }
                        | ServerMessage::IceCandidate { .. } => {
                            prop_assert_ne!(*to, conn, "a relay went back to its sender");
                            prop_assert!(sender_room.is_some(), "a relay from a socket in no room");
                            prop_assert_eq!(
                                rooms.room_of(*to),
                                sender_room.as_ref(),
                                "a relay left the sender's room"
                            );
                        }
                        ServerMessage::Error { .. } | ServerMessage::Full { .. } => {
                            prop_assert_eq!(*to, conn, "a refusal went to someone else")
                        }
                        ServerMessage::Rejoined { room, .. } => {
                            coverage.rejoined.fetch_add(1, Relaxed);
                            prop_assert_eq!(*to, conn, "rejoined went to someone else");
                            prop_assert_eq!(rooms.room_of(conn), Some(room));
                        }
                        ServerMessage::NewPeer { .. } if is_rejoin => {
                            coverage.rejoined_fresh_new_peer.fetch_add(1, Relaxed);
                            prop_assert!(rooms.room_of(*to).is_some(), "new_peer to nobody");
                        }
                        // Everything else concerns a seat, and goes to someone seated there.
                        other => prop_assert!(
                            rooms.room_of(*to).is_some(),
                            "{:?} went to an unseated connection",
                            other
                        ),
                    }
                }
            }
            Ok(())
        })
        .unwrap();
    for (path, count) in [
        ("successful rejoins", &coverage.rejoined),
        ("new_peer after a rejoin", &coverage.rejoined_fresh_new_peer),
        ("takeovers", &coverage.takeovers),
        ("grace periods that freed a seat", &coverage.expired),
        ("rooms rebuilt by a rejoin", &coverage.rebuilt),
    ] {
        let count = count.load(Relaxed);
        println!("{path}: {count}");
        assert!(
            count > 1000,
            "the fuzzing reached {path} only {count} times"
        );
    }
}

/// A message with its seat token blanked: two servers that decide alike differ only in the
/// random tokens they mint.
fn without_token(message: &ServerMessage) -> ServerMessage {
    let mut message = message.clone();
    match &mut message {
        ServerMessage::Created { seat, .. }
        | ServerMessage::Joined { seat, .. }
        | ServerMessage::NewPeer { seat, .. }
            if seat.is_some() =>
        {
            *seat = Some(String::new());
        }
        ServerMessage::Rejoined { seat, .. } => seat.clear(),
        _ => {}
    }
    message
}

/// The sharded hub as the server runs it, without sockets: several `Rooms` sharing one room
/// budget, each input routed by the same `SeatTracker` rules the socket tasks follow.
struct ShardedModel {
    owners: RoomOwners,
    shards: Vec<Rooms>,
    trackers: HashMap<ConnId, SeatTracker>,
}

impl ShardedModel {
    fn new(shards: usize, max_rooms: usize, seed: u64) -> ShardedModel {
        let budget = RoomBudget::new(max_rooms);
        ShardedModel {
            owners: RoomOwners::new(shards),
            shards: (0..shards as u64)
                .map(|i| fresh_rooms(seed * 100 + i).with_room_budget(budget.clone()))
                .collect(),
            trackers: HashMap::new(),
        }
    }

    /// Applies one input the way a socket task and the shards would; returns what was sent
    /// and the grace timers started, in order.
    fn handle(&mut self, conn: ConnId, input: Input) -> (Vec<Outgoing>, Vec<GraceTimer>) {
        let tracker = self.trackers.entry(conn).or_default();
        let Route::Shard {
            shard, acknowledge, ..
        } = tracker.route(&input, &self.owners)
        else {
            return (Vec::new(), Vec::new());
        };
        let rooms = &mut self.shards[shard];
        let socket_ended = matches!(input, Input::Disconnected | Input::Lost);
        let out = rooms.handle(conn, input);
        if socket_ended {
            // The socket task ends with its tracker; a later input under this id is a new one.
            self.trackers.remove(&conn);
        } else if acknowledge {
            tracker.acknowledged(shard, rooms.room_of(conn).is_some());
        }
        let timers = rooms.take_grace_timers();
        // A replaced connection's socket is closed; a later input under its id is a new socket.
        for closed in rooms.take_connections_to_close() {
            self.trackers.remove(&closed);
        }
        (out, timers)
    }

    fn grace_expired(&mut self, timer: &GraceTimer) -> Option<Vec<Outgoing>> {
        self.shards[self.owners.owner(&timer.room)].grace_expired(&timer.room, timer.absence)
    }

    /// Every shard's invariants, plus the sharding ones: each room lives in its owner only, a
    /// connection is seated in at most one shard, and its socket knows which.
    fn check(&self, conns: impl Iterator<Item = ConnId>) -> Result<(), String> {
        for (index, rooms) in self.shards.iter().enumerate() {
            rooms.check_invariants()?;
            for name in rooms.room_names() {
                if self.owners.owner(name) != index {
                    return Err(format!("room {name} lives in shard {index}, not its owner"));
                }
            }
        }
        for conn in conns {
            let seated: Vec<usize> = (0..self.shards.len())
                .filter(|&i| self.shards[i].room_of(conn).is_some())
                .collect();
            if seated.len() > 1 {
                return Err(format!("{conn} is seated in shards {seated:?}"));
            }
            let known = self.trackers.get(&conn).and_then(SeatTracker::seat);
            if known != seated.first().copied() {
                return Err(format!(
                    "{conn} is seated in {seated:?} but its socket thinks {known:?}"
                ));
            }
        }
        Ok(())
    }
}

/// The room names of the sharded test: enough that every shard owns some.
const SHARDED_ROOMS: u8 = 8;

/// Sharding must change nothing anyone can observe: the same inputs to one `Rooms` and to the
/// sharded model give the same messages to the same connections in the same order (tokens
/// aside), with the same room limit applied across shards, and the sharding invariants hold
/// after every step.
#[test]
fn sharded_rooms_decide_exactly_as_one_owner_would() {
    let owners = RoomOwners::new(3);
    let spread: HashSet<usize> = (0..SHARDED_ROOMS).map(|r| owners.owner(&room(r))).collect();
    assert_eq!(spread.len(), 3, "the test rooms must cover every shard");
    let cross_shard_refusals = AtomicUsize::new(0);
    let mut runner = TestRunner::new(Config {
        cases: CASES / 3,
        failure_persistence: None,
        ..Config::default()
    });
    let step = (
        0u8..6,
        prop_oneof![
            4 => (0u8..SHARDED_ROOMS).prop_map(Step::Join),
            1 => Just(Step::Invite),
            2 => Just(Step::Candidate),
            2 => Just(Step::Bye),
            1 => Just(Step::Leaving),
            1 => Just(Step::Disconnect),
            2 => Just(Step::Lose),
            3 => (any::<u8>(), prop::bool::weighted(0.9), any::<bool>()).prop_map(
                |(pick, own_room, fresh)| Step::Rejoin { pick, own_room, fresh }
            ),
            2 => any::<u8>().prop_map(Step::Expire),
            1 => Just(Step::Restart),
        ],
    );
    runner
        .run(&proptest::collection::vec(step, 1..50), |steps| {
            // A small room limit, so that `server_busy` across shards is exercised too.
            let max_rooms = 3;
            let mut single = fresh_rooms(0).with_room_limit(max_rooms);
            let mut sharded = ShardedModel::new(3, max_rooms, 0);
            let mut restarts = 0;
            // Tokens and timers of both, index for index: they issue them in the same order.
            let mut tokens: Vec<((RoomName, String), (RoomName, String))> = Vec::new();
            let mut timers: Vec<(GraceTimer, GraceTimer)> = Vec::new();
            for (conn, step) in steps {
                let conn = ConnId(u64::from(conn));
                let (input_single, input_sharded) = match step {
                    Step::Join(r) => {
                        let join = Input::Message(ClientMessage::Join { room: room(r) });
                        (join.clone(), join)
                    }
                    Step::Invite => {
                        let invite = Input::Message(ClientMessage::Invite { sdp: "o".into() });
                        (invite.clone(), invite)
                    }
                    Step::Candidate => {
                        let candidate =
                            Input::Message(ClientMessage::IceCandidate { candidate: None });
                        (candidate.clone(), candidate)
                    }
                    Step::Bye => {
                        let bye = Input::Message(ClientMessage::Bye { room: room(0) });
                        (bye.clone(), bye)
                    }
                    Step::Leaving => {
                        let leaving = Input::Message(ClientMessage::Leaving);
                        (leaving.clone(), leaving)
                    }
                    Step::Disconnect => (Input::Disconnected, Input::Disconnected),
                    Step::Lose => (Input::Lost, Input::Lost),
                    Step::Rejoin {
                        pick,
                        own_room,
                        fresh,
                    } => {
                        let Some(((room_a, token_a), (room_b, token_b))) =
                            tokens.get(usize::from(pick) % tokens.len().max(1)).cloned()
                        else {
                            continue;
                        };
                        let other = room(pick % SHARDED_ROOMS);
                        let rejoin = |token_room: RoomName, seat: String| {
                            Input::Message(ClientMessage::Rejoin {
                                room: if own_room { token_room } else { other.clone() },
                                seat,
                                fresh,
                            })
                        };
                        (rejoin(room_a, token_a), rejoin(room_b, token_b))
                    }
                    Step::Expire(pick) => {
                        if timers.is_empty() {
                            continue;
                        }
                        let (a, b) = timers.remove(usize::from(pick) % timers.len());
                        prop_assert_eq!(&a.room, &b.room);
                        let out_single = single.grace_expired(&a.room, a.absence);
                        let out_sharded = sharded.grace_expired(&b);
                        prop_assert_eq!(out_single, out_sharded, "an expiry differs");
                        continue;
                    }
                    Step::Restart => {
                        restarts += 1;
                        single = fresh_rooms(restarts).with_room_limit(max_rooms);
                        sharded = ShardedModel::new(3, max_rooms, restarts);
                        timers.clear();
                        continue;
                    }
                    Step::Answer | Step::RejoinGarbage => continue,
                };
                let was_seated_elsewhere = match (&input_single, single.room_of(conn)) {
                    (Input::Message(ClientMessage::Join { room }), Some(current)) => {
                        owners.owner(room) != owners.owner(current)
                    }
                    _ => false,
                };
                let out_single = single.handle(conn, input_single);
                let timers_single = single.take_grace_timers();
                single.take_connections_to_close();
                let (out_sharded, timers_sharded) = sharded.handle(conn, input_sharded);
                let plain = |out: &[Outgoing]| {
                    out.iter()
                        .map(|(to, message)| (*to, without_token(message)))
                        .collect::<Vec<_>>()
                };
                prop_assert_eq!(
                    plain(&out_single),
                    plain(&out_sharded),
                    "the outputs differ"
                );
                if was_seated_elsewhere {
                    cross_shard_refusals.fetch_add(1, Relaxed);
                }
                let rooms_single: usize = single.room_count();
                let rooms_sharded: usize = sharded.shards.iter().map(Rooms::room_count).sum();
                prop_assert_eq!(rooms_single, rooms_sharded);
                prop_assert_eq!(timers_single.len(), timers_sharded.len());
                timers.extend(timers_single.into_iter().zip(timers_sharded));
                for ((to_a, a), (to_b, b)) in out_single.iter().zip(&out_sharded) {
                    if let (Some(a), Some(b)) = (token_of(a), token_of(b)) {
                        prop_assert_eq!(to_a, to_b);
                        tokens.push((a, b));
                    }
                }
                single.check_invariants().map_err(TestCaseError::fail)?;
                sharded
                    .check((0..6).map(ConnId))
                    .map_err(TestCaseError::fail)?;
            }
            Ok(())
        })
        .unwrap();
    let count = cross_shard_refusals.load(Relaxed);
    println!("joins of a room owned by another shard than the seat's: {count}");
    assert!(
        count > 1000,
        "the fuzzing reached cross-shard joins only {count} times"
    );
}
