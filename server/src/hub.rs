//! The hub: the room state, split into shards, each the one task that owns its rooms.
//!
//! A room is owned by exactly one shard, chosen by a hash of its name (`routing.rs`); there are
//! no locks around room state, and no message crosses more than its room's shard. Socket tasks
//! reach the shards through a cloneable [`HubHandle`] and hold a [`Connection`] each, which
//! routes their inputs and keeps track of which shard holds their seat. Each shard runs on a
//! thread of its own (by default one per core), so the room work spreads over the cores.

mod link;
mod remote;
pub mod routing;
mod shard;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytestring::ByteString;
use tokio::sync::{mpsc, oneshot};
use visavis_shared::ClientMessage;

pub use link::{Link, QueueError};
use routing::{RoomOwners, Route, SeatTracker};
use shard::{Command, RelayCounters, Shard};

use crate::cluster::{ClusterHandle, NodeId};
use crate::metrics::Metrics;
use crate::outbound::Outbound;
use crate::relay_frame::RelayKind;
use crate::rooms::{ConnId, Input, Rooms};

/// How many commands may wait for one shard before socket tasks feel backpressure.
const COMMAND_QUEUE_CAPACITY: usize = 4096;

/// A cloneable way to reach the shards.
#[derive(Clone)]
pub struct HubHandle {
    shards: Arc<[mpsc::Sender<Command>]>,
    owners: RoomOwners,
    next_conn: Arc<AtomicU64>,
    /// Cluster mode: how to reach the other nodes. `None` on a single node.
    cluster: Option<ClusterHandle>,
    /// Relays that take a shortcut are counted by their socket task.
    relayed: RelayCounters,
}

/// One registered connection, as its socket task holds it.
pub struct Connection {
    /// The connection's id, for logs.
    pub id: ConnId,
    /// How the shards reach this connection, and how its socket task writes too; the socket
    /// task watches it for being dropped.
    pub link: Arc<Link>,
    seat: SeatTracker,
    /// Cluster mode: the node owning this connection's seat, when it is another node (then
    /// `seat` is empty and everything goes there).
    remote: Option<NodeId>,
    /// How many commands this connection has sent to the shards; its shortcut is used only
    /// when they have all been carried out (`link.rs`).
    sent: u64,
    hub: HubHandle,
}

impl HubHandle {
    /// Builds one shard per `Rooms` (each owns the rooms that hash to it) and starts each on
    /// a thread of its own with a single-threaded Tokio runtime. A thread ends when its shard
    /// does, once every handle is gone. Own threads rather than the HTTP workers: a shard must
    /// never wait in line behind the socket work of a busy worker (abusive clients included),
    /// or every room it owns would feel it.
    pub fn start(rooms: Vec<Rooms>, metrics: Arc<Metrics>) -> std::io::Result<HubHandle> {
        let mut senders = Vec::with_capacity(rooms.len());
        for (index, rooms) in rooms.into_iter().enumerate() {
            let (sender, receiver) = mpsc::channel(COMMAND_QUEUE_CAPACITY);
            // Weak, so that the shard's own timers do not keep it alive once every handle is
            // gone.
            let shard = Shard::new(rooms, metrics.clone(), sender.downgrade());
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()?;
            std::thread::Builder::new()
                .name(format!("visavis-hub-{index}"))
                .spawn(move || runtime.block_on(shard.run(receiver)))?;
            senders.push(sender);
        }
        Ok(HubHandle {
            owners: RoomOwners::new(senders.len()),
            shards: senders.into(),
            next_conn: Arc::new(AtomicU64::new(1)),
            cluster: None,
            relayed: RelayCounters::new(&metrics),
        })
    }

    /// The same hub in cluster mode: rooms are claimed through `cluster`, and a connection
    /// whose room another node owns is served there.
    pub fn with_cluster(mut self, cluster: ClusterHandle) -> HubHandle {
        self.cluster = Some(cluster);
        self
    }

    /// Cluster mode's handle, if on.
    pub fn cluster(&self) -> Option<&ClusterHandle> {
        self.cluster.as_ref()
    }

    /// Which shard owns which room.
    pub fn owners(&self) -> RoomOwners {
        self.owners
    }

    /// Registers a new connection whose frames go into `outbound`. `None` once the hub has
    /// shut down.
    pub fn connect(&self, outbound: Outbound) -> Option<Connection> {
        if !self.is_alive() {
            return None;
        }
        let id = ConnId(self.next_conn.fetch_add(1, Ordering::Relaxed));
        Some(Connection {
            id,
            link: Arc::new(Link::new(id, outbound)),
            seat: SeatTracker::default(),
            remote: None,
            sent: 0,
            hub: self.clone(),
        })
    }

    /// Whether every shard is still running.
    pub fn is_alive(&self) -> bool {
        self.shards.iter().all(|shard| !shard.is_closed())
    }
}

impl Connection {
    /// Hands a decoded client message to the shard it belongs to; waits for the answer when
    /// it may change the seat.
    pub async fn message(&mut self, message: ClientMessage) {
        self.send_input(Input::Message(message)).await;
    }

    /// Tells the hub that the socket ended cleanly. Counts as `bye`.
    pub async fn disconnect(&mut self) {
        self.send_input(Input::Disconnected).await;
    }

    /// Tells the hub that the socket ended uncleanly: its seat is held for the grace period.
    pub async fn lost(&mut self) {
        self.send_input(Input::Lost).await;
    }

    /// Forwards a validated relay frame as its original text.
    pub async fn forward(&mut self, kind: RelayKind, frame: ByteString) {
        if self.forward_remote(kind, &frame) {
            return;
        }
        // The common case in a call: straight into the partner's queue.
        let frame = match self.link.try_shortcut(self.sent, frame) {
            Ok(()) => {
                self.hub.relayed.count(kind);
                return;
            }
            Err(frame) => frame,
        };
        let Route::Shard {
            shard, introduce, ..
        } = self.seat.route_relay()
        else {
            return;
        };
        let command = Command::Forward {
            conn: self.id,
            kind,
            frame,
            link: introduce.then(|| self.link.clone()),
        };
        // An error means the shard is gone, which only happens at shutdown.
        if self.hub.shards[shard].send(command).await.is_ok() {
            self.sent += 1;
        }
    }

    async fn send_input(&mut self, input: Input) {
        if self.hub.cluster.is_some() && !self.send_input_cluster(&input).await {
            return;
        }
        self.send_local(input).await;
    }

    /// Sends `input` to this node's shards, following the seat.
    async fn send_local(&mut self, input: Input) {
        let Route::Shard {
            shard,
            introduce,
            acknowledge,
        } = self.seat.route(&input, &self.hub.owners)
        else {
            return;
        };
        let (ack, answer) = if acknowledge {
            let (ack, answer) = oneshot::channel();
            (Some(ack), Some(answer))
        } else {
            (None, None)
        };
        let command = Command::Input {
            conn: self.id,
            input,
            link: introduce.then(|| self.link.clone()),
            ack,
        };
        // An error means the shard is gone, which only happens at shutdown.
        if self.hub.shards[shard].send(command).await.is_err() {
            return;
        }
        self.sent += 1;
        if let Some(answer) = answer {
            if let Ok(seated) = answer.await {
                self.seat.acknowledged(shard, seated);
            }
        }
    }
}
