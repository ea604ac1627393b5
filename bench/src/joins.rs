//! Join throughput: rooms created and joined per second. The sockets are open beforehand; the
//! timed part is, per room, `join` answered `created`, a second `join` answered `joined`, and
//! the first socket's `new_peer`, with a fixed number of rooms in progress at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Mutex;

use crate::client::{connect, join, source_address, wait_for, Socket};
use crate::server::{ServerProcess, Target};

/// The figures of one join run.
#[derive(Debug, Clone)]
pub struct JoinFigures {
    /// Rooms created and joined (both seats taken, the first told) per second.
    pub rooms_per_second: f64,
    /// Server CPU time per room, in microseconds.
    pub cpu_us_per_room: f64,
}

/// Opens `2 * rooms` sockets, then seats a pair in each of `rooms` rooms, `concurrency` rooms
/// at a time.
pub async fn run(
    target: Target,
    server: &ServerProcess,
    rooms: usize,
    concurrency: usize,
    tag: &str,
) -> anyhow::Result<JoinFigures> {
    let mut pairs = Vec::with_capacity(rooms);
    for i in 0..rooms {
        let source = source_address(i, 1);
        let first = connect(target, server.port, source).await?;
        let second = connect(target, server.port, source).await?;
        pairs.push(Mutex::new((first, second)));
    }
    let pairs = Arc::new(pairs);
    let next = Arc::new(AtomicUsize::new(0));
    let cpu_start = server.cpu_time()?;
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (pairs, next, tag) = (pairs.clone(), next.clone(), tag.to_owned());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(pair) = pairs.get(i) else {
                    return anyhow::Ok(());
                };
                let mut pair = pair.lock().await;
                let (first, second) = &mut *pair;
                seat(first, second, &format!("join-{tag}-{i}")).await?;
            }
        }));
    }
    for worker in workers {
        worker.await??;
    }
    let elapsed = started.elapsed();
    let cpu = server.cpu_time()? - cpu_start;
    Ok(JoinFigures {
        rooms_per_second: rooms as f64 / elapsed.as_secs_f64(),
        cpu_us_per_room: cpu.as_secs_f64() * 1e6 / rooms as f64,
    })
}

async fn seat(first: &mut Socket, second: &mut Socket, room: &str) -> anyhow::Result<()> {
    let answer = join(first, room).await?;
    anyhow::ensure!(answer == "created", "first join of {room}: {answer}");
    let answer = join(second, room).await?;
    anyhow::ensure!(answer == "joined", "second join of {room}: {answer}");
    wait_for(first, "new_peer").await
}
