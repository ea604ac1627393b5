//! The way a hub shard reaches one connection: its bounded outbound queue (`outbound.rs`), a
//! signal that the hub has let go of it, and the connection's shortcut to its partner.
//!
//! The shortcut lets a socket task queue a relayed frame straight into its partner's queue,
//! without a hop through the shard: the one thread crossing per message that the shard would
//! add is most of the relay's cost. It never changes what is delivered or in what order:
//!
//! - only the shard that owns the room sets it, to exactly the connection the room rules would
//!   relay to ([`Rooms::relay_target`](crate::rooms::Rooms::relay_target)), and it clears it
//!   whenever that may change, in the same step that tells the connections about the change;
//! - it is used only while the shard has processed every command the connection sent it
//!   (`processed` equals the connection's own count), so a frame taken this way can never
//!   overtake one of the same connection's that is still waiting in the shard's queue;
//! - a full partner queue is not handled here: the frame goes through the shard, which drops
//!   the slow consumer as it always did.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use bytestring::ByteString;
use tokio::sync::{mpsc, Notify};

use crate::outbound::{Frame, Outbound};
use crate::rooms::ConnId;

/// One connection as the shards see it. Shared (`Arc`) between the socket task and the shard
/// holding its seat.
#[derive(Debug)]
pub struct Link {
    /// The connection's id.
    pub conn: ConnId,
    outbound: Outbound,
    dropped: Notify,
    /// The partner's link while the owning shard says relays go straight there. Weak, so two
    /// partners never keep each other alive.
    shortcut: Mutex<Option<Weak<Link>>>,
    /// How many of this connection's commands the shards have carried out.
    processed: AtomicU64,
}

/// Why a frame could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueError {
    /// The socket is not reading fast enough.
    Full,
    /// The socket's connection is gone.
    Closed,
}

impl Link {
    /// A link that queues into `outbound`.
    pub fn new(conn: ConnId, outbound: Outbound) -> Link {
        Link {
            conn,
            outbound,
            dropped: Notify::new(),
            shortcut: Mutex::new(None),
            processed: AtomicU64::new(0),
        }
    }

    /// Shard side: relays from this connection may go straight to `partner` (or, with `None`,
    /// must go through the shard).
    pub fn set_shortcut(&self, partner: Option<&Arc<Link>>) {
        let partner = partner.map(Arc::downgrade);
        // A poisoned lock only means a panic elsewhere mid-assignment; the value is still a
        // plain Option, so overwrite it.
        *self
            .shortcut
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = partner;
    }

    /// Shard side: one more of this connection's commands has been carried out, with its
    /// shortcut already updated for it.
    pub fn mark_processed(&self) {
        self.processed.fetch_add(1, Ordering::Release);
    }

    /// Socket side: queues a relayed `frame` straight into the partner's queue, if the shard
    /// has carried out all `sent` commands of this connection and left a shortcut. Gives the
    /// frame back when it must go through the shard instead (no shortcut, commands still in
    /// flight, or the partner's queue full). A partner whose socket already ended takes the
    /// frame as the shard would: it is dropped, and its disconnect is on its way.
    pub fn try_shortcut(&self, sent: u64, frame: ByteString) -> Result<(), ByteString> {
        if self.processed.load(Ordering::Acquire) != sent {
            return Err(frame);
        }
        let partner = match self.shortcut.lock() {
            Ok(shortcut) => shortcut.as_ref().and_then(Weak::upgrade),
            Err(_) => None,
        };
        let Some(partner) = partner else {
            return Err(frame);
        };
        let reserved = partner.outbound.try_reserve();
        match reserved {
            Ok(permit) => {
                permit.send(Frame::Text(frame));
                Ok(())
            }
            Err(mpsc::error::TrySendError::Closed(())) => Ok(()),
            Err(mpsc::error::TrySendError::Full(())) => Err(frame),
        }
    }

    /// Queues one text frame without waiting.
    pub fn try_send(&self, text: ByteString) -> Result<(), QueueError> {
        self.outbound
            .try_send(Frame::Text(text))
            .map_err(|err| match err {
                mpsc::error::TrySendError::Full(_) => QueueError::Full,
                mpsc::error::TrySendError::Closed(_) => QueueError::Closed,
            })
    }

    /// Queues one frame, waiting for room (the socket task's own writes, which it bounds with
    /// a timeout). An error means the connection is gone.
    pub async fn send(&self, frame: Frame) -> Result<(), QueueError> {
        self.outbound
            .send(frame)
            .await
            .map_err(|_| QueueError::Closed)
    }

    /// Tells the socket task that the hub let go of it (slow consumer, or replaced by a
    /// rejoin): it closes the socket.
    pub fn drop_connection(&self) {
        // A stored permit: the socket task sees it even if it is not waiting right now.
        self.dropped.notify_one();
    }

    /// Resolves once the hub has let go of the connection.
    pub async fn dropped(&self) {
        self.dropped.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::{channel, OUTBOUND_QUEUE_CAPACITY};

    #[tokio::test]
    async fn a_full_queue_is_reported_and_a_drop_is_never_missed() {
        let (outbound, body) = channel();
        let link = Link::new(ConnId(1), outbound);
        for _ in 0..OUTBOUND_QUEUE_CAPACITY {
            assert_eq!(link.try_send("x".into()), Ok(()));
        }
        assert_eq!(link.try_send("x".into()), Err(QueueError::Full));
        // Signalled before anyone waits: still seen.
        link.drop_connection();
        tokio::time::timeout(std::time::Duration::from_secs(1), link.dropped())
            .await
            .expect("the drop is seen");
        drop(body);
        assert_eq!(link.try_send("x".into()), Err(QueueError::Closed));
        assert_eq!(link.send(Frame::Ping).await, Err(QueueError::Closed));
    }

    fn text(frame: Option<Frame>) -> String {
        match frame {
            Some(Frame::Text(text)) => text.to_string(),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    #[test]
    fn a_shortcut_is_taken_only_when_every_command_sent_has_been_carried_out() {
        let (to_a, _body_a) = mpsc::channel(4);
        let (to_b, mut b_frames) = mpsc::channel(4);
        let a = Link::new(ConnId(1), to_a);
        let b = Arc::new(Link::new(ConnId(2), to_b));

        // No shortcut yet: through the shard.
        assert_eq!(a.try_shortcut(0, "first".into()), Err("first".into()));

        a.set_shortcut(Some(&b));
        a.mark_processed();
        // One command sent, not yet carried out: the frame must not overtake it.
        assert_eq!(a.try_shortcut(2, "second".into()), Err("second".into()));
        // Everything carried out: straight into the partner's queue.
        assert_eq!(a.try_shortcut(1, "third".into()), Ok(()));
        assert_eq!(text(b_frames.try_recv().ok()), "third");

        a.set_shortcut(None);
        assert_eq!(a.try_shortcut(1, "fourth".into()), Err("fourth".into()));
        assert!(
            b_frames.try_recv().is_err(),
            "nothing else reached the partner"
        );
    }

    #[test]
    fn a_full_partner_sends_the_frame_back_and_a_gone_partner_is_no_shortcut() {
        let (to_a, _body_a) = mpsc::channel(4);
        let (to_b, b_frames) = mpsc::channel(1);
        let a = Link::new(ConnId(1), to_a);
        let b = Arc::new(Link::new(ConnId(2), to_b));
        a.set_shortcut(Some(&b));

        assert_eq!(a.try_shortcut(0, "fits".into()), Ok(()));
        // The shard decides what a full queue means (it drops the slow consumer).
        assert_eq!(a.try_shortcut(0, "full".into()), Err("full".into()));

        // The partner's socket ended but its link lives: dropped, as the shard would.
        drop(b_frames);
        assert_eq!(a.try_shortcut(0, "late".into()), Ok(()));

        // The shortcut holds the partner weakly: once its link is gone, there is none.
        drop(b);
        assert_eq!(a.try_shortcut(0, "gone".into()), Err("gone".into()));
    }
}
