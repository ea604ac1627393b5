//! Cross-node relay (`--cluster`): the two people of each room on two different visavis nodes
//! sharing rooms through a Redis of the benchmark's own, beside one single-node visavis, in the
//! same run and alternating rounds. Server CPU is the sum over both nodes and Redis.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::client::{connect, join, source_address, wait_for};
use crate::relay::{self, Phase, RelayFigures};
use crate::server::{free_port, process_cpu_time, Binaries, ServerProcess, Target};
use crate::stats::median;

/// A `redis-server` of the benchmark's own, persistence off; killed when dropped.
struct RedisProcess {
    child: Child,
    port: u16,
}

impl RedisProcess {
    fn start() -> anyhow::Result<RedisProcess> {
        let port = free_port()?;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting redis-server (apt-get install redis-server)")?;
        let redis = RedisProcess { child, port };
        wait_until(
            || http_like(port, b"PING\r\n", b"+PONG"),
            "redis answers PING",
        )?;
        Ok(redis)
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two nodes and their Redis.
struct TwoNodes {
    redis: RedisProcess,
    nodes: [ServerProcess; 2],
}

impl TwoNodes {
    fn start(binaries: &Binaries, shards: Option<usize>) -> anyhow::Result<TwoNodes> {
        let redis = RedisProcess::start()?;
        let url = format!("redis://127.0.0.1:{}/", redis.port);
        let node = |id: &str| {
            ServerProcess::start_with(
                Target::Visavis,
                binaries,
                shards,
                &["--redis-url", &url, "--node-id", id],
            )
        };
        let nodes = [node("bench-a")?, node("bench-b")?];
        for node in &nodes {
            let port = node.port;
            wait_until(
                || http_like(port, b"GET /readyz HTTP/1.0\r\n\r\n", b"HTTP/1.0 200"),
                "a node is ready (redis connected)",
            )?;
        }
        Ok(TwoNodes { redis, nodes })
    }

    fn cpu_time(&self) -> anyhow::Result<Duration> {
        Ok(self.nodes[0].cpu_time()?
            + self.nodes[1].cpu_time()?
            + process_cpu_time(self.redis.child.id())?)
    }
}

/// Sends `request` to a loopback port and checks the answer starts with `expect`.
fn http_like(port: u16, request: &[u8], expect: &[u8]) -> bool {
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut reply = vec![0u8; expect.len()];
    stream.write_all(request).is_ok() && stream.read_exact(&mut reply).is_ok() && reply == expect
}

fn wait_until(ready: impl Fn() -> bool, what: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if ready() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("timed out waiting until {what}")
}

/// One cross-node run: the first of each room on node a, the second on node b.
async fn run_across(
    cluster: &TwoNodes,
    rooms: usize,
    phase: Phase,
    tag: &str,
) -> anyhow::Result<RelayFigures> {
    let mut pairs = Vec::with_capacity(rooms);
    for i in 0..rooms {
        let room = format!("cross-{tag}-{i}");
        let source = source_address(i, 1);
        let mut first = connect(Target::Visavis, cluster.nodes[0].port, source).await?;
        let mut second = connect(Target::Visavis, cluster.nodes[1].port, source).await?;
        let answer = join(&mut first, &room).await?;
        if answer != "created" {
            bail!("the first join of {room} got {answer}");
        }
        let answer = join(&mut second, &room).await?;
        if answer != "joined" {
            bail!("the second join of {room} got {answer}");
        }
        wait_for(&mut first, "new_peer").await?;
        pairs.push((first, second));
    }
    relay::measure(pairs, phase, || cluster.cpu_time()).await
}

/// One printed row: the figure's name, its unit, and how to read it from a run.
type Row = (&'static str, &'static str, fn(&RelayFigures) -> f64);

/// Runs the comparison for each room count and prints its table.
pub async fn compare(
    binaries: &Binaries,
    shards: Option<usize>,
    room_counts: &[usize],
    phase: Phase,
    rounds: usize,
) -> anyhow::Result<()> {
    println!("| figure | unit | cross-node (2 nodes + redis) | single node | ratio |");
    println!("|---|---|---:|---:|---:|");
    for &rooms in room_counts {
        let (mut across, mut single) = (Vec::new(), Vec::new());
        for round in 0..rounds.max(1) {
            let tag = format!("{round}");
            // Alternate which goes first, so neither always meets a warmer machine.
            for cross_first in [round % 2 == 0, round % 2 == 1] {
                if cross_first {
                    let cluster = TwoNodes::start(binaries, shards)?;
                    across.push(run_across(&cluster, rooms, phase, &tag).await?);
                } else {
                    let server = ServerProcess::start(Target::Visavis, binaries, shards)?;
                    single.push(relay::run(Target::Visavis, &server, rooms, phase, &tag).await?);
                }
            }
        }
        let rows: [Row; 5] = [
            ("messages/s", "msg/s", |r| r.per_second),
            ("latency p50", "us", |r| r.p50_us),
            ("latency p99", "us", |r| r.p99_us),
            ("latency p99.9", "us", |r| r.p999_us),
            ("server CPU per message", "us", |r| r.cpu_us_per_message),
        ];
        for (name, unit, pick) in rows {
            let a = median(&across.iter().map(pick).collect::<Vec<_>>());
            let s = median(&single.iter().map(pick).collect::<Vec<_>>());
            println!(
                "| cluster relay {rooms} rooms: {name} | {unit} | {a:.1} | {s:.1} | {:.2}x |",
                a / s
            );
        }
    }
    Ok(())
}
