//! The cluster's engine: one task that handles every message from other nodes, in order, and
//! the losses detected anywhere.
//!
//! As a room's owner it keeps one entry per remote connection (a socket another node holds):
//! a local connection id for the room rules, the shard seat of that connection
//! (`SeatTracker`, as a socket task would keep it) and a proxy [`Link`] whose frames a proxy
//! task publishes to the holding node. As a holder it hands what owners send to the local
//! sockets (`Inner::held`). On a loss it drops what this node shares with the other node:
//! remote connections become lost inputs for their rooms (their seats are held for the grace
//! period) and local sockets seated there are closed as lost, so that clients rejoin.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bytestring::ByteString;
use tokio::sync::mpsc;
use visavis_shared::{ClientMessage, ErrorCode, ServerMessage};

use super::envelope::{node_key, Body, Envelope, NodeId, WireInput};
use super::redis_io::{self, REDIS_TIMEOUT};
use super::sequence::{Arrival, Tracker};
use super::{Answer, Event, Inner};
use crate::hub::routing::{Route, SeatTracker};
use crate::hub::{HubHandle, Link};
use crate::outbound::{Frame, OUTBOUND_QUEUE_CAPACITY};
use crate::rooms::{ConnId, Input};

/// A connection another node holds, seated (or being seated) here.
struct Remote {
    local: ConnId,
    tracker: SeatTracker,
    link: Arc<Link>,
    control: mpsc::UnboundedSender<Control>,
}

/// What the engine tells a proxy task.
enum Control {
    /// The room rules handled an input: tell the holder (if it asked) after every frame the
    /// input produced; stop if the connection holds no seat any more.
    Answer { seated: bool, reply: bool },
    /// The entry is gone; stop.
    Done,
}

pub(super) struct Engine {
    inner: Arc<Inner>,
    hub: HubHandle,
    remotes: HashMap<(NodeId, u64), Remote>,
    tracker: Tracker,
}

impl Engine {
    pub(super) fn new(inner: Arc<Inner>, hub: HubHandle) -> Engine {
        Engine {
            inner,
            hub,
            remotes: HashMap::new(),
            tracker: Tracker::default(),
        }
    }

    pub(super) async fn run(mut self, mut events: mpsc::UnboundedReceiver<Event>) {
        while let Some(event) = events.recv().await {
            match event {
                Event::Envelope(envelope) => self.arrive(envelope).await,
                Event::Loss(node, reason) => self.loss(&node, reason).await,
                Event::LossAll => {
                    for node in self.peers() {
                        self.loss(&node, "resubscribed").await;
                    }
                    self.tracker.reset();
                }
                Event::Kicked { from, conn, local } => {
                    let key = (from, conn);
                    if self.remotes.get(&key).is_some_and(|r| r.local == local) {
                        self.remotes.remove(&key);
                    }
                }
                Event::CheckPeers => self.check_peers().await,
            }
        }
    }

    async fn arrive(&mut self, envelope: Envelope) {
        let Envelope {
            from,
            epoch,
            seq,
            body,
        } = envelope;
        if from == self.inner.node {
            return;
        }
        match self.tracker.arrive(&from, epoch, seq) {
            Arrival::Stale => return,
            Arrival::Gap => self.loss(&from, "gap").await,
            Arrival::InOrder => {}
        }
        match body {
            Body::Input { conn, input, ack } => self.input(from, conn, input, ack).await,
            Body::Relay { conn, kind, frame } => {
                if let Some(remote) = self.remotes.get(&(from, conn)) {
                    if let Some(shard) = remote.tracker.seat() {
                        let frame = ByteString::from(frame);
                        self.hub
                            .forward_at(shard, remote.local, kind.into(), frame)
                            .await;
                    }
                }
            }
            Body::Deliver { conn, text } => {
                let link = self.held_link(&from, conn);
                if let Some(link) = link {
                    if link.try_send(text.into()).is_err() {
                        // Not reading (or gone): closed as lost, like a slow consumer.
                        link.drop_connection();
                    }
                }
            }
            Body::Ack {
                conn,
                seated,
                redirect,
            } => {
                let mut held = self.inner.lock_held();
                if let Some(entry) = held.get_mut(&ConnId(conn)) {
                    if entry.node == from {
                        if let Some(pending) = entry.pending.take() {
                            let _ = pending.send(Answer { seated, redirect });
                        }
                    }
                }
            }
            Body::Drop { conn } => {
                let mut held = self.inner.lock_held();
                if held
                    .get(&ConnId(conn))
                    .is_some_and(|entry| entry.node == from)
                {
                    if let Some(entry) = held.remove(&ConnId(conn)) {
                        entry.link.drop_connection();
                    }
                }
            }
        }
    }

    fn held_link(&self, from: &NodeId, conn: u64) -> Option<Arc<Link>> {
        let held = self.inner.lock_held();
        let entry = held.get(&ConnId(conn))?;
        (entry.node == *from).then(|| entry.link.clone())
    }

    /// An input of a remote connection. A `join` or `rejoin` from a connection not seated here
    /// re-checks that this node owns the room before anything is decided.
    async fn input(&mut self, from: NodeId, conn: u64, input: WireInput, ack: bool) {
        let input = Input::from(input);
        let key = (from.clone(), conn);
        if !self.remotes.contains_key(&key) {
            let room = match &input {
                Input::Message(
                    ClientMessage::Join { room } | ClientMessage::Rejoin { room, .. },
                ) => room.clone(),
                _ => {
                    if ack {
                        self.answer(&from, conn, false, None);
                    }
                    return;
                }
            };
            match redis_io::claim(&self.inner, &room).await {
                Ok(None) => {}
                Ok(Some(owner)) => {
                    self.answer(&from, conn, false, Some(owner));
                    return;
                }
                Err(_) => {
                    let refusal = ServerMessage::error(
                        ErrorCode::ServerBusy,
                        "the server cannot take new calls right now; try again in a moment",
                    );
                    self.inner.send(
                        &from,
                        Body::Deliver {
                            conn,
                            text: refusal.to_json(),
                        },
                    );
                    self.answer(&from, conn, false, None);
                    return;
                }
            }
            let remote = self.spawn_remote(from.clone(), conn);
            self.remotes.insert(key.clone(), remote);
        }
        let Some(remote) = self.remotes.get_mut(&key) else {
            return;
        };
        let Route::Shard {
            shard, introduce, ..
        } = remote.tracker.route(&input, &self.hub.owners())
        else {
            let _ = remote.control.send(Control::Answer {
                seated: false,
                reply: ack,
            });
            self.remotes.remove(&key);
            return;
        };
        let link = introduce.then(|| remote.link.clone());
        let seated = self
            .hub
            .input_at(shard, remote.local, input, link)
            .await
            .unwrap_or(false);
        remote.tracker.acknowledged(shard, seated);
        let _ = remote.control.send(Control::Answer { seated, reply: ack });
        if !seated {
            self.remotes.remove(&key);
        }
    }

    fn answer(&self, to: &NodeId, conn: u64, seated: bool, redirect: Option<NodeId>) {
        self.inner.send(
            to,
            Body::Ack {
                conn,
                seated,
                redirect,
            },
        );
    }

    /// A new remote connection: its local id, its proxy link and the task publishing what the
    /// shards queue into it.
    fn spawn_remote(&self, from: NodeId, conn: u64) -> Remote {
        let local = self.hub.new_conn_id();
        let (outbound, frames) = mpsc::channel(OUTBOUND_QUEUE_CAPACITY);
        let link = Arc::new(Link::new(local, outbound));
        let (control, commands) = mpsc::unbounded_channel();
        tokio::spawn(proxy(
            self.inner.clone(),
            from,
            conn,
            link.clone(),
            frames,
            commands,
        ));
        Remote {
            local,
            tracker: SeatTracker::default(),
            link,
            control,
        }
    }

    /// The nodes this one shares connections with, either way.
    fn peers(&self) -> HashSet<NodeId> {
        let mut peers: HashSet<NodeId> =
            self.remotes.keys().map(|(node, _)| node.clone()).collect();
        peers.extend(
            self.inner
                .lock_held()
                .values()
                .map(|held| held.node.clone()),
        );
        peers
    }

    /// Drops what this node shares with `node`: its connections seated here are lost (and
    /// told to close, in case `node` is still there), and the sockets here seated on it are
    /// closed as lost.
    async fn loss(&mut self, node: &NodeId, reason: &'static str) {
        let keys: Vec<(NodeId, u64)> = self
            .remotes
            .keys()
            .filter(|(from, _)| from == node)
            .cloned()
            .collect();
        let mut affected = keys.len();
        for key in keys {
            let Some(remote) = self.remotes.remove(&key) else {
                continue;
            };
            if let Some(shard) = remote.tracker.seat() {
                self.hub
                    .input_at(shard, remote.local, Input::Lost, None)
                    .await;
            }
            let _ = remote.control.send(Control::Done);
            self.inner.send(node, Body::Drop { conn: key.1 });
        }
        let links: Vec<Arc<Link>> = {
            let mut held = self.inner.lock_held();
            let conns: Vec<ConnId> = held
                .iter()
                .filter(|(_, entry)| entry.node == *node)
                .map(|(conn, _)| *conn)
                .collect();
            conns
                .into_iter()
                .filter_map(|conn| held.remove(&conn))
                .map(|entry| entry.link)
                .collect()
        };
        affected += links.len();
        for link in links {
            link.drop_connection();
        }
        // A loss that touched nothing (a peer this node shares no call with) is not counted,
        // except a gap, which always means messages went missing.
        if affected > 0 || reason == "gap" {
            tracing::warn!(%node, reason, affected, "cross-node state lost; sockets dropped to rejoin");
            self.inner.metrics.losses.with_label_values(&[reason]).inc();
        }
    }

    /// Asks Redis which peers are still alive; the dead ones are losses.
    async fn check_peers(&mut self) {
        let peers: Vec<NodeId> = self.peers().into_iter().collect();
        if peers.is_empty() {
            return;
        }
        let mut pipe = redis::pipe();
        for peer in &peers {
            pipe.cmd("EXISTS").arg(node_key(peer));
        }
        let mut redis = self.inner.redis.clone();
        let Ok(Ok(alive)) =
            tokio::time::timeout(REDIS_TIMEOUT, pipe.query_async::<Vec<i64>>(&mut redis)).await
        else {
            // Redis itself is in trouble; the heartbeat deals with that.
            return;
        };
        for (peer, alive) in peers.iter().zip(alive) {
            if alive == 0 {
                self.loss(peer, "node_gone").await;
            }
        }
    }
}

/// Publishes what the shards queue for one remote connection, in order, and the engine's
/// answers after the frames they follow; tells the holder when the owner let go.
async fn proxy(
    inner: Arc<Inner>,
    holder: NodeId,
    conn: u64,
    link: Arc<Link>,
    mut frames: mpsc::Receiver<Frame>,
    mut commands: mpsc::UnboundedReceiver<Control>,
) {
    loop {
        tokio::select! {
            // Frames first: an answer must follow every frame its input produced.
            biased;
            Some(frame) = frames.recv() => {
                if let Frame::Text(text) = frame {
                    inner.send(&holder, Body::Deliver { conn, text: text.to_string() });
                }
            }
            command = commands.recv() => match command {
                Some(Control::Answer { seated, reply }) => {
                    if reply {
                        inner.send(&holder, Body::Ack { conn, seated, redirect: None });
                    }
                    if !seated {
                        return;
                    }
                }
                Some(Control::Done) | None => return,
            },
            _ = link.dropped() => {
                inner.send(&holder, Body::Drop { conn });
                let _ = inner.events.send(Event::Kicked { from: holder.clone(), conn, local: link.conn });
                return;
            }
        }
    }
}
