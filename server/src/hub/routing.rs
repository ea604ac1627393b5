//! Which hub shard gets what, written without I/O so that the fuzz test can drive the same
//! rules as the server.
//!
//! A room is owned by exactly one shard, chosen by a stable hash of its name ([`RoomOwners`]);
//! this is the one place that decides it, so a later scale-out can map rooms to nodes behind
//! the same interface. A connection follows its seat: while it holds one, everything it sends
//! goes to that seat's shard, which answers a second `join` with `already_in_room` exactly as a
//! single owner would. Without a seat, a `join` or `rejoin` goes to the owner of the room it
//! names. Inputs that can change the seat (`join`, `rejoin`, `bye`) are acknowledged with
//! whether the connection holds a seat afterwards, and the socket sends nothing more until the
//! answer is in, so the connection's seat is always known exactly and it never sits in two
//! shards at once.

use visavis_shared::{ClientMessage, RoomName};

use crate::rooms::Input;

/// The shards, numbered from 0.
pub type ShardId = usize;

/// Maps a room to its owning shard. Stable across processes and runs (FNV-1a of the name), so
/// any node computes the same owner.
#[derive(Debug, Clone, Copy)]
pub struct RoomOwners {
    shards: usize,
}

impl RoomOwners {
    /// Owners for `shards` shards (at least one).
    pub fn new(shards: usize) -> RoomOwners {
        RoomOwners {
            shards: shards.max(1),
        }
    }

    /// How many shards there are.
    pub fn shards(&self) -> usize {
        self.shards
    }

    /// The shard that owns `room`.
    pub fn owner(&self, room: &RoomName) -> ShardId {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in room.as_str().bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        // The modulo of a u64 by a usize shard count always fits a usize.
        (hash % self.shards as u64) as ShardId
    }
}

/// Where one input of a connection goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// To this shard. `introduce`: the shard does not know the connection yet (it holds no
    /// seat there), so the input carries the way to reach it. `acknowledge`: the input may
    /// change the seat; wait for the shard's answer before sending anything else.
    Shard {
        shard: ShardId,
        introduce: bool,
        acknowledge: bool,
    },
    /// Nowhere: the input has no effect (a `bye`, disconnect or loss without a seat, which
    /// the room rules ignore).
    Nowhere,
}

/// The shard answering inputs that name no room from a connection without a seat (a relay
/// gets `not_in_room` there). Any shard would answer the same; the first is as good as any.
const UNSEATED: ShardId = 0;

/// One connection's view of its seat, kept by its socket task.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeatTracker {
    seat: Option<ShardId>,
}

impl SeatTracker {
    /// The shard holding this connection's seat, if it has one.
    pub fn seat(&self) -> Option<ShardId> {
        self.seat
    }

    /// Where `input` goes.
    pub fn route(&self, input: &Input, owners: &RoomOwners) -> Route {
        let changes_seat = matches!(
            input,
            Input::Message(
                ClientMessage::Join { .. }
                    | ClientMessage::Rejoin { .. }
                    | ClientMessage::Bye { .. }
            )
        );
        match (self.seat, input) {
            (Some(shard), _) => Route::Shard {
                shard,
                introduce: false,
                acknowledge: changes_seat,
            },
            (
                None,
                Input::Message(ClientMessage::Join { room } | ClientMessage::Rejoin { room, .. }),
            ) => Route::Shard {
                shard: owners.owner(room),
                introduce: true,
                acknowledge: true,
            },
            (
                None,
                Input::Message(ClientMessage::Bye { .. } | ClientMessage::Leaving)
                | Input::Disconnected
                | Input::Lost,
            ) => Route::Nowhere,
            (None, Input::Message(_)) => self.route_relay(),
        }
    }

    /// Where a relayed frame (forwarded as its original text) goes.
    pub fn route_relay(&self) -> Route {
        match self.seat {
            Some(shard) => Route::Shard {
                shard,
                introduce: false,
                acknowledge: false,
            },
            None => Route::Shard {
                shard: UNSEATED,
                introduce: true,
                acknowledge: false,
            },
        }
    }

    /// Records a shard's acknowledgement: whether the connection holds a seat there now.
    pub fn acknowledged(&mut self, shard: ShardId, seated: bool) {
        self.seat = seated.then_some(shard);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> RoomName {
        RoomName::try_from(name).expect("test fixture is valid")
    }

    fn join(name: &str) -> Input {
        Input::Message(ClientMessage::Join { room: room(name) })
    }

    #[test]
    fn owners_spread_rooms_and_never_change_their_mind() {
        let owners = RoomOwners::new(4);
        let mut counts = [0; 4];
        for i in 0..4000 {
            let name = room(&format!("room-{i}"));
            let owner = owners.owner(&name);
            assert_eq!(owner, owners.owner(&name));
            counts[owner] += 1;
        }
        assert!(counts.iter().all(|&count| count > 800), "{counts:?}");
        assert_eq!(RoomOwners::new(1).owner(&room("any")), 0);
        assert_eq!(RoomOwners::new(0).shards(), 1);
    }

    #[test]
    fn a_seated_connection_sends_everything_to_its_seat() {
        let owners = RoomOwners::new(8);
        let (a, b) = (0..100)
            .map(|i| room(&format!("r{i}")))
            .find_map(|x| {
                let y = room(&format!("{x}-other"));
                (owners.owner(&x) != owners.owner(&y)).then_some((x, y))
            })
            .expect("two rooms with different owners");
        let mut tracker = SeatTracker::default();
        let first = tracker.route(&join(a.as_str()), &owners);
        assert_eq!(
            first,
            Route::Shard {
                shard: owners.owner(&a),
                introduce: true,
                acknowledge: true
            }
        );
        tracker.acknowledged(owners.owner(&a), true);
        // A second join, of a room another shard owns, still goes to the seat's shard, which
        // answers `already_in_room`.
        assert_eq!(
            tracker.route(&join(b.as_str()), &owners),
            Route::Shard {
                shard: owners.owner(&a),
                introduce: false,
                acknowledge: true
            }
        );
        assert_eq!(
            tracker.route(&Input::Lost, &owners),
            Route::Shard {
                shard: owners.owner(&a),
                introduce: false,
                acknowledge: false
            }
        );
        tracker.acknowledged(owners.owner(&a), false);
        assert_eq!(tracker.seat(), None);
        assert_eq!(tracker.route(&Input::Lost, &owners), Route::Nowhere);
        assert_eq!(
            tracker.route(&join(b.as_str()), &owners),
            Route::Shard {
                shard: owners.owner(&b),
                introduce: true,
                acknowledge: true
            }
        );
    }

    #[test]
    fn relays_without_a_seat_go_to_one_fixed_shard_to_be_refused() {
        let owners = RoomOwners::new(3);
        let tracker = SeatTracker::default();
        let relay = Input::Message(ClientMessage::Invite { sdp: "v=0".into() });
        assert_eq!(tracker.route(&relay, &owners), tracker.route_relay());
        assert_eq!(
            tracker.route_relay(),
            Route::Shard {
                shard: 0,
                introduce: true,
                acknowledge: false
            }
        );
    }
}
