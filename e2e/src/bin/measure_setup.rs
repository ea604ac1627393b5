//! Measures call set-up time: N calls in a row between two headless browsers, timing each from
//! the second person's Call click to remote video playing on both sides.
//!
//! `cargo run --release -p visavis-e2e --bin measure_setup -- --calls 7` measures direct calls;
//! `--relay` measures relay-only calls (`?ice=relay`) through the built-in TURN relay on
//! loopback; `--compare` measures both, one after the other, and prints them side by side.
//!
//! Timing is taken on the host: an `Instant` just before the click, then both pages are polled
//! (about every 50 ms) until each remote video has `videoWidth > 0` and a growing decoded frame
//! count. The figures include that polling granularity and the WebDriver round trips.

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::Parser;
use visavis_e2e::turn::random_secret;
use visavis_e2e::{
    is_playing, relay_room_path, room_path, unique_room, AppOptions, Person, TestContext,
    VideoSample, STEP_TIMEOUT, VIDEO_TIMEOUT,
};

/// Command-line options.
#[derive(Debug, Parser)]
#[command(about = "Measure visavis call set-up time between two headless browsers")]
struct Args {
    /// How many calls to make in a row (per mode).
    #[arg(long, default_value_t = 7)]
    calls: usize,

    /// Relay-only calls (`?ice=relay`) through the built-in TURN relay on loopback, instead of
    /// direct ones.
    #[arg(long, conflicts_with = "compare")]
    relay: bool,

    /// Direct calls, then relay-only calls through the built-in relay, with fresh browsers and
    /// a fresh app each; prints both side by side.
    #[arg(long)]
    compare: bool,
}

/// How the calls are routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Default ICE policy, no TURN server: host candidates on loopback.
    Direct,
    /// `?ice=relay` with the built-in relay on 127.0.0.1.
    Relay,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Direct => "direct",
            Mode::Relay => "relay",
        }
    }

    fn app_options(self) -> anyhow::Result<AppOptions> {
        match self {
            Mode::Direct => Ok(AppOptions::new()),
            Mode::Relay => AppOptions::new().builtin_relay(&random_secret()),
        }
    }

    fn path(self, room: &str) -> String {
        match self {
            Mode::Direct => room_path(room),
            Mode::Relay => relay_room_path(room),
        }
    }
}

/// Summary figures of one mode's calls, in milliseconds.
struct Summary {
    calls: usize,
    median: f64,
    min: f64,
    max: f64,
}

impl Summary {
    fn of(timings: &[CallTiming]) -> Summary {
        let mut sorted: Vec<f64> = timings.iter().map(|t| millis(t.both)).collect();
        sorted.sort_by(f64::total_cmp);
        let middle = sorted.len() / 2;
        let median = if sorted.len() % 2 == 1 {
            sorted[middle]
        } else {
            (sorted[middle - 1] + sorted[middle]) / 2.0
        };
        Summary {
            calls: sorted.len(),
            median,
            min: sorted[0],
            max: sorted[sorted.len() - 1],
        }
    }
}

/// How often both pages are polled while timing.
const SAMPLE_INTERVAL: Duration = Duration::from_millis(50);

/// One call's timings, from the click.
struct CallTiming {
    both: Duration,
    caller: Duration,
    callee: Duration,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.calls == 0 {
        bail!("--calls must be at least 1");
    }
    let modes: &[Mode] = if args.compare {
        &[Mode::Direct, Mode::Relay]
    } else if args.relay {
        &[Mode::Relay]
    } else {
        &[Mode::Direct]
    };
    let mut summaries = Vec::new();
    for &mode in modes {
        println!("-- {} calls --", mode.name());
        let timings = run_mode(mode, args.calls).await?;
        let summary = Summary::of(&timings);
        println!(
            "{}: calls: {}  median: {:.0} ms  min: {:.0} ms  max: {:.0} ms",
            mode.name(),
            summary.calls,
            summary.median,
            summary.min,
            summary.max
        );
        summaries.push((mode, summary));
    }
    if summaries.len() > 1 {
        println!();
        println!(
            "{:<8} {:>6} {:>10} {:>8} {:>8}",
            "path", "calls", "median", "min", "max"
        );
        for (mode, summary) in &summaries {
            println!(
                "{:<8} {:>6} {:>7.0} ms {:>5.0} ms {:>5.0} ms",
                mode.name(),
                summary.calls,
                summary.median,
                summary.min,
                summary.max
            );
        }
    }
    Ok(())
}

/// Measures `calls` calls in `mode` with a fresh app and fresh browsers.
async fn run_mode(mode: Mode, calls: usize) -> anyhow::Result<Vec<CallTiming>> {
    let test_name = format!("measure_setup_{}", mode.name());
    let ctx = TestContext::start_with(&test_name, mode.app_options()?).await?;
    let outcome = tokio::spawn(measure(ctx.clone(), mode, calls)).await;
    let result = match outcome {
        Ok(result) => result,
        Err(join_error) => Err(anyhow::anyhow!("the measurement panicked: {join_error}")),
    };
    if result.is_err() {
        ctx.save_diagnostics().await;
    }
    ctx.close_browsers().await;
    ctx.app().stop().await;
    result
}

/// A duration in milliseconds, with fractions.
fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

async fn measure(ctx: TestContext, mode: Mode, calls: usize) -> anyhow::Result<Vec<CallTiming>> {
    let caller = ctx.person("caller").await;
    let callee = ctx.person("callee").await;
    let path = mode.path(&unique_room("measure"));
    tokio::join!(caller.open(&path), callee.open(&path));

    let mut timings = Vec::with_capacity(calls);
    for n in 1..=calls {
        caller.click("callButton").await;
        caller.wait_for_call_state("waiting", STEP_TIMEOUT).await;

        let started = Instant::now();
        callee.click("callButton").await;
        let timing = time_until_both_play(&caller, &callee, started)
            .await
            .with_context(|| format!("call {n}"))?;
        // After the timing: which path the media took, as the pages report it.
        let path = tokio::join!(
            caller.wait_for_media_path_report(),
            callee.wait_for_media_path_report()
        );
        println!(
            "call {n}: {:.0} ms until both remote videos play (caller {:.0} ms, callee {:.0} ms); \
             media path: caller {}, callee {}",
            millis(timing.both),
            millis(timing.caller),
            millis(timing.callee),
            path.0.as_deref().unwrap_or("?"),
            path.1.as_deref().unwrap_or("?"),
        );
        if mode == Mode::Relay
            && (path.0.as_deref(), path.1.as_deref()) != (Some("relay"), Some("relay"))
        {
            bail!("call {n} was meant to be relayed, but the pages report {path:?}");
        }
        timings.push(timing);

        caller.click("hangupButton").await;
        tokio::join!(
            caller.wait_for_call_state("ended", STEP_TIMEOUT),
            callee.wait_for_call_state("ended", STEP_TIMEOUT),
        );
    }
    Ok(timings)
}

/// Polls both remote videos until each plays; returns when each started, measured from
/// `started`.
async fn time_until_both_play(
    caller: &Person,
    callee: &Person,
    started: Instant,
) -> anyhow::Result<CallTiming> {
    let mut previous: [Option<VideoSample>; 2] = [None, None];
    let mut playing_at: [Option<Duration>; 2] = [None, None];
    loop {
        let (a, b) = tokio::join!(
            caller.video_sample("remoteVideo"),
            callee.video_sample("remoteVideo")
        );
        for (side, sample) in [a, b].into_iter().enumerate() {
            if playing_at[side].is_some() {
                continue;
            }
            if let Some(now) = sample {
                if is_playing(previous[side], now) {
                    playing_at[side] = Some(started.elapsed());
                }
                previous[side] = Some(now);
            }
        }
        if let [Some(caller_at), Some(callee_at)] = playing_at {
            return Ok(CallTiming {
                both: caller_at.max(callee_at),
                caller: caller_at,
                callee: callee_at,
            });
        }
        if started.elapsed() > VIDEO_TIMEOUT {
            bail!(
                "remote video not playing on both sides after {VIDEO_TIMEOUT:?}: caller {} \
                 (last {:?}), callee {} (last {:?})",
                caller.call_state().await,
                previous[0],
                callee.call_state().await,
                previous[1]
            );
        }
        tokio::time::sleep(SAMPLE_INTERVAL).await;
    }
}
