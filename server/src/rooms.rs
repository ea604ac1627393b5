//! The room rules, written without I/O or clocks: who sits where, and who receives what.
//!
//! `Rooms::handle` takes one input from one connection and returns the messages to deliver.
//! A disconnect is just another input, and so is the end of a grace period
//! ([`Rooms::grace_expired`]). Everything the protocol promises about rooms and seats is decided
//! here and unit-tested here; the socket and hub code only move bytes and keep time.
//!
//! Seats outlive connections. A seat whose socket ended uncleanly ([`Input::Lost`]) is *away*:
//! held for the grace period, and reclaimable with its seat token (`seat_token.rs`). A connection
//! that said `leaving` first (its page is going away) is held only for the short leaving grace:
//! a reload takes the seat back within it, a closed tab frees it. Side effects
//! the hub must carry out are queued here and drained by it after each call:
//! [`Rooms::take_grace_timers`] and [`Rooms::take_connections_to_close`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::Rng;
use visavis_shared::limits::{MAX_CANDIDATE_BYTES, MAX_SDP_BYTES};
use visavis_shared::{ClientMessage, ErrorCode, RoomName, ServerMessage};

use crate::seat_token::{SeatClaim, SeatSigner};

mod budget;
mod seat_nonces;
pub use budget::RoomBudget;
use seat_nonces::SeatNonces;

/// Identifies one WebSocket connection for the lifetime of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// What happened on a connection.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A decoded message from the browser.
    Message(ClientMessage),
    /// The socket ended cleanly (a close frame with code 1000 or none, or the server closed it
    /// for misbehaving): the same as `bye`.
    Disconnected,
    /// The socket ended uncleanly (lost, timed out, closed with another code, or dropped as a
    /// slow consumer): the seat is held for the grace period.
    Lost,
}

/// A message to deliver to one connection.
pub type Outgoing = (ConnId, ServerMessage);

/// Identifies one absence of one seat, so that a grace period that ends after the seat was
/// reclaimed (and perhaps lost again) does nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AbsenceId(u64);

/// A grace period the hub must time: after `after`, it calls
/// [`Rooms::grace_expired`]`(room, absence)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraceTimer {
    pub room: RoomName,
    pub absence: AbsenceId,
    pub after: Duration,
}

/// How long an away seat is held unless configured otherwise.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(20);

/// How long the seat of a connection that said `leaving` is held unless configured otherwise:
/// enough for a reload to rejoin, short enough that the partner of a closed tab is not left
/// waiting.
pub const DEFAULT_LEAVING_GRACE: Duration = Duration::from_secs(3);

/// At most two people share a room.
const SEATS_PER_ROOM: usize = 2;

/// How many ended calls are remembered, so that their tokens get `seat_expired` instead of
/// rebuilding the room. Each entry is 8 bytes (twice, set and queue): about 2 MB at most.
const ENDED_CALLS_REMEMBERED: usize = 100_000;

/// One incarnation of a room: from its first seat to its last leaving.
#[derive(Debug)]
struct Room {
    /// Random per incarnation, and in every token of it.
    call: u64,
    /// One or two seats, in order of arrival.
    seats: Vec<Seat>,
}

/// A seat, held by a connection or kept for an absent person.
#[derive(Debug)]
struct Seat {
    /// Random, stable for the seat's life. Meaningless while `reserved`.
    id: u64,
    /// The tokens that reclaim this seat: the one last presented and those issued since.
    nonces: SeatNonces,
    state: SeatState,
    /// A seat rebuilt after a restart for a partner whose seat id is not known yet: the first
    /// valid token of the same call with another seat id takes it. Always away.
    reserved: bool,
    /// What this seat must be told when it is next present with its partner (see [`Owed`]).
    owed: Option<Owed>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SeatState {
    /// Held by a live connection.
    Present(ConnId),
    /// Held for its person during a grace period.
    Away(AbsenceId),
}

/// A message a seat missed while away, delivered after its `rejoined`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owed {
    /// Its partner left for good; there is no other seat.
    Bye,
    /// Its partner is new or lost its peer connection: this seat starts the call (it gets
    /// `new_peer`) once both are present. At most one seat of a room owes this.
    NewPeer,
}

impl Seat {
    fn present(id: u64, conn: ConnId) -> Seat {
        Seat {
            id,
            // The token issued right after is the first.
            nonces: SeatNonces::default(),
            state: SeatState::Present(conn),
            reserved: false,
            owed: None,
        }
    }

    fn reserved(absence: AbsenceId) -> Seat {
        Seat {
            id: 0,
            nonces: SeatNonces::default(),
            state: SeatState::Away(absence),
            reserved: true,
            owed: None,
        }
    }

    fn conn(&self) -> Option<ConnId> {
        match self.state {
            SeatState::Present(conn) => Some(conn),
            SeatState::Away(_) => None,
        }
    }
}

/// The most recently ended calls, bounded.
#[derive(Debug, Default)]
struct EndedCalls {
    set: HashSet<u64>,
    order: VecDeque<u64>,
}

impl EndedCalls {
    fn insert(&mut self, call: u64) {
        if self.set.insert(call) {
            self.order.push_back(call);
            if self.order.len() > ENDED_CALLS_REMEMBERED {
                if let Some(oldest) = self.order.pop_front() {
                    self.set.remove(&oldest);
                }
            }
        }
    }

    fn contains(&self, call: u64) -> bool {
        self.set.contains(&call)
    }
}

/// All rooms, who sits in them, and who is away.
pub struct Rooms {
    /// The most rooms open at once (shared with the other hub shards, if any); a join or
    /// rebuild that would open one more gets `server_busy`.
    budget: RoomBudget,
    /// How long an away seat is held.
    grace: Duration,
    /// How long the seat of a connection that said `leaving` is held.
    leaving_grace: Duration,
    /// Signs and checks seat tokens.
    signer: SeatSigner,
    /// Call ids, seat ids and nonces. Owned here so tests can seed it.
    rng: StdRng,
    rooms: HashMap<RoomName, Room>,
    /// The room each seated connection is in; a connection is in at most one room.
    seat_of: HashMap<ConnId, RoomName>,
    /// Seated connections whose page said it is going away; always a subset of `seat_of`.
    leaving: HashSet<ConnId>,
    ended_calls: EndedCalls,
    next_absence: u64,
    /// Side effects for the hub, drained by it after each call.
    grace_timers: Vec<GraceTimer>,
    to_close: Vec<ConnId>,
}

// By hand: the RNG's state must not end up in a log.
impl fmt::Debug for Rooms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rooms")
            .field("rooms", &self.rooms.len())
            .field("seated", &self.seat_of.len())
            .finish_non_exhaustive()
    }
}

impl Rooms {
    /// An empty set of rooms with no practical limit on their number and the default grace
    /// period. `rng` should be seeded from the OS in production.
    pub fn new(signer: SeatSigner, rng: StdRng) -> Rooms {
        Rooms {
            budget: RoomBudget::new(usize::MAX),
            grace: DEFAULT_GRACE,
            leaving_grace: DEFAULT_LEAVING_GRACE,
            signer,
            rng,
            rooms: HashMap::new(),
            seat_of: HashMap::new(),
            leaving: HashSet::new(),
            ended_calls: EndedCalls::default(),
            next_absence: 0,
            grace_timers: Vec::new(),
            to_close: Vec::new(),
        }
    }

    /// Holds at most `max_rooms` rooms at once.
    pub fn with_room_limit(self, max_rooms: usize) -> Rooms {
        self.with_room_budget(RoomBudget::new(max_rooms))
    }

    /// Counts its rooms against `budget`, which other `Rooms` (hub shards) may share, so that
    /// the limit applies to all of them together.
    pub fn with_room_budget(mut self, budget: RoomBudget) -> Rooms {
        self.budget = budget;
        self
    }

    /// Holds an away seat for `grace`.
    pub fn with_grace(mut self, grace: Duration) -> Rooms {
        self.grace = grace;
        self
    }

    /// Holds the seat of a connection that said `leaving` for `grace`.
    pub fn with_leaving_grace(mut self, grace: Duration) -> Rooms {
        self.leaving_grace = grace;
        self
    }

    /// The number of rooms with at least one seat (present, away or reserved).
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// The number of seated connections.
    pub fn seated_count(&self) -> usize {
        self.seat_of.len()
    }

    /// The names of the open rooms.
    pub fn room_names(&self) -> impl Iterator<Item = &RoomName> {
        self.rooms.keys()
    }

    /// Forgets a room entirely, without telling anyone (cluster mode: another node owns it
    /// now, and the clients rejoin there). Returns the connections that were seated in it.
    pub fn remove_room(&mut self, name: &RoomName) -> Vec<ConnId> {
        let Some(room) = self.rooms.remove(name) else {
            return Vec::new();
        };
        self.budget.close();
        let conns: Vec<ConnId> = room.seats.iter().filter_map(Seat::conn).collect();
        for conn in &conns {
            self.seat_of.remove(conn);
        }
        conns
    }

    /// The room `conn` is in, if any.
    pub fn room_of(&self, conn: ConnId) -> Option<&RoomName> {
        self.seat_of.get(&conn)
    }

    /// The grace periods started since the last call; the hub times each one.
    pub fn take_grace_timers(&mut self) -> Vec<GraceTimer> {
        std::mem::take(&mut self.grace_timers)
    }

    /// Connections that lost their seat to a rejoin of the same seat (the server had not yet
    /// noticed their socket died); the hub closes them. They are told nothing.
    pub fn take_connections_to_close(&mut self) -> Vec<ConnId> {
        std::mem::take(&mut self.to_close)
    }

    /// Applies one input and returns the messages it causes.
    pub fn handle(&mut self, conn: ConnId, input: Input) -> Vec<Outgoing> {
        match input {
            Input::Message(ClientMessage::Join { room }) => self.join(conn, room),
            Input::Message(ClientMessage::Invite { sdp }) => {
                if sdp.len() > MAX_SDP_BYTES {
                    return refuse(
                        conn,
                        ErrorCode::SdpTooLarge,
                        "the offer is larger than 64 KiB",
                    );
                }
                self.relay(conn, ServerMessage::Invite { sdp })
            }
            Input::Message(ClientMessage::Ok { sdp }) => {
                if sdp.len() > MAX_SDP_BYTES {
                    return refuse(
                        conn,
                        ErrorCode::SdpTooLarge,
                        "the answer is larger than 64 KiB",
                    );
                }
                self.relay(conn, ServerMessage::Ok { sdp })
            }
            Input::Message(ClientMessage::IceCandidate { candidate }) => {
                if candidate
                    .as_ref()
                    .is_some_and(|c| c.size_bytes() > MAX_CANDIDATE_BYTES)
                {
                    return refuse(
                        conn,
                        ErrorCode::CandidateTooLarge,
                        "the candidate is larger than 2 KiB",
                    );
                }
                self.relay(conn, ServerMessage::IceCandidate { candidate })
            }
            // The room named in `bye` is informational: a socket can only leave the room it is in.
            Input::Message(ClientMessage::Bye { .. }) | Input::Disconnected => self.leave(conn),
            Input::Lost => self.lose(conn),
            // Remembered for when the socket ends: only a lost socket after it is shortened.
            Input::Message(ClientMessage::Leaving) => {
                if self.seat_of.contains_key(&conn) {
                    self.leaving.insert(conn);
                }
                Vec::new()
            }
            Input::Message(ClientMessage::Rejoin { room, seat, fresh }) => {
                self.rejoin(conn, room, &seat, fresh)
            }
            // Reports concern metrics, not rooms; the socket task consumes them.
            Input::Message(ClientMessage::Report { .. }) => Vec::new(),
        }
    }

    /// A grace period ended: if seat `absence` of `room` is still away, it is freed and its
    /// partner (if present) gets `bye`. `None` when there was nothing to free (the seat was
    /// reclaimed, or its room is gone), which is normal.
    pub fn grace_expired(&mut self, room: &RoomName, absence: AbsenceId) -> Option<Vec<Outgoing>> {
        let index = self
            .rooms
            .get(room)?
            .seats
            .iter()
            .position(|seat| seat.state == SeatState::Away(absence))?;
        Some(self.free_seat(room, index))
    }

    fn join(&mut self, conn: ConnId, name: RoomName) -> Vec<Outgoing> {
        if let Some(current) = self.seat_of.get(&conn) {
            let message = format!("you are already in room {current}; send bye first");
            return refuse(conn, ErrorCode::AlreadyInRoom, message);
        }
        let grace_ms = self.grace_ms();
        let Rooms {
            rooms,
            rng,
            signer,
            seat_of,
            ended_calls,
            budget,
            ..
        } = self;
        match rooms.get_mut(&name) {
            None => {
                if !budget.try_open() {
                    return busy(conn);
                }
                let mut room = Room {
                    call: new_call_id(rng, ended_calls),
                    seats: vec![Seat::present(rng.random(), conn)],
                };
                let token = issue(signer, rng, &name, &mut room, 0);
                rooms.insert(name.clone(), room);
                seat_of.insert(conn, name.clone());
                vec![(
                    conn,
                    ServerMessage::Created {
                        room: name,
                        seat: Some(token),
                    },
                )]
            }
            // Away and reserved seats count: their people are coming back.
            Some(room) if room.seats.len() >= SEATS_PER_ROOM => {
                vec![(conn, ServerMessage::Full { room: name })]
            }
            Some(room) => {
                room.seats.push(Seat::present(rng.random(), conn));
                seat_of.insert(conn, name.clone());
                let token = issue(signer, rng, &name, room, 1);
                let mut out = vec![(
                    conn,
                    ServerMessage::Joined {
                        room: name.clone(),
                        seat: Some(token),
                    },
                )];
                match room.seats[0].state {
                    SeatState::Present(first) => {
                        // Rotation: the first seat's token now says `paired`.
                        let token = issue(signer, rng, &name, room, 0);
                        out.push((
                            first,
                            ServerMessage::NewPeer {
                                room: name,
                                seat: Some(token),
                            },
                        ));
                    }
                    SeatState::Away(_) => {
                        // The first person will start the call when back; the newcomer waits.
                        room.seats[0].owed = Some(Owed::NewPeer);
                        out.push((
                            conn,
                            ServerMessage::PeerReconnecting {
                                room: name,
                                grace_ms,
                            },
                        ));
                    }
                }
                out
            }
        }
    }

    fn relay(&self, conn: ConnId, message: ServerMessage) -> Vec<Outgoing> {
        match self.relay_target(conn) {
            Ok(Some(other)) => vec![(other, message)],
            Ok(None) => Vec::new(),
            Err(refusal) => vec![refusal],
        }
    }

    /// Where a relayed message (`invite`, `ok`, `ice_candidate`) from `conn` goes, once it is
    /// known to be within the size limits: to the other seat of its room if that seat is
    /// present (`Ok(Some)`), nowhere if it is alone or the other is away (`Ok(None)`, which is
    /// not the sender's fault; a returning peer renegotiates if it missed something), or back
    /// to `conn` as `not_in_room` if it has no seat (`Err`). [`Rooms::handle`] relays by this
    /// rule; the hub uses it directly to forward a frame's original text.
    pub fn relay_target(&self, conn: ConnId) -> Result<Option<ConnId>, Outgoing> {
        let Some(room) = self.seat_of.get(&conn) else {
            return Err((
                conn,
                ServerMessage::error(
                    ErrorCode::NotInRoom,
                    "join a room before sending call messages",
                ),
            ));
        };
        Ok(self.other_peer(room, conn))
    }

    /// A clean departure: the seat is freed at once.
    fn leave(&mut self, conn: ConnId) -> Vec<Outgoing> {
        let Some(name) = self.unseat(conn) else {
            // Not seated: a second bye, or the answering bye of a peer already alone. Nothing to do.
            return Vec::new();
        };
        match self.seat_index_of(&name, conn) {
            Some(index) => self.free_seat(&name, index),
            None => Vec::new(),
        }
    }

    /// An unclean departure: the seat is held, and the partner told how long.
    /// After `leaving`, the seat is held for the short leaving grace instead.
    fn lose(&mut self, conn: ConnId) -> Vec<Outgoing> {
        let was_leaving = self.leaving.contains(&conn);
        let Some(name) = self.unseat(conn) else {
            return Vec::new();
        };
        let absence = self.new_absence();
        let grace = if was_leaving {
            self.leaving_grace
        } else {
            self.grace
        };
        let grace_ms = millis(grace);
        let Some(index) = self.seat_index_of(&name, conn) else {
            return Vec::new();
        };
        let Some(room) = self.rooms.get_mut(&name) else {
            return Vec::new();
        };
        room.seats[index].state = SeatState::Away(absence);
        self.grace_timers.push(GraceTimer {
            room: name.clone(),
            absence,
            after: grace,
        });
        match room.seats.get(index ^ 1).and_then(Seat::conn) {
            Some(other) => vec![(
                other,
                ServerMessage::PeerReconnecting {
                    room: name,
                    grace_ms,
                },
            )],
            None => Vec::new(),
        }
    }

    fn rejoin(&mut self, conn: ConnId, name: RoomName, token: &str, fresh: bool) -> Vec<Outgoing> {
        if let Some(current) = self.seat_of.get(&conn) {
            let message = format!("you are already in room {current}; send bye first");
            return refuse(conn, ErrorCode::AlreadyInRoom, message);
        }
        let claim = match self.signer.verify(token) {
            Ok(claim) if claim.room == name => claim,
            _ => {
                return refuse(
                    conn,
                    ErrorCode::SeatInvalid,
                    "this seat token is not valid for this room",
                )
            }
        };
        if self.ended_calls.contains(claim.call) {
            return expired(conn);
        }
        let index = match self.rooms.get_mut(&name) {
            // The room was emptied and opened again by others: the call is over.
            Some(room) if room.call != claim.call => return expired(conn),
            Some(room) => {
                let own = room
                    .seats
                    .iter()
                    .position(|seat| !seat.reserved && seat.id == claim.seat);
                match own {
                    Some(index) if !reclaims(&room.seats[index], claim.nonce) => {
                        return refuse(
                            conn,
                            ErrorCode::SeatInvalid,
                            "this seat token was replaced by a newer one",
                        );
                    }
                    Some(index) => {
                        // Takeover: the old socket is presumably dead but not yet noticed.
                        // It loses the seat silently; the partner sees no departure.
                        if let SeatState::Present(old) = room.seats[index].state {
                            self.seat_of.remove(&old);
                            self.leaving.remove(&old);
                            self.to_close.push(old);
                        }
                        index
                    }
                    None => match room.seats.iter().position(|seat| seat.reserved) {
                        // After a restart: the partner of the person who rebuilt the room.
                        Some(index) => {
                            room.seats[index].reserved = false;
                            room.seats[index].id = claim.seat;
                            index
                        }
                        // The seat was given up (bye) or its grace period ran out.
                        None => return expired(conn),
                    },
                }
            }
            // Unknown room, valid token of a call not known to have ended: this process does
            // not remember it (typically it restarted), so the room is rebuilt around the token.
            None => {
                if !self.budget.try_open() {
                    return busy(conn);
                }
                self.rebuild(conn, &name, &claim);
                0
            }
        };
        self.reclaim(conn, &name, index, claim.nonce, fresh)
    }

    /// Opens `name` again for the call of `claim`, with its seat (taken by `reclaim` next) and,
    /// if it had a partner, a reserved seat held for the grace period.
    fn rebuild(&mut self, conn: ConnId, name: &RoomName, claim: &SeatClaim) {
        let mut seats = vec![Seat::present(claim.seat, conn)];
        if claim.paired {
            let absence = self.new_absence();
            seats.push(Seat::reserved(absence));
            self.grace_timers.push(GraceTimer {
                room: name.clone(),
                absence,
                after: self.grace,
            });
        }
        self.rooms.insert(
            name.clone(),
            Room {
                call: claim.call,
                seats,
            },
        );
    }

    /// Seats `conn` in seat `index` of `name`, which it proved with the token of `nonce`, and
    /// tells both sides; see docs/protocol.md for the `fresh` and owed-message rules.
    fn reclaim(
        &mut self,
        conn: ConnId,
        name: &RoomName,
        index: usize,
        nonce: u64,
        fresh: bool,
    ) -> Vec<Outgoing> {
        let Rooms {
            rooms,
            rng,
            signer,
            seat_of,
            ..
        } = self;
        let Some(room) = rooms.get_mut(name) else {
            return Vec::new();
        };
        room.seats[index].state = SeatState::Present(conn);
        room.seats[index].nonces.presented(nonce);
        seat_of.insert(conn, name.clone());
        let token = issue(signer, rng, name, room, index);
        let other = index ^ 1;
        let partner = room.seats.get(other).map(|seat| seat.state);
        let mut out = vec![(
            conn,
            ServerMessage::Rejoined {
                room: name.clone(),
                seat: token,
                peer_present: matches!(partner, Some(SeatState::Present(_))),
            },
        )];
        let mine = room.seats[index].owed.take();
        match (mine, partner) {
            (Some(Owed::Bye), _) => out.push((conn, ServerMessage::Bye { room: name.clone() })),
            (Some(Owed::NewPeer), Some(SeatState::Present(partner))) => {
                let token = issue(signer, rng, name, room, index);
                out.push((
                    conn,
                    ServerMessage::NewPeer {
                        room: name.clone(),
                        seat: Some(token),
                    },
                ));
                out.push((
                    partner,
                    ServerMessage::PeerReconnected { room: name.clone() },
                ));
            }
            // Still waiting for the partner, who will hear `peer_reconnected` on return.
            (Some(Owed::NewPeer), Some(SeatState::Away(_))) => {
                room.seats[index].owed = Some(Owed::NewPeer);
            }
            (None, Some(SeatState::Present(partner))) => {
                if fresh || room.seats[other].owed == Some(Owed::NewPeer) {
                    room.seats[other].owed = None;
                    let token = issue(signer, rng, name, room, other);
                    out.push((
                        partner,
                        ServerMessage::NewPeer {
                            room: name.clone(),
                            seat: Some(token),
                        },
                    ));
                } else {
                    out.push((
                        partner,
                        ServerMessage::PeerReconnected { room: name.clone() },
                    ));
                }
            }
            (None, Some(SeatState::Away(_))) => {
                if fresh {
                    room.seats[other].owed = Some(Owed::NewPeer);
                }
            }
            // Owing new_peer without a partner cannot happen (see check_invariants).
            (Some(Owed::NewPeer), None) | (None, None) => {}
        }
        out
    }

    /// Removes seat `index` of `name` for good: its partner gets `bye` now if present, or when
    /// back if away. The last seat takes the room with it, and its call is remembered as ended.
    fn free_seat(&mut self, name: &RoomName, index: usize) -> Vec<Outgoing> {
        let Some(room) = self.rooms.get_mut(name) else {
            return Vec::new();
        };
        let seat = room.seats.remove(index);
        if let Some(conn) = seat.conn() {
            self.seat_of.remove(&conn);
            self.leaving.remove(&conn);
        }
        match room.seats.first_mut() {
            Some(partner) => match partner.state {
                SeatState::Present(conn) => {
                    partner.owed = None;
                    vec![(conn, ServerMessage::Bye { room: name.clone() })]
                }
                SeatState::Away(_) => {
                    partner.owed = Some(Owed::Bye);
                    Vec::new()
                }
            },
            None => {
                let call = room.call;
                self.rooms.remove(name);
                self.budget.close();
                self.ended_calls.insert(call);
                Vec::new()
            }
        }
    }

    fn seat_index_of(&self, name: &RoomName, conn: ConnId) -> Option<usize> {
        self.rooms
            .get(name)?
            .seats
            .iter()
            .position(|seat| seat.state == SeatState::Present(conn))
    }

    /// The connections present in `room` (none if there is no such room).
    pub fn present_in(&self, room: &RoomName) -> impl Iterator<Item = ConnId> + '_ {
        self.rooms
            .get(room)
            .into_iter()
            .flat_map(|room| room.seats.iter().filter_map(Seat::conn))
    }

    fn other_peer(&self, name: &RoomName, conn: ConnId) -> Option<ConnId> {
        self.rooms
            .get(name)?
            .seats
            .iter()
            .filter_map(Seat::conn)
            .find(|other| *other != conn)
    }

    fn new_absence(&mut self) -> AbsenceId {
        self.next_absence += 1;
        AbsenceId(self.next_absence)
    }

    fn grace_ms(&self) -> u64 {
        millis(self.grace)
    }

    /// Takes `conn` out of its room's index (and the leaving set); its room, if it had one.
    fn unseat(&mut self, conn: ConnId) -> Option<RoomName> {
        self.leaving.remove(&conn);
        self.seat_of.remove(&conn)
    }

    /// Checks the invariants: one or two seats per room, a seat index that agrees with the
    /// rooms, reserved seats only away, owed messages consistent with the partner, no live
    /// room of an ended call, only seated connections leaving. Used by tests and fuzzing.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut present = 0;
        let mut absences = HashSet::new();
        for (name, room) in &self.rooms {
            let seats = &room.seats;
            if seats.is_empty() || seats.len() > SEATS_PER_ROOM {
                return Err(format!("room {name} has {} seats", seats.len()));
            }
            if self.ended_calls.contains(room.call) {
                return Err(format!("room {name} lives on in an ended call"));
            }
            if seats.iter().filter(|seat| seat.reserved).count() > 1 {
                return Err(format!("room {name} has two reserved seats"));
            }
            if seats.len() == 2
                && !seats[0].reserved
                && !seats[1].reserved
                && seats[0].id == seats[1].id
            {
                return Err(format!("room {name} has two seats with one id"));
            }
            for (index, seat) in seats.iter().enumerate() {
                let partner = seats.get(index ^ 1);
                match seat.state {
                    SeatState::Present(conn) => {
                        present += 1;
                        if seat.reserved {
                            return Err(format!("{conn} sits in a reserved seat of {name}"));
                        }
                        if self.seat_of.get(&conn) != Some(name) {
                            return Err(format!("{conn} sits in {name} but the index disagrees"));
                        }
                    }
                    SeatState::Away(absence) => {
                        if !absences.insert(absence) {
                            return Err(format!("absence {absence:?} is held twice"));
                        }
                    }
                }
                check_owed(name, seat, partner)?;
            }
        }
        if present != self.seat_of.len() {
            return Err("the seat index holds connections that are in no room".into());
        }
        if let Some(conn) = self.leaving.iter().find(|c| !self.seat_of.contains_key(c)) {
            return Err(format!("{conn} is leaving but holds no seat"));
        }
        if self.budget.open() < self.rooms.len() {
            return Err(format!(
                "{} rooms are open but the room budget counts {}",
                self.rooms.len(),
                self.budget.open()
            ));
        }
        Ok(())
    }
}

/// Checks that what `seat` owes fits its partner: `bye` only when alone and away, `new_peer`
/// only with a partner that does not owe it too, and never when both are present.
/// `duration` in whole milliseconds, as the protocol's `grace_ms` carries it.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn check_owed(name: &RoomName, seat: &Seat, partner: Option<&Seat>) -> Result<(), String> {
    match (seat.owed, partner) {
        (None, _) => Ok(()),
        (Some(Owed::Bye), None) if seat.conn().is_none() => Ok(()),
        (Some(Owed::Bye), _) => Err(format!(
            "a seat of {name} owes bye but has a partner or is present"
        )),
        (Some(Owed::NewPeer), None) => {
            Err(format!("a seat of {name} owes new_peer without a partner"))
        }
        (Some(Owed::NewPeer), Some(partner)) if partner.owed == Some(Owed::NewPeer) => {
            Err(format!("both seats of {name} owe new_peer"))
        }
        (Some(Owed::NewPeer), Some(partner))
            if seat.conn().is_some() && partner.conn().is_some() =>
        {
            Err(format!(
                "both seats of {name} are present but one still owes new_peer"
            ))
        }
        (Some(Owed::NewPeer), Some(_)) => Ok(()),
    }
}

/// Signs a new token for seat `index` of `room`. It reclaims the seat from now on, beside the
/// one last presented and others issued since (see `seat_nonces.rs`).
fn issue(
    signer: &SeatSigner,
    rng: &mut StdRng,
    name: &RoomName,
    room: &mut Room,
    index: usize,
) -> String {
    let paired = room.seats.len() == SEATS_PER_ROOM;
    let seat = &mut room.seats[index];
    let nonce = rng.random();
    seat.nonces.issued(nonce);
    signer.issue(&SeatClaim {
        room: name.clone(),
        call: room.call,
        seat: seat.id,
        nonce,
        paired,
    })
}

/// Whether a token with `nonce` reclaims `seat`: any token it still accepts while it is away,
/// only the newest while its socket still looks alive (`seat_nonces.rs` says why).
fn reclaims(seat: &Seat, nonce: u64) -> bool {
    match seat.state {
        SeatState::Away(_) => seat.nonces.accepts(nonce),
        SeatState::Present(_) => seat.nonces.takes_over(nonce),
    }
}

/// A call id for a new room, never one known to have ended.
fn new_call_id(rng: &mut StdRng, ended: &EndedCalls) -> u64 {
    loop {
        let call = rng.random();
        if !ended.contains(call) {
            return call;
        }
    }
}

fn refuse(conn: ConnId, code: ErrorCode, message: impl Into<String>) -> Vec<Outgoing> {
    vec![(conn, ServerMessage::error(code, message))]
}

fn busy(conn: ConnId) -> Vec<Outgoing> {
    refuse(
        conn,
        ErrorCode::ServerBusy,
        "the server has too many rooms open; try again later",
    )
}

fn expired(conn: ConnId) -> Vec<Outgoing> {
    refuse(
        conn,
        ErrorCode::SeatExpired,
        "that seat is gone: the call ended or the grace period ran out; join again",
    )
}

// The rules are many, so their tests live in their own file: `rooms/tests.rs`.
#[cfg(test)]
mod tests;
