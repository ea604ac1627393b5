//! The way a hub shard reaches one connection: its bounded outbound queue (`outbound.rs`), and
//! a signal that the hub has let go of it.

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
}
