//! Relay throughput and latency: N busy rooms, each a closed-loop ping-pong of `ice_candidate`
//! messages. Each message carries its send time; the receiver records the one-way latency and
//! answers at once with a fresh message, so each room always has exactly one message in flight.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use tokio::time::Instant as TokioInstant;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{seated_pair, source_address, Socket};
use crate::server::{own_cpu_time, ServerProcess, Target};
use crate::stats::percentile;

/// How long the relay phase runs: `warmup` unmeasured, then `measure`.
#[derive(Debug, Clone, Copy)]
pub struct Phase {
    pub warmup: Duration,
    pub measure: Duration,
}

/// The figures of one relay run.
#[derive(Debug, Clone)]
pub struct RelayFigures {
    /// Messages relayed per second in the measured window.
    pub per_second: f64,
    /// One-way relay latency percentiles, in microseconds.
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    /// Server CPU time per relayed message, in microseconds.
    pub cpu_us_per_message: f64,
    /// The load generator's own CPU time per message, to show it was not the bottleneck.
    pub bench_cpu_us_per_message: f64,
}

/// The moment all timestamps in messages count from.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// A realistic trickled candidate (about 250 bytes as JSON) that carries its send time.
fn candidate_frame(sent_ns: u64) -> String {
    format!(
        concat!(
            r#"{{"type":"ice_candidate","candidate":{{"candidate":"candidate:842163049 1 udp "#,
            r#"1677729535 192.0.2.1 54321 typ srflx raddr 0.0.0.0 rport 0 generation 0 "#,
            r#"ufrag abcd network-cost 999 ts={}","sdpMid":"0","sdpMLineIndex":0,"#,
            r#""usernameFragment":"abcd"}}}}"#
        ),
        sent_ns
    )
}

/// The send time a relayed frame carries, if it is one of ours.
fn sent_ns_of(text: &str) -> Option<u64> {
    let start = text.find("ts=")? + 3;
    let digits = text[start..].bytes().take_while(u8::is_ascii_digit).count();
    text[start..start + digits].parse().ok()
}

/// Runs `rooms` busy rooms against `server` and measures them.
pub async fn run(
    target: Target,
    server: &ServerProcess,
    rooms: usize,
    phase: Phase,
    tag: &str,
) -> anyhow::Result<RelayFigures> {
    let mut pairs = Vec::with_capacity(rooms);
    for i in 0..rooms {
        let room = format!("relay-{tag}-{i}");
        pairs.push(seated_pair(target, server.port, &room, source_address(i, 1)).await?);
    }
    measure(pairs, phase, || server.cpu_time()).await
}

/// Bounces messages in every pair (two seated sockets of one room) and measures them;
/// `server_cpu` is the CPU time of whatever serves them (one process, or several summed).
pub async fn measure(
    pairs: Vec<(Socket, Socket)>,
    phase: Phase,
    server_cpu: impl Fn() -> anyhow::Result<Duration>,
) -> anyhow::Result<RelayFigures> {
    let start = TokioInstant::now() + phase.warmup;
    let end = start + phase.measure;
    let mut tasks = Vec::with_capacity(pairs.len() * 2);
    for (first, second) in pairs {
        tasks.push(tokio::spawn(bounce(first, true, start, end)));
        tasks.push(tokio::spawn(bounce(second, false, start, end)));
    }
    tokio::time::sleep_until(start).await;
    let (cpu_start, bench_start) = (server_cpu()?, own_cpu_time());
    tokio::time::sleep_until(end).await;
    let (cpu_end, bench_end) = (server_cpu()?, own_cpu_time());
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    latencies.sort_unstable();
    let count = latencies.len().max(1) as f64;
    let micros = |ns: u64| ns as f64 / 1000.0;
    Ok(RelayFigures {
        per_second: latencies.len() as f64 / phase.measure.as_secs_f64(),
        p50_us: micros(percentile(&latencies, 0.50)),
        p99_us: micros(percentile(&latencies, 0.99)),
        p999_us: micros(percentile(&latencies, 0.999)),
        cpu_us_per_message: (cpu_end - cpu_start).as_secs_f64() * 1e6 / count,
        bench_cpu_us_per_message: (bench_end - bench_start).as_secs_f64() * 1e6 / count,
    })
}

/// One side of a room: answers every relayed candidate with a new one until `end`, and
/// returns the latencies of the messages it received inside the window.
async fn bounce(
    mut ws: Socket,
    starts: bool,
    start: TokioInstant,
    end: TokioInstant,
) -> anyhow::Result<Vec<u64>> {
    let mut latencies = Vec::new();
    if starts {
        ws.send(Message::text(candidate_frame(now_ns()))).await?;
    }
    loop {
        let message = tokio::select! {
            message = ws.next() => message,
            _ = tokio::time::sleep_until(end) => break,
        };
        let Some(message) = message else { break };
        let message = match message {
            Ok(message) => message,
            // The partner's side stops at the end too and closes; a race there is no failure.
            Err(_) if ending(end) => break,
            Err(err) => return Err(err).context("a relay socket failed mid-run"),
        };
        let Message::Text(text) = message else {
            continue;
        };
        let Some(sent) = sent_ns_of(text.as_str()) else {
            continue;
        };
        let received = now_ns();
        let now = TokioInstant::now();
        if now >= end {
            break;
        }
        if now >= start {
            latencies.push(received.saturating_sub(sent));
        }
        match ws.send(Message::text(candidate_frame(now_ns()))).await {
            Ok(()) => {}
            Err(_) if ending(end) => break,
            Err(err) => return Err(err).context("a relay socket failed mid-run"),
        }
    }
    let _ = ws.close(None).await;
    Ok(latencies)
}

/// Whether the run is over or about to be: the partner may already have closed.
fn ending(end: TokioInstant) -> bool {
    TokioInstant::now() + Duration::from_millis(200) >= end
}

fn now_ns() -> u64 {
    u64::try_from(epoch().elapsed().as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_carries_its_send_time() {
        let frame = candidate_frame(1_234_567);
        assert_eq!(sent_ns_of(&frame), Some(1_234_567));
        let value: serde_json::Value = serde_json::from_str(&frame).expect("valid JSON");
        assert_eq!(value["type"], "ice_candidate");
    }
}
