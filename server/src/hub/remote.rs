//! Cluster mode in the hub: a connection whose room another node owns sends its inputs there
//! (`cluster/`), and the cluster reaches this node's shards through the calls below.
//!
//! A connection without a seat claims the room a `join` or `rejoin` names: if the claim makes
//! this node the owner, the input goes to the local shard as on a single node; if another
//! node owns it, the input is forwarded there and the connection follows its seat to that
//! node until the owner says it has none. Redis being unusable refuses new joins with
//! `server_busy`; seats already held here are unaffected.

use std::sync::Arc;

use bytestring::ByteString;
use tokio::sync::oneshot;
use visavis_shared::{ClientMessage, ErrorCode, RoomName, ServerMessage};

use super::shard::Command;
use super::{Connection, HubHandle, Link};
use crate::cluster::{ClusterHandle, NodeId, Unavailable};
use crate::relay_frame::RelayKind;
use crate::rooms::{ConnId, Input};

/// How many times a join follows a redirect (the owner it was sent to no longer owned the
/// room) before giving up with `server_busy`.
const CLAIM_ATTEMPTS: usize = 3;

impl Connection {
    /// Forwards a relay frame to the node holding this connection's seat, if that is another
    /// node. `false`: the seat (if any) is here.
    pub(super) fn forward_remote(&self, kind: RelayKind, frame: &ByteString) -> bool {
        match (&self.hub.cluster, &self.remote) {
            (Some(cluster), Some(node)) => {
                cluster.relay(node, self.id, kind, frame);
                true
            }
            _ => false,
        }
    }

    /// Cluster mode's part of sending an input. `true`: this node's shards take it from here.
    pub(super) async fn send_input_cluster(&mut self, input: &Input) -> bool {
        let Some(cluster) = self.hub.cluster.clone() else {
            return true;
        };
        if let Some(node) = self.remote.clone() {
            let changes_seat = matches!(
                input,
                Input::Message(
                    ClientMessage::Join { .. }
                        | ClientMessage::Rejoin { .. }
                        | ClientMessage::Bye { .. }
                )
            );
            if !changes_seat {
                cluster.send_input(&node, self.id, input.clone(), false);
                if matches!(input, Input::Lost | Input::Disconnected) {
                    cluster.forget(self.id);
                    self.remote = None;
                }
                return false;
            }
            match cluster
                .remote_input(&node, self.id, &self.link, input)
                .await
            {
                Some(answer) if answer.seated => {}
                Some(_) => self.remote = None,
                None => self.lose_remote_seat(&cluster, &node),
            }
            return false;
        }
        if self.seat.seat().is_some() {
            return true;
        }
        let Input::Message(ClientMessage::Join { room } | ClientMessage::Rejoin { room, .. }) =
            input
        else {
            return true;
        };
        for _ in 0..CLAIM_ATTEMPTS {
            let node = match cluster.claim(room).await {
                Err(Unavailable) => break,
                Ok(None) => return true,
                Ok(Some(node)) => node,
            };
            match cluster
                .remote_input(&node, self.id, &self.link, input)
                .await
            {
                Some(answer) if answer.seated => {
                    self.remote = Some(node);
                    return false;
                }
                Some(answer) if answer.redirect.is_some() => continue,
                Some(_) => return false,
                None => {
                    self.lose_remote_seat(&cluster, &node);
                    return false;
                }
            }
        }
        self.refuse_busy(room);
        false
    }

    /// No answer came from the owner: whether it seated us is unknown. The owner is told the
    /// connection is lost (a seat it may hold becomes away, and is freed after the grace
    /// period unless reclaimed), and the socket is closed as lost so that the client rejoins
    /// with its seat token, which settles it either way.
    fn lose_remote_seat(&mut self, cluster: &ClusterHandle, node: &NodeId) {
        cluster.send_input(node, self.id, Input::Lost, false);
        self.remote = None;
        self.link.drop_connection();
    }

    fn refuse_busy(&self, room: &RoomName) {
        tracing::info!(conn = %self.id, %room, "join refused: the cluster's Redis is unusable");
        let refusal = ServerMessage::error(
            ErrorCode::ServerBusy,
            "the server cannot take new calls right now; try again in a moment",
        );
        // A full queue means the socket is not reading; it is dropped elsewhere.
        let _ = self.link.try_send(refusal.to_json().into());
    }
}

impl HubHandle {
    /// A fresh connection id, for a connection held by another node.
    pub(crate) fn new_conn_id(&self) -> ConnId {
        ConnId(
            self.next_conn
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// Hands an input to `shard` and waits for whether `conn` holds a seat there afterwards.
    /// `None` if the shard is gone (shutdown).
    pub(crate) async fn input_at(
        &self,
        shard: usize,
        conn: ConnId,
        input: Input,
        link: Option<Arc<Link>>,
    ) -> Option<bool> {
        let (ack, answer) = oneshot::channel();
        let command = Command::Input {
            conn,
            input,
            link,
            ack: Some(ack),
        };
        self.shards.get(shard)?.send(command).await.ok()?;
        answer.await.ok()
    }

    /// Hands a relay frame of `conn` to `shard`.
    pub(crate) async fn forward_at(
        &self,
        shard: usize,
        conn: ConnId,
        kind: RelayKind,
        frame: ByteString,
    ) {
        if let Some(sender) = self.shards.get(shard) {
            let _ = sender
                .send(Command::Forward {
                    conn,
                    kind,
                    frame,
                    link: None,
                })
                .await;
        }
    }

    /// The names of every room on this node.
    pub(crate) async fn room_names(&self) -> Vec<RoomName> {
        let mut names = Vec::new();
        for shard in self.shards.iter() {
            let (reply, answer) = oneshot::channel();
            if shard.send(Command::RoomNames { reply }).await.is_ok() {
                names.extend(answer.await.unwrap_or_default());
            }
        }
        names
    }

    /// Forgets a room another node owns now, closing its sockets.
    pub(crate) async fn evict(&self, room: RoomName) {
        let shard = self.owners.owner(&room);
        if let Some(sender) = self.shards.get(shard) {
            let _ = sender.send(Command::Evict { room }).await;
        }
    }
}
