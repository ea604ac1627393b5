//! Memory per idle connected socket: the server's RSS growth while `count` sockets are open
//! (each greeted, none in a room), divided by `count`. The sockets keep reading, so they answer
//! the heartbeat like a browser would.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{Notify, Semaphore};

use crate::client::{connect, source_address};
use crate::server::{ServerProcess, Target};

/// Connections per loopback source address: below the ~28 000 ephemeral ports of each.
const SOCKETS_PER_SOURCE: usize = 20_000;

/// How many sockets are being opened at once.
const CONNECT_CONCURRENCY: usize = 200;

/// The figure of one idle run.
#[derive(Debug, Clone)]
pub struct IdleFigures {
    /// RSS growth per socket, in KiB.
    pub kib_per_socket: f64,
}

/// Opens `count` idle sockets to a fresh `server` and measures its RSS growth.
pub async fn run(
    target: Target,
    server: &ServerProcess,
    count: usize,
) -> anyhow::Result<IdleFigures> {
    // One socket first, so one-time allocations (the first connection of a worker, lazily
    // built tables) are not charged to the measured ones.
    let warm = connect(target, server.port, source_address(0, 1)).await?;
    settle().await;
    let before = server.rss_bytes()?;
    let sources = count.div_ceil(SOCKETS_PER_SOURCE);
    let release = Arc::new(Notify::new());
    let permits = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let mut opened = Vec::with_capacity(count);
    for i in 0..count {
        let permit = permits.clone().acquire_owned().await?;
        let release = release.clone();
        let port = server.port;
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            match connect(target, port, source_address(i, sources)).await {
                Ok(mut ws) => {
                    drop(permit);
                    let _ = ready_tx.send(Ok(()));
                    // Reading answers pings; stop when the measurement is done.
                    let released = release.notified();
                    tokio::pin!(released);
                    loop {
                        tokio::select! {
                            message = ws.next() => if message.is_none() { break },
                            _ = &mut released => break,
                        }
                    }
                    let _ = ws.close(None).await;
                }
                Err(err) => {
                    let _ = ready_tx.send(Err(err));
                }
            }
        });
        opened.push(ready_rx);
    }
    for ready in opened {
        ready.await??;
    }
    settle().await;
    let after = server.rss_bytes()?;
    release.notify_waiters();
    drop(warm);
    Ok(IdleFigures {
        kib_per_socket: after.saturating_sub(before) as f64 / count as f64 / 1024.0,
    })
}

/// Lets the server finish whatever the last connections started.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(500)).await;
}
