//! The room rules, written without I/O: who sits where, and who receives what.
//!
//! `Rooms::handle` takes one input from one connection and returns the messages to deliver.
//! A disconnect is just another input. Everything the protocol promises about rooms is decided
//! here and unit-tested here; the socket and hub code only move bytes.

use std::collections::HashMap;
use std::fmt;

use visavis_shared::limits::{MAX_CANDIDATE_BYTES, MAX_SDP_BYTES};
use visavis_shared::{ClientMessage, ErrorCode, RoomName, ServerMessage};

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
    /// The socket is gone (closed, lost, or dropped by the server): the same as `bye`.
    Disconnected,
}

/// A message to deliver to one connection.
pub type Outgoing = (ConnId, ServerMessage);

/// At most two people share a room.
const SEATS_PER_ROOM: usize = 2;

/// All rooms and who sits in them.
#[derive(Debug)]
pub struct Rooms {
    /// The most rooms open at once; a join that would open one more gets `server_busy`.
    max_rooms: usize,
    /// The people in each room, in order of arrival: the first is the Caller.
    rooms: HashMap<RoomName, Vec<ConnId>>,
    /// The room each seated connection is in; a connection is in at most one room.
    seat_of: HashMap<ConnId, RoomName>,
}

impl Default for Rooms {
    fn default() -> Self {
        Rooms::new()
    }
}

impl Rooms {
    /// An empty set of rooms with no practical limit on their number.
    pub fn new() -> Rooms {
        Rooms::with_room_limit(usize::MAX)
    }

    /// An empty set of rooms holding at most `max_rooms` at once.
    pub fn with_room_limit(max_rooms: usize) -> Rooms {
        Rooms {
            max_rooms,
            rooms: HashMap::new(),
            seat_of: HashMap::new(),
        }
    }

    /// The number of rooms with at least one person.
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// The number of seated connections.
    pub fn seated_count(&self) -> usize {
        self.seat_of.len()
    }

    /// The room `conn` is in, if any.
    pub fn room_of(&self, conn: ConnId) -> Option<&RoomName> {
        self.seat_of.get(&conn)
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
            // Reports concern metrics, not rooms; the socket task consumes them.
            Input::Message(ClientMessage::Report { .. }) => Vec::new(),
        }
    }

    fn join(&mut self, conn: ConnId, room: RoomName) -> Vec<Outgoing> {
        if let Some(current) = self.seat_of.get(&conn) {
            let message = format!("you are already in room {current}; send bye first");
            return refuse(conn, ErrorCode::AlreadyInRoom, message);
        }
        if !self.rooms.contains_key(&room) && self.rooms.len() >= self.max_rooms {
            return refuse(
                conn,
                ErrorCode::ServerBusy,
                "the server has too many rooms open; try again later",
            );
        }
        let peers = self.rooms.entry(room.clone()).or_default();
        match peers.len() {
            0 => {
                peers.push(conn);
                self.seat_of.insert(conn, room.clone());
                vec![(conn, ServerMessage::Created { room })]
            }
            n if n < SEATS_PER_ROOM => {
                let others: Vec<ConnId> = peers.clone();
                peers.push(conn);
                self.seat_of.insert(conn, room.clone());
                let mut out = vec![(conn, ServerMessage::Joined { room: room.clone() })];
                out.extend(
                    others
                        .into_iter()
                        .map(|other| (other, ServerMessage::NewPeer { room: room.clone() })),
                );
                out
            }
            _ => vec![(conn, ServerMessage::Full { room })],
        }
    }

    fn relay(&self, conn: ConnId, message: ServerMessage) -> Vec<Outgoing> {
        let Some(room) = self.seat_of.get(&conn) else {
            return refuse(
                conn,
                ErrorCode::NotInRoom,
                "join a room before sending call messages",
            );
        };
        match self.other_peer(room, conn) {
            Some(other) => vec![(other, message)],
            // Alone in the room: there is nobody to tell yet, which is not the sender's fault.
            None => Vec::new(),
        }
    }

    fn leave(&mut self, conn: ConnId) -> Vec<Outgoing> {
        let Some(room) = self.seat_of.remove(&conn) else {
            // Not seated: a second bye, or the answering bye of a peer already alone. Nothing to do.
            return Vec::new();
        };
        let mut out = Vec::new();
        if let Some(peers) = self.rooms.get_mut(&room) {
            peers.retain(|p| *p != conn);
            out.extend(
                peers
                    .iter()
                    .map(|other| (*other, ServerMessage::Bye { room: room.clone() })),
            );
            if peers.is_empty() {
                self.rooms.remove(&room);
            }
        }
        out
    }

    fn other_peer(&self, room: &RoomName, conn: ConnId) -> Option<ConnId> {
        self.rooms.get(room)?.iter().copied().find(|p| *p != conn)
    }

    /// Checks the invariants: at most two per room, no empty rooms, and the seat index agrees
    /// with the rooms. Used by tests and fuzzing.
    pub fn check_invariants(&self) -> Result<(), String> {
        for (room, peers) in &self.rooms {
            if peers.is_empty() || peers.len() > SEATS_PER_ROOM {
                return Err(format!("room {room} has {} peers", peers.len()));
            }
            for p in peers {
                if self.seat_of.get(p) != Some(room) {
                    return Err(format!("{p} sits in {room} but the index disagrees"));
                }
            }
        }
        let seated: usize = self.rooms.values().map(Vec::len).sum();
        if seated != self.seat_of.len() {
            return Err("the seat index holds connections that are in no room".into());
        }
        Ok(())
    }
}

fn refuse(conn: ConnId, code: ErrorCode, message: impl Into<String>) -> Vec<Outgoing> {
    vec![(conn, ServerMessage::error(code, message))]
}

#[cfg(test)]
mod tests {
    use super::*;
    use visavis_shared::IceCandidate;

    const A: ConnId = ConnId(1);
    const B: ConnId = ConnId(2);
    const C: ConnId = ConnId(3);

    fn room(name: &str) -> RoomName {
        RoomName::try_from(name).expect("test fixture is valid")
    }

    fn join(rooms: &mut Rooms, conn: ConnId, name: &str) -> Vec<Outgoing> {
        rooms.handle(
            conn,
            Input::Message(ClientMessage::Join { room: room(name) }),
        )
    }

    fn send(rooms: &mut Rooms, conn: ConnId, message: ClientMessage) -> Vec<Outgoing> {
        rooms.handle(conn, Input::Message(message))
    }

    fn error_code(out: &[Outgoing]) -> Option<ErrorCode> {
        match out {
            [(_, ServerMessage::Error { code, .. })] => Some(*code),
            _ => None,
        }
    }

    fn pair() -> Rooms {
        let mut rooms = Rooms::new();
        join(&mut rooms, A, "r");
        join(&mut rooms, B, "r");
        rooms
    }

    #[test]
    fn the_first_join_creates_the_room() {
        let mut rooms = Rooms::new();
        assert_eq!(
            join(&mut rooms, A, "r"),
            vec![(A, ServerMessage::Created { room: room("r") })]
        );
    }

    #[test]
    fn the_second_join_is_joined_and_the_first_hears_new_peer() {
        let mut rooms = Rooms::new();
        join(&mut rooms, A, "r");
        assert_eq!(
            join(&mut rooms, B, "r"),
            vec![
                (B, ServerMessage::Joined { room: room("r") }),
                (A, ServerMessage::NewPeer { room: room("r") })
            ]
        );
    }

    #[test]
    fn a_third_join_is_full_and_not_admitted() {
        let mut rooms = pair();
        assert_eq!(
            join(&mut rooms, C, "r"),
            vec![(C, ServerMessage::Full { room: room("r") })]
        );
        assert_eq!(rooms.room_of(C), None);
        assert_eq!(
            error_code(&send(
                &mut rooms,
                C,
                ClientMessage::Invite { sdp: "x".into() }
            )),
            Some(ErrorCode::NotInRoom)
        );
    }

    #[test]
    fn an_offer_goes_to_the_other_peer_only() {
        let mut rooms = pair();
        join(&mut rooms, C, "elsewhere");
        let out = send(
            &mut rooms,
            A,
            ClientMessage::Invite {
                sdp: "offer".into(),
            },
        );
        assert_eq!(
            out,
            vec![(
                B,
                ServerMessage::Invite {
                    sdp: "offer".into()
                }
            )]
        );
    }

    #[test]
    fn an_answer_and_candidates_go_back_the_other_way() {
        let mut rooms = pair();
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
        let mut rooms = Rooms::new();
        join(&mut rooms, A, "r");
        assert!(send(&mut rooms, A, ClientMessage::Invite { sdp: "o".into() }).is_empty());
    }

    #[test]
    fn a_relay_before_joining_is_not_in_room() {
        let mut rooms = Rooms::new();
        assert_eq!(
            error_code(&send(&mut rooms, A, ClientMessage::Ok { sdp: "a".into() })),
            Some(ErrorCode::NotInRoom)
        );
    }

    #[test]
    fn a_second_join_while_seated_is_already_in_room_and_changes_nothing() {
        let mut rooms = pair();
        assert_eq!(
            error_code(&join(&mut rooms, A, "other")),
            Some(ErrorCode::AlreadyInRoom)
        );
        assert_eq!(rooms.room_of(A), Some(&room("r")));
        assert_eq!(rooms.room_count(), 1);
    }

    #[test]
    fn bye_tells_the_other_peer_and_the_answering_bye_goes_nowhere() {
        let mut rooms = pair();
        assert_eq!(
            send(&mut rooms, A, ClientMessage::Bye { room: room("r") }),
            vec![(B, ServerMessage::Bye { room: room("r") })]
        );
        assert!(send(&mut rooms, B, ClientMessage::Bye { room: room("r") }).is_empty());
        assert_eq!(rooms.room_count(), 0);
        rooms.check_invariants().expect("test fixture is valid");
    }

    #[test]
    fn a_disconnect_counts_as_bye_and_frees_the_seat() {
        let mut rooms = pair();
        assert_eq!(
            rooms.handle(A, Input::Disconnected),
            vec![(B, ServerMessage::Bye { room: room("r") })]
        );
        assert_eq!(
            join(&mut rooms, C, "r"),
            vec![
                (C, ServerMessage::Joined { room: room("r") }),
                (B, ServerMessage::NewPeer { room: room("r") })
            ]
        );
    }

    #[test]
    fn a_bye_from_nobody_is_ignored() {
        let mut rooms = Rooms::new();
        assert!(send(&mut rooms, A, ClientMessage::Bye { room: room("r") }).is_empty());
        assert!(rooms.handle(A, Input::Disconnected).is_empty());
    }

    #[test]
    fn an_empty_room_is_forgotten_and_can_be_created_again() {
        let mut rooms = Rooms::new();
        join(&mut rooms, A, "r");
        rooms.handle(A, Input::Disconnected);
        assert_eq!(rooms.room_count(), 0);
        assert_eq!(
            join(&mut rooms, B, "r"),
            vec![(B, ServerMessage::Created { room: room("r") })]
        );
    }

    #[test]
    fn an_sdp_over_64_kib_is_refused_and_not_relayed() {
        let mut rooms = pair();
        let out = send(
            &mut rooms,
            A,
            ClientMessage::Invite {
                sdp: "x".repeat(MAX_SDP_BYTES + 1),
            },
        );
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
        let mut rooms = pair();
        let out = send(
            &mut rooms,
            A,
            ClientMessage::Invite {
                sdp: "x".repeat(MAX_SDP_BYTES),
            },
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, B);
    }

    #[test]
    fn a_candidate_over_2_kib_is_refused_and_not_relayed() {
        let mut rooms = pair();
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
        let mut rooms = Rooms::with_room_limit(1);
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
        let mut rooms = Rooms::new();
        for i in 0..200u64 {
            join(&mut rooms, ConnId(2 * i), &format!("room-{i}"));
            join(&mut rooms, ConnId(2 * i + 1), &format!("room-{i}"));
        }
        for i in 0..200u64 {
            let out = send(
                &mut rooms,
                ConnId(2 * i),
                ClientMessage::Invite {
                    sdp: format!("offer-{i}"),
                },
            );
            assert_eq!(
                out,
                vec![(
                    ConnId(2 * i + 1),
                    ServerMessage::Invite {
                        sdp: format!("offer-{i}")
                    }
                )]
            );
        }
        rooms.check_invariants().expect("test fixture is valid");
    }
}
