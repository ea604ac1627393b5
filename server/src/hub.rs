//! The hub: the one task that owns all room state.
//!
//! Socket tasks talk to it through a cloneable [`HubHandle`] (an mpsc of commands). The hub never
//! awaits a socket: it hands each outgoing message to that connection's own bounded queue with
//! `try_send`, so a slow reader can never stall anyone else. A connection whose queue is full is
//! dropped (its partner gets `bye`), which is the only sane answer to a peer that stopped reading.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;
use visavis_shared::{ClientMessage, ServerMessage};

use crate::metrics::Metrics;
use crate::rooms::{ConnId, Input, Outgoing, Rooms};

/// How many messages may wait for one socket before it counts as a slow consumer. Signaling is
/// bursty (a few dozen candidates at call setup) but small, so this is generous.
pub const OUTBOUND_QUEUE_CAPACITY: usize = 256;

/// How many commands may wait for the hub before socket tasks feel backpressure.
const COMMAND_QUEUE_CAPACITY: usize = 4096;

/// What a socket task can ask of the hub.
enum Command {
    Connect {
        conn: ConnId,
        outbound: mpsc::Sender<ServerMessage>,
    },
    Input {
        conn: ConnId,
        input: Input,
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
        tokio::spawn(run_hub(receiver, rooms, metrics));
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

    /// Tells the hub that a socket is gone. Counts as `bye`.
    pub async fn disconnect(&self, conn: ConnId) {
        self.send_input(conn, Input::Disconnected).await;
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
}

async fn run_hub(mut commands: mpsc::Receiver<Command>, rooms: Rooms, metrics: Arc<Metrics>) {
    let mut hub = Hub {
        rooms,
        outbound: HashMap::new(),
        metrics,
    };
    while let Some(command) = commands.recv().await {
        match command {
            Command::Connect { conn, outbound } => {
                hub.outbound.insert(conn, outbound);
            }
            Command::Input { conn, input } => {
                let disconnected = input == Input::Disconnected;
                let is_join = matches!(input, Input::Message(ClientMessage::Join { .. }));
                if let Input::Message(message) = &input {
                    tracing::debug!(%conn, kind = message.kind(), "message");
                }
                let out = hub.rooms.handle(conn, input);
                hub.count(conn, is_join, &out);
                hub.deliver(out);
                if disconnected {
                    hub.outbound.remove(&conn);
                }
                hub.metrics.rooms.set(hub.rooms.room_count() as i64);
            }
        }
    }
}

impl Hub {
    /// Updates the join and relay counters from what the room logic decided.
    fn count(&self, sender: ConnId, is_join: bool, out: &[Outgoing]) {
        for (to, message) in out {
            let kind = message.kind();
            if is_join && *to == sender {
                let result = match message {
                    ServerMessage::Created { room } | ServerMessage::Joined { room } => {
                        tracing::info!(conn = %sender, %room, result = kind, "join");
                        kind
                    }
                    ServerMessage::Full { room } => {
                        tracing::info!(conn = %sender, %room, result = kind, "join");
                        kind
                    }
                    _ => "rejected",
                };
                self.metrics.joins.with_label_values(&[result]).inc();
            }
            if *to != sender && matches!(kind, "invite" | "ok" | "ice_candidate") {
                self.metrics.relayed.with_label_values(&[kind]).inc();
            }
        }
    }

    /// Delivers messages without waiting. A full queue drops that connection, which in turn
    /// may produce `bye` messages to deliver; the loop handles that cascade.
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
                    pending.extend(self.rooms.handle(conn, Input::Disconnected));
                }
                // The socket task already ended; its disconnect is on its way.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
    }
}
