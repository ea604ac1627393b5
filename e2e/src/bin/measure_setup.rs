//! Measures call set-up time: N calls in a row between two headless browsers, timing each from
//! the second person's Call click to remote video playing on both sides.
//!
//! `cargo run --release -p visavis-e2e --bin measure_setup -- --calls 7`
//!
//! Timing is taken on the host: an `Instant` just before the click, then both pages are polled
//! (about every 50 ms) until each remote video has `videoWidth > 0` and a growing decoded frame
//! count. The figures include that polling granularity and the WebDriver round trips.

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::Parser;
use visavis_e2e::{
    is_playing, room_path, unique_room, Person, TestContext, VideoSample, STEP_TIMEOUT,
    VIDEO_TIMEOUT,
};

/// Command-line options.
#[derive(Debug, Parser)]
#[command(about = "Measure visavis call set-up time between two headless browsers")]
struct Args {
    /// How many calls to make in a row.
    #[arg(long, default_value_t = 7)]
    calls: usize,
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
    let ctx = TestContext::start("measure_setup").await?;
    let outcome = tokio::spawn(measure(ctx.clone(), args.calls)).await;
    let result = match outcome {
        Ok(result) => result,
        Err(join_error) => Err(anyhow::anyhow!("the measurement panicked: {join_error}")),
    };
    if result.is_err() {
        ctx.save_diagnostics().await;
    }
    ctx.close_browsers().await;
    ctx.app().stop().await;
    let timings = result?;

    let mut sorted: Vec<f64> = timings.iter().map(|t| millis(t.both)).collect();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    let median = if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    };
    println!(
        "calls: {}  median: {median:.0} ms  min: {:.0} ms  max: {:.0} ms",
        sorted.len(),
        sorted[0],
        sorted[sorted.len() - 1]
    );
    Ok(())
}

/// A duration in milliseconds, with fractions.
fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

async fn measure(ctx: TestContext, calls: usize) -> anyhow::Result<Vec<CallTiming>> {
    let caller = ctx.person("caller").await;
    let callee = ctx.person("callee").await;
    let path = room_path(&unique_room("measure"));
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
        println!(
            "call {n}: {:.0} ms until both remote videos play (caller {:.0} ms, callee {:.0} ms)",
            millis(timing.both),
            millis(timing.caller),
            millis(timing.callee)
        );
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
