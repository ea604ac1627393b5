//! Cluster mode (`--redis-url`): several visavis nodes share rooms through Redis.
//!
//! Each room is owned by one node at a time (`ownership.rs`), and on that node the same pure
//! room rules (`Rooms`) decide everything. A node holding a socket whose room another node owns
//! forwards the socket's inputs to the owner over Redis pub/sub, one inbox channel per node;
//! the owner sends what the rules produce back to the nodes holding the recipients
//! (`envelope.rs`). Each (sender -> receiver) stream is numbered (`sequence.rs`): a gap, a
//! node gone quiet or an interrupted subscription drops what the two nodes shared, as lost
//! sockets, and the clients rejoin with their seat tokens, as after a restart.
//!
//! All Redis I/O runs on one thread of its own (`redis_io.rs`, `engine.rs`); socket tasks reach
//! it through a [`ClusterHandle`]. Every Redis call has a timeout, and without Redis a node
//! keeps the calls it holds, refuses new joins with `server_busy` and reports not ready.

mod engine;
pub mod envelope;
mod metrics;
pub mod ownership;
mod redis_io;
pub mod sequence;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytestring::ByteString;
use tokio::sync::{mpsc, oneshot};
use visavis_shared::RoomName;

pub use envelope::NodeId;
pub use metrics::ClusterMetrics;

use crate::hub::{HubHandle, Link};
use crate::relay_frame::RelayKind;
use crate::rooms::{ConnId, Input};
use envelope::Body;

/// How long a socket waits for the owner's answer to a `join`, `rejoin` or `bye` before it
/// gives up (and closes the socket as lost).
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(3);

/// How many renewals in a row Redis must answer before a node takes new calls (see
/// `Inner::set_connected`): with renewals once a second, every other live node has re-claimed
/// its rooms by then.
const SETTLE_TICKS: u32 = 3;

/// How many messages may wait to be published before senders count their peer as lost.
const OUTBOX_CAPACITY: usize = 65_536;

/// Redis cannot be used right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unavailable;

/// The owner's answer to an input that may change the seat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Whether the connection holds a seat on the owner now.
    pub seated: bool,
    /// The owner did not own the room after all: claim again.
    pub redirect: Option<NodeId>,
}

/// A connection of this node whose seat is on another node.
struct Held {
    node: NodeId,
    link: Arc<Link>,
    /// The answer the socket task waits for, if it waits.
    pending: Option<oneshot::Sender<Answer>>,
}

/// What the engine (`engine.rs`) is told.
enum Event {
    /// A message from another node.
    Envelope(envelope::Envelope),
    /// What this node shares with `node` may be lost; `reason` is the metric label.
    Loss(NodeId, &'static str),
    /// This node's own inbox was interrupted: everything shared may be lost.
    LossAll,
    /// The owner side let go of a remote connection (replaced, or not reading).
    Kicked {
        from: NodeId,
        conn: u64,
        local: ConnId,
    },
    /// Check that the nodes this one shares connections with are still alive.
    CheckPeers,
}

struct Inner {
    node: NodeId,
    epoch: u64,
    runtime: tokio::runtime::Handle,
    redis: redis::aio::ConnectionManager,
    /// Redis answered the last heartbeats and the inbox is subscribed.
    connected: AtomicBool,
    /// Renewals in a row that Redis answered.
    healthy_ticks: AtomicU32,
    subscribed: AtomicBool,
    outbox: mpsc::Sender<(NodeId, Body)>,
    events: mpsc::UnboundedSender<Event>,
    /// This node's connections seated on other nodes, by connection id.
    held: Mutex<HashMap<ConnId, Held>>,
    metrics: ClusterMetrics,
}

/// How the rest of the server reaches cluster mode. Cloning shares it.
#[derive(Clone)]
pub struct ClusterHandle {
    inner: Arc<Inner>,
}

impl ClusterHandle {
    /// Starts cluster mode as `node`, on a thread of its own: connects to Redis at `url` (in
    /// the background, retrying; until it answers, joins are refused), subscribes this node's
    /// inbox and keeps its liveness and room keys fresh. `hub` is this node's hub, which the
    /// cluster feeds with the inputs of connections held by other nodes.
    pub fn start(
        url: &str,
        node: NodeId,
        hub: HubHandle,
        metrics: ClusterMetrics,
    ) -> anyhow::Result<ClusterHandle> {
        redis_io::start(url, node, hub, metrics)
    }

    /// This node's id.
    pub fn node(&self) -> &NodeId {
        &self.inner.node
    }

    /// Whether Redis answers and this node's inbox is subscribed, i.e. new calls can be taken.
    pub fn is_connected(&self) -> bool {
        self.inner.connected.load(Ordering::Relaxed)
    }

    /// Claims `room` for this node unless another live node owns it. `Ok(None)`: it is ours;
    /// `Ok(Some(node))`: `node` owns it.
    pub async fn claim(&self, room: &RoomName) -> Result<Option<NodeId>, Unavailable> {
        let inner = self.inner.clone();
        let room = room.clone();
        let task = self
            .inner
            .runtime
            .spawn(async move { redis_io::claim(&inner, &room).await });
        task.await.unwrap_or(Err(Unavailable))
    }

    /// Sends an input of `conn` to its owner `node`, without waiting.
    pub fn send_input(&self, node: &NodeId, conn: ConnId, input: Input, ack: bool) {
        self.inner.send(
            node,
            Body::Input {
                conn: conn.0,
                input: input.into(),
                ack,
            },
        );
    }

    /// Sends an input of `conn` that may change its seat to `node` and waits for the answer.
    /// While it waits and afterwards, as long as it is seated there, what `node` sends the
    /// connection goes into `link`. `None`: no answer in time, or the node was lost.
    pub async fn remote_input(
        &self,
        node: &NodeId,
        conn: ConnId,
        link: &Arc<Link>,
        input: &Input,
    ) -> Option<Answer> {
        let (pending, answer) = oneshot::channel();
        self.inner.lock_held().insert(
            conn,
            Held {
                node: node.clone(),
                link: link.clone(),
                pending: Some(pending),
            },
        );
        self.send_input(node, conn, input.clone(), true);
        let answer = match tokio::time::timeout(ANSWER_TIMEOUT, answer).await {
            Ok(Ok(answer)) => Some(answer),
            _ => None,
        };
        if !answer.as_ref().is_some_and(|answer| answer.seated) {
            self.forget(conn);
        }
        answer
    }

    /// Forwards a relay frame of `conn` to its owner `node`.
    pub fn relay(&self, node: &NodeId, conn: ConnId, kind: RelayKind, frame: &ByteString) {
        self.inner.send(
            node,
            Body::Relay {
                conn: conn.0,
                kind: kind.into(),
                frame: frame.to_string(),
            },
        );
    }

    /// `conn` is no longer seated on another node (it left, or its socket ended).
    pub fn forget(&self, conn: ConnId) {
        self.inner.lock_held().remove(&conn);
    }
}

impl Inner {
    /// Queues a message for `to`. A full outbox means `to` (or Redis) cannot keep up: what is
    /// shared with it is dropped.
    fn send(&self, to: &NodeId, body: Body) {
        if self.outbox.try_send((to.clone(), body)).is_err() {
            let _ = self.events.send(Event::Loss(to.clone(), "publish_failed"));
        }
    }

    fn lock_held(&self) -> MutexGuard<'_, HashMap<ConnId, Held>> {
        // A panic while holding this lock cannot leave the map half-updated (each use is one
        // insert, remove or lookup), so a poisoned lock is still good to use.
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records whether Redis answered. A node takes new calls only once Redis has answered
    /// [`SETTLE_TICKS`] renewals in a row: after Redis comes back empty, every live node
    /// re-claims the rooms it holds at its first renewal, and a claim made before that could
    /// take a room another node still holds.
    fn set_connected(&self, heartbeat_ok: bool) {
        let ticks = if heartbeat_ok {
            self.healthy_ticks
                .fetch_add(1, Ordering::Relaxed)
                .saturating_add(1)
        } else {
            self.healthy_ticks.store(0, Ordering::Relaxed);
            0
        };
        let connected = ticks >= SETTLE_TICKS && self.subscribed.load(Ordering::Relaxed);
        if self.connected.swap(connected, Ordering::Relaxed) != connected {
            if connected {
                tracing::info!(node = %self.node, "redis connected; taking new calls");
            } else {
                tracing::warn!(node = %self.node, "redis unusable; refusing new calls");
            }
        }
        self.metrics.redis_connected.set(i64::from(connected));
    }
}
