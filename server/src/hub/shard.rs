//! One hub shard: the task that owns the rooms whose names hash to it (`routing.rs`).
//!
//! The shard never awaits a socket: it hands each outgoing message to that connection's own
//! bounded queue with `try_send`, so a slow reader can never stall anyone else. A connection
//! whose queue is full is dropped as a lost connection (its seat is held for the grace period,
//! its partner told), which is the only sane answer to a peer that stopped reading.
//!
//! The shard also keeps time for the pure room logic: it runs the grace timers `Rooms` asks for
//! and feeds their expiry back in, and closes the sockets `Rooms` says were replaced.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use bytestring::ByteString;
use prometheus::IntCounter;
use tokio::sync::{mpsc, oneshot};
use visavis_shared::{RoomName, ServerMessage};

use super::link::{Link, QueueError};
use crate::metrics::Metrics;
use crate::relay_frame::RelayKind;
use crate::rooms::{AbsenceId, ConnId, GraceTimer, Input, Outgoing, Rooms};

/// What a socket task (or a grace timer) can ask of a shard.
pub(super) enum Command {
    /// An input for the room rules. `link` comes with the first input from a connection this
    /// shard holds no seat for; `ack` wants to hear whether the connection holds a seat here
    /// afterwards.
    Input {
        conn: ConnId,
        input: Input,
        link: Option<Arc<Link>>,
        ack: Option<oneshot::Sender<bool>>,
    },
    /// A relayed frame, already validated, forwarded as its original text.
    Forward {
        conn: ConnId,
        kind: RelayKind,
        frame: ByteString,
        link: Option<Arc<Link>>,
    },
    /// A grace timer ran out.
    GraceExpired { room: RoomName, absence: AbsenceId },
    /// Cluster mode: the names of this shard's rooms, for renewing their ownership.
    RoomNames {
        reply: oneshot::Sender<Vec<RoomName>>,
    },
    /// Cluster mode: another node owns this room now; forget it and close its sockets (as
    /// lost, so their clients rejoin there).
    Evict { room: RoomName },
}

/// The counters of relayed messages, looked up once instead of per message.
#[derive(Clone)]
pub(super) struct RelayCounters {
    invite: IntCounter,
    ok: IntCounter,
    ice_candidate: IntCounter,
}

impl RelayCounters {
    pub(super) fn new(metrics: &Metrics) -> RelayCounters {
        let counter = |kind: RelayKind| metrics.relayed.with_label_values(&[kind.as_str()]);
        RelayCounters {
            invite: counter(RelayKind::Invite),
            ok: counter(RelayKind::Ok),
            ice_candidate: counter(RelayKind::IceCandidate),
        }
    }

    pub(super) fn count(&self, kind: RelayKind) {
        match kind {
            RelayKind::Invite => self.invite.inc(),
            RelayKind::Ok => self.ok.inc(),
            RelayKind::IceCandidate => self.ice_candidate.inc(),
        }
    }
}

/// A shard's state: its rooms plus how to reach each connection seated in them.
pub(super) struct Shard {
    rooms: Rooms,
    /// Connections seated here, plus (for the length of one command) one being introduced.
    links: HashMap<ConnId, Arc<Link>>,
    metrics: Arc<Metrics>,
    relayed: RelayCounters,
    /// The room count last added to the shared gauge, to keep the gauge a sum over shards.
    counted_rooms: usize,
    /// For grace timers to report back.
    commands: mpsc::WeakSender<Command>,
    /// Connections whose shortcut may have changed in the current command (see `link.rs`).
    touched: Vec<ConnId>,
}

impl Shard {
    pub(super) fn new(
        rooms: Rooms,
        metrics: Arc<Metrics>,
        commands: mpsc::WeakSender<Command>,
    ) -> Shard {
        Shard {
            rooms,
            links: HashMap::new(),
            relayed: RelayCounters::new(&metrics),
            metrics,
            counted_rooms: 0,
            commands,
            touched: Vec::new(),
        }
    }

    /// Runs until every sender is gone.
    pub(super) async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        while let Some(command) = commands.recv().await {
            self.apply(command);
        }
    }

    fn apply(&mut self, command: Command) {
        match command {
            Command::Input {
                conn,
                input,
                link,
                ack,
            } => {
                self.introduce(conn, link);
                let room_before = self.rooms.room_of(conn).cloned();
                self.input(conn, input);
                let seated = self.rooms.room_of(conn).is_some();
                self.touch(conn);
                self.touch_room(room_before.as_ref());
                self.update_shortcuts();
                self.mark_processed(conn);
                self.forget_unless_seated(conn);
                if let Some(ack) = ack {
                    // The socket task may have ended meanwhile; then nobody needs the answer.
                    let _ = ack.send(seated);
                }
            }
            Command::Forward {
                conn,
                kind,
                frame,
                link,
            } => {
                self.introduce(conn, link);
                match self.rooms.relay_target(conn) {
                    Ok(Some(other)) => {
                        if self.send_text(other, frame) {
                            self.relayed.count(kind);
                        }
                    }
                    Ok(None) => {}
                    Err(refusal) => self.deliver(vec![refusal]),
                }
                // Only a dropped slow consumer changes anyone's partner here.
                self.update_shortcuts();
                self.mark_processed(conn);
                self.forget_unless_seated(conn);
            }
            Command::GraceExpired { room, absence } => {
                if let Some(out) = self.rooms.grace_expired(&room, absence) {
                    tracing::info!(%room, "seat freed: grace period over");
                    self.metrics.seat_grace_expired.inc();
                    self.touch_room(Some(&room));
                    self.deliver(out);
                    self.update_shortcuts();
                }
            }
            Command::RoomNames { reply } => {
                let _ = reply.send(self.rooms.room_names().cloned().collect());
            }
            Command::Evict { room } => {
                for conn in self.rooms.remove_room(&room) {
                    tracing::info!(%conn, %room, "room moved to another node; closing the socket");
                    self.drop_connection(conn);
                }
            }
        }
        self.carry_out_side_effects();
        self.update_room_gauge();
    }

    fn introduce(&mut self, conn: ConnId, link: Option<Arc<Link>>) {
        if let Some(link) = link {
            self.links.entry(conn).or_insert(link);
        }
    }

    /// A connection without a seat here is not this shard's to reach any more (it was only
    /// introduced for one answer). Forgetting is not dropping: its socket lives on.
    fn forget_unless_seated(&mut self, conn: ConnId) {
        if self.rooms.room_of(conn).is_none() {
            self.links.remove(&conn);
        }
    }

    fn input(&mut self, conn: ConnId, input: Input) {
        if input == Input::Lost {
            if let Some(room) = self.rooms.room_of(conn) {
                tracing::info!(%conn, %room, "seat held for the grace period");
            }
        }
        let kind = match &input {
            Input::Message(message) => {
                tracing::debug!(%conn, kind = message.kind(), "message");
                Some(message.kind())
            }
            _ => None,
        };
        let out = self.rooms.handle(conn, input);
        self.count(conn, kind, &out);
        self.deliver(out);
    }

    /// Updates the counters from what the room logic decided, and logs the outcome of joins
    /// and rejoins. Never logs tokens: they are secrets.
    fn count(&self, sender: ConnId, kind: Option<&'static str>, out: &[Outgoing]) {
        for (to, message) in out {
            let result = message.kind();
            if *to == sender {
                match (kind, message) {
                    (Some("join"), ServerMessage::Created { room, .. })
                    | (Some("join"), ServerMessage::Joined { room, .. })
                    | (Some("join"), ServerMessage::Full { room }) => {
                        tracing::info!(conn = %sender, %room, result, "join");
                        self.metrics.joins.with_label_values(&[result]).inc();
                    }
                    (Some("join"), ServerMessage::Error { .. }) => {
                        self.metrics.joins.with_label_values(&["rejected"]).inc();
                    }
                    (
                        Some("rejoin"),
                        ServerMessage::Rejoined {
                            room, peer_present, ..
                        },
                    ) => {
                        tracing::info!(conn = %sender, %room, peer_present, "seat reclaimed");
                        self.metrics.seat_reclaims.inc();
                    }
                    (Some("rejoin"), ServerMessage::Error { code, .. }) => {
                        tracing::info!(conn = %sender, code = code.as_str(), "rejoin refused");
                        self.metrics
                            .rejected
                            .with_label_values(&[code.as_str()])
                            .inc();
                    }
                    _ => {}
                }
            }
            if *to != sender {
                match message {
                    ServerMessage::Invite { .. } => self.relayed.count(RelayKind::Invite),
                    ServerMessage::Ok { .. } => self.relayed.count(RelayKind::Ok),
                    ServerMessage::IceCandidate { .. } => {
                        self.relayed.count(RelayKind::IceCandidate)
                    }
                    _ => {}
                }
            }
        }
    }

    /// Delivers messages without waiting. A full queue drops that connection, as a lost one
    /// (its seat is held, its partner told), which may produce messages to deliver in turn;
    /// the loop handles that cascade.
    fn deliver(&mut self, out: Vec<Outgoing>) {
        // In order: two messages to one socket must arrive as the room logic emitted them.
        let mut pending: VecDeque<Outgoing> = out.into();
        while let Some((conn, message)) = pending.pop_front() {
            // Whoever is told something may have a new partner, or none.
            self.touched.push(conn);
            if let Some(cascade) = self.try_queue(conn, message.to_json().into()) {
                pending.extend(cascade);
            }
        }
    }

    /// Queues one frame; on a slow consumer, drops it and delivers what that causes.
    fn send_text(&mut self, conn: ConnId, text: ByteString) -> bool {
        match self.try_queue(conn, text) {
            None => true,
            Some(cascade) => {
                self.deliver(cascade);
                false
            }
        }
    }

    /// Queues one frame. `Some` (what the room rules say about the loss) when the queue was
    /// full and the connection was dropped.
    fn try_queue(&mut self, conn: ConnId, text: ByteString) -> Option<Vec<Outgoing>> {
        let link = self.links.get(&conn)?;
        match link.try_send(text) {
            Ok(()) => None,
            Err(QueueError::Full) => {
                tracing::info!(%conn, reason = "slow_consumer", "dropping connection");
                self.metrics
                    .disconnects
                    .with_label_values(&["slow_consumer"])
                    .inc();
                self.drop_connection(conn);
                Some(self.rooms.handle(conn, Input::Lost))
            }
            // The socket task already ended; its disconnect is on its way.
            Err(QueueError::Closed) => None,
        }
    }

    /// Lets go of a connection: its socket task sees it and closes the socket.
    fn drop_connection(&mut self, conn: ConnId) {
        if let Some(link) = self.links.remove(&conn) {
            link.set_shortcut(None);
            link.drop_connection();
        }
    }

    /// Notes that `conn`'s shortcut may have changed.
    fn touch(&mut self, conn: ConnId) {
        self.touched.push(conn);
    }

    /// Notes that the shortcuts of everyone seated in `room` may have changed.
    fn touch_room(&mut self, room: Option<&RoomName>) {
        if let Some(room) = room {
            self.touched.extend(self.rooms.present_in(room));
        }
    }

    /// Sets the shortcut of every touched connection to where the room rules relay its frames
    /// now: its present partner, or nowhere (through the shard). Runs before the command
    /// counts as processed, so a socket never uses a shortcut older than the messages it has
    /// been sent.
    fn update_shortcuts(&mut self) {
        let touched = std::mem::take(&mut self.touched);
        for conn in &touched {
            let Some(link) = self.links.get(conn) else {
                continue;
            };
            let partner = match self.rooms.relay_target(*conn) {
                Ok(Some(partner)) => self.links.get(&partner),
                Ok(None) | Err(_) => None,
            };
            link.set_shortcut(partner);
        }
        // Keep the allocation for the next command.
        self.touched = touched;
        self.touched.clear();
    }

    /// Counts one command of `conn` as carried out, shortcut included.
    fn mark_processed(&self, conn: ConnId) {
        if let Some(link) = self.links.get(&conn) {
            link.mark_processed();
        }
    }

    /// Starts the grace timers the room logic asked for and closes the connections it
    /// replaced; forgets connections that ended.
    fn carry_out_side_effects(&mut self) {
        for conn in self.rooms.take_connections_to_close() {
            tracing::info!(%conn, "seat taken over by a rejoin; closing the old socket");
            self.drop_connection(conn);
        }
        for GraceTimer {
            room,
            absence,
            after,
        } in self.rooms.take_grace_timers()
        {
            let commands = self.commands.clone();
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                // No sender left means the shard has shut down; nothing to expire.
                if let Some(commands) = commands.upgrade() {
                    let _ = commands.send(Command::GraceExpired { room, absence }).await;
                }
            });
        }
    }

    fn update_room_gauge(&mut self) {
        let rooms = self.rooms.room_count();
        if rooms != self.counted_rooms {
            let delta = rooms as i64 - self.counted_rooms as i64;
            self.metrics.rooms.add(delta);
            self.counted_rooms = rooms;
        }
    }
}
