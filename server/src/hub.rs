//! The hub: the one task that owns all room state.
//!
//! Socket tasks talk to it through a cloneable [`HubHandle`] (an mpsc of commands). The hub never
//! awaits a socket: it hands each outgoing message to that connection's own bounded queue with
//! `try_send`, so a slow reader can never stall anyone else. A connection whose queue is full is
//! dropped as a lost connection (its seat is held for the grace period, its partner told), which
//! is the only sane answer to a peer that stopped reading.
//!
//! The hub also keeps time for the pure room logic: it runs the grace timers `Rooms` asks for
//! and feeds their expiry back in, and closes the sockets `Rooms` says were replaced.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;
use visavis_shared::{ClientMessage, RoomName, ServerMessage};

use crate::metrics::Metrics;
use crate::rooms::{AbsenceId, ConnId, GraceTimer, Input, Outgoing, Rooms};

/// How many messages may wait for one socket before it counts as a slow consumer. Signaling is
/// bursty (a few dozen candidates at call setup) but small, so this is generous.
pub const OUTBOUND_QUEUE_CAPACITY: usize = 256;

/// How many commands may wait for the hub before socket tasks feel backpressure.
const COMMAND_QUEUE_CAPACITY: usize = 4096;

/// What a socket task (or a grace timer) can ask of the hub.
enum Command {
    Connect {
        conn: ConnId,
        outbound: mpsc::Sender<ServerMessage>,
    },
    Input {
        conn: ConnId,
        input: Input,
    },
    GraceExpired {
        room: RoomName,
        absence: AbsenceId,
    },
}

/// A cloneable way to talk to the hub task.
#[derive(Clone)]
pub struct HubHandle {
    commands: mpsc::Sender<Command>,
    next_conn: Arc<AtomicU64>,
}

/// One registered connection, as seen by its socket task.
pub struct Connection {
    /// The connection's id, for logs.
    pub id: ConnId,
    /// Messages the hub wants delivered to this socket. When it yields `None`, the hub has
    /// dropped the connection and the socket should close.
    pub outbound: mpsc::Receiver<ServerMessage>,
}

impl HubHandle {
    /// Starts the hub task on the current Tokio runtime.
    pub fn spawn(rooms: Rooms, metrics: Arc<Metrics>) -> HubHandle {
        let (commands, receiver) = mpsc::channel(COMMAND_QUEUE_CAPACITY);
        // Weak, so that the hub's own timers do not keep it alive once every handle is gone.
        tokio::spawn(run_hub(receiver, commands.downgrade(), rooms, metrics));
        HubHandle {
            commands,
            next_conn: Arc::new(AtomicU64::new(1)),
        }
    }

    /// Registers a new connection and returns its id and outbound queue.
    pub async fn connect(&self) -> Option<Connection> {
        let id = ConnId(self.next_conn.fetch_add(1, Ordering::Relaxed));
        let (outbound, receiver) = mpsc::channel(OUTBOUND_QUEUE_CAPACITY);
        self.commands
            .send(Command::Connect { conn: id, outbound })
            .await
            .ok()?;
        Some(Connection {
            id,
            outbound: receiver,
        })
    }

    /// Hands a decoded client message to the hub.
    pub async fn message(&self, conn: ConnId, message: ClientMessage) {
        self.send_input(conn, Input::Message(message)).await;
    }

    /// Tells the hub that a socket ended cleanly. Counts as `bye`.
    pub async fn disconnect(&self, conn: ConnId) {
        self.send_input(conn, Input::Disconnected).await;
    }

    /// Tells the hub that a socket ended uncleanly: its seat is held for the grace period.
    pub async fn lost(&self, conn: ConnId) {
        self.send_input(conn, Input::Lost).await;
    }

    /// Whether the hub task is still running.
    pub fn is_alive(&self) -> bool {
        !self.commands.is_closed()
    }

    async fn send_input(&self, conn: ConnId, input: Input) {
        // An error means the hub is gone, which only happens at shutdown; nothing left to tell.
        let _ = self.commands.send(Command::Input { conn, input }).await;
    }
}

/// The hub's state: the pure room logic plus where to deliver each connection's messages.
struct Hub {
    rooms: Rooms,
    outbound: HashMap<ConnId, mpsc::Sender<ServerMessage>>,
    metrics: Arc<Metrics>,
    /// For grace timers to report back.
    commands: mpsc::WeakSender<Command>,
}

async fn run_hub(
    mut commands: mpsc::Receiver<Command>,
    weak: mpsc::WeakSender<Command>,
    rooms: Rooms,
    metrics: Arc<Metrics>,
) {
    let mut hub = Hub {
        rooms,
        outbound: HashMap::new(),
        metrics,
        commands: weak,
    };
    while let Some(command) = commands.recv().await {
        match command {
            Command::Connect { conn, outbound } => {
                hub.outbound.insert(conn, outbound);
            }
            Command::Input { conn, input } => {
                let gone = matches!(input, Input::Disconnected | Input::Lost);
                if input == Input::Lost {
                    if let Some(room) = hub.rooms.room_of(conn) {
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
                let out = hub.rooms.handle(conn, input);
                hub.count(conn, kind, &out);
                hub.deliver(out);
                if gone {
                    hub.outbound.remove(&conn);
                }
            }
            Command::GraceExpired { room, absence } => {
                if let Some(out) = hub.rooms.grace_expired(&room, absence) {
                    tracing::info!(%room, "seat freed: grace period over");
                    hub.metrics.seat_grace_expired.inc();
                    hub.deliver(out);
                }
            }
        }
        hub.carry_out_side_effects();
        hub.metrics.rooms.set(hub.rooms.room_count() as i64);
    }
}

impl Hub {
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
            if *to != sender && matches!(result, "invite" | "ok" | "ice_candidate") {
                self.metrics.relayed.with_label_values(&[result]).inc();
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
            let Some(queue) = self.outbound.get(&conn) else {
                continue;
            };
            match queue.try_send(message) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::info!(%conn, reason = "slow_consumer", "dropping connection");
                    self.metrics
                        .disconnects
                        .with_label_values(&["slow_consumer"])
                        .inc();
                    // Removing the sender closes the socket task's queue, which closes the socket.
                    self.outbound.remove(&conn);
                    pending.extend(self.rooms.handle(conn, Input::Lost));
                }
                // The socket task already ended; its disconnect is on its way.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
    }

    /// Starts the grace timers the room logic asked for and closes the connections it
    /// replaced.
    fn carry_out_side_effects(&mut self) {
        for conn in self.rooms.take_connections_to_close() {
            tracing::info!(%conn, "seat taken over by a rejoin; closing the old socket");
            // As for a slow consumer: the socket task sees its queue end and closes.
            self.outbound.remove(&conn);
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
                // No sender left means the hub has shut down; nothing to expire.
                if let Some(commands) = commands.upgrade() {
                    let _ = commands.send(Command::GraceExpired { room, absence }).await;
                }
            });
        }
    }
}
