//! `visavis-bench`: drives the real `visavis` binary and a minimal relay on the same stack (the
//! baseline) over real WebSockets, in one run, and prints every figure beside the baseline's
//! with the ratio. See docs/performance.md.

mod client;
mod cluster;
mod idle;
mod joins;
mod limits;
mod relay;
mod report;
mod server;
mod stats;

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::report::{Figure, Report};
use crate::server::{locate_binaries, Binaries, ServerProcess, Target};
use crate::stats::median;

/// Command-line options.
#[derive(Debug, Parser)]
#[command(
    name = "visavis-bench",
    about = "Benchmarks the visavis server against a minimal relay"
)]
struct Args {
    /// The visavis binary. Default: the one next to this binary, built first when run through
    /// cargo.
    #[arg(long)]
    server: Option<PathBuf>,
    /// Busy-room counts for the relay benchmark.
    #[arg(long, value_delimiter = ',', default_values_t = [20, 100, 1000])]
    rooms: Vec<usize>,
    /// Measured seconds per relay run.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Unmeasured warm-up seconds before each relay run.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Runs per figure and server (alternating the servers); the table shows medians.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Idle socket counts for the memory benchmark.
    #[arg(long, value_delimiter = ',', default_values_t = [10_000, 50_000])]
    idle: Vec<usize>,
    /// Rooms seated in the join benchmark.
    #[arg(long, default_value_t = 2000)]
    joins: usize,
    /// Rooms being joined at once in the join benchmark.
    #[arg(long, default_value_t = 50)]
    join_concurrency: usize,
    /// Passed to visavis as --hub-shards, if given.
    #[arg(long)]
    shards: Option<usize>,
    /// A few seconds in all, with tiny counts: checks that every figure is produced (CI).
    #[arg(long)]
    quick: bool,
    /// Only the cluster comparison: relay with the two people of each room on two nodes
    /// sharing a Redis (redis-server must be installed), beside one single node, for each
    /// --rooms count.
    #[arg(long)]
    cluster: bool,
}

impl Args {
    fn apply_quick(&mut self) {
        if self.quick {
            self.rooms = vec![2, 5];
            self.seconds = 0.3;
            self.warmup = 0.1;
            self.rounds = 1;
            self.idle = vec![50, 100];
            self.joins = 100;
            self.join_concurrency = 4;
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    args.apply_quick();
    let fd_limit = limits::raise_open_files(args.idle.iter().copied().max().unwrap_or(0));
    let binaries = locate_binaries(args.server.clone())?;
    let mut report = Report::new(&binaries, &fd_limit);

    let phase = relay::Phase {
        warmup: Duration::from_secs_f64(args.warmup),
        measure: Duration::from_secs_f64(args.seconds),
    };
    if args.cluster {
        println!("command: {}", args_line());
        cluster::compare(&binaries, args.shards, &args.rooms, phase, args.rounds).await?;
        return Ok(());
    }
    for &rooms in &args.rooms {
        let runs = alternate(&args, &binaries, |target, server, round| async move {
            let tag = format!("{round}");
            relay::run(target, &server, rooms, phase, &tag).await
        })
        .await?;
        let pick = |target: Target, f: fn(&relay::RelayFigures) -> f64| {
            median(
                &runs
                    .iter()
                    .filter(|(t, _)| *t == target)
                    .map(|(_, r)| f(r))
                    .collect::<Vec<_>>(),
            )
        };
        let figure =
            |name: String, unit: &'static str, f: fn(&relay::RelayFigures) -> f64| Figure {
                name,
                unit,
                visavis: pick(Target::Visavis, f),
                baseline: pick(Target::Baseline, f),
            };
        report.push(figure(
            format!("relay {rooms} rooms: messages/s"),
            "msg/s",
            |r| r.per_second,
        ));
        report.push(figure(
            format!("relay {rooms} rooms: latency p50"),
            "us",
            |r| r.p50_us,
        ));
        report.push(figure(
            format!("relay {rooms} rooms: latency p99"),
            "us",
            |r| r.p99_us,
        ));
        report.push(figure(
            format!("relay {rooms} rooms: latency p99.9"),
            "us",
            |r| r.p999_us,
        ));
        report.push(figure(
            format!("relay {rooms} rooms: server CPU per message"),
            "us",
            |r| r.cpu_us_per_message,
        ));
        report.push(figure(
            format!("relay {rooms} rooms: bench CPU per message"),
            "us",
            |r| r.bench_cpu_us_per_message,
        ));
    }

    for &wanted in &args.idle {
        let count = fd_limit.sockets_possible(wanted);
        let mut values = Vec::new();
        for target in Target::ALL {
            let server = ServerProcess::start(target, &binaries, args.shards)?;
            values.push(idle::run(target, &server, count).await?.kib_per_socket);
        }
        let name = if count == wanted {
            format!("memory per idle socket, {count} open")
        } else {
            format!("memory per idle socket, {count} open ({wanted} refused by the fd limit)")
        };
        report.push(Figure {
            name,
            unit: "KiB",
            visavis: values[0],
            baseline: values[1],
        });
    }

    let runs = alternate(&args, &binaries, |target, server, round| {
        let (rooms, concurrency) = (args.joins, args.join_concurrency);
        async move {
            let tag = format!("{round}");
            joins::run(target, &server, rooms, concurrency, &tag).await
        }
    })
    .await?;
    let pick = |target: Target, f: fn(&joins::JoinFigures) -> f64| {
        median(
            &runs
                .iter()
                .filter(|(t, _)| *t == target)
                .map(|(_, r)| f(r))
                .collect::<Vec<_>>(),
        )
    };
    report.push(Figure {
        name: "joins: rooms created and joined per second".into(),
        unit: "rooms/s",
        visavis: pick(Target::Visavis, |r| r.rooms_per_second),
        baseline: pick(Target::Baseline, |r| r.rooms_per_second),
    });
    report.push(Figure {
        name: "joins: server CPU per room".into(),
        unit: "us",
        visavis: pick(Target::Visavis, |r| r.cpu_us_per_room),
        baseline: pick(Target::Baseline, |r| r.cpu_us_per_room),
    });

    report.print(&args_line());
    Ok(())
}

/// Runs `run` `rounds` times for each server, each time on a fresh server process, swapping
/// which server goes first every round so that neither always meets a warmer or busier machine.
async fn alternate<F, Fut, T>(
    args: &Args,
    binaries: &Binaries,
    run: F,
) -> anyhow::Result<Vec<(Target, T)>>
where
    F: Fn(Target, ServerProcess, usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut results = Vec::new();
    for round in 0..args.rounds.max(1) {
        let mut order = Target::ALL;
        if round % 2 == 1 {
            order.reverse();
        }
        for target in order {
            let server = ServerProcess::start(target, binaries, args.shards)?;
            results.push((target, run(target, server, round).await?));
        }
    }
    Ok(results)
}

fn args_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!("visavis-bench {}", args.join(" "))
}
