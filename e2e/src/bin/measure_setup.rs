//! Measures call set-up time: N calls in a row between two headless browsers, timing each from
//! the second person's Call click to remote video playing on both sides.
//!
//! `cargo run --release -p visavis-e2e --bin measure_setup -- --calls 7` measures direct calls,
//! each followed by a call of the in-page floor (`visavis_e2e::floor`: two peer connections in
//! one page, no server, in a third browser), and prints both medians and their ratio; it also
//! prints the Caller's first visit (Chromium: bytes over the wire per file, time to the Call
//! button enabled) and where each call's set-up time went (the app's `visavis:` performance
//! marks on both pages, `visavis_e2e::setup_steps`). Every mode prints the step marks;
//! `--relay` measures relay-only calls (`?ice=relay`) through the built-in TURN relay on
//! loopback; `--compare` measures both, one after the other, and prints them side by side.
//! `--transports` measures relay-only calls through the built-in relay over UDP, over TCP (from
//! browsers that cannot send UDP) and over TLS (the same browsers, left only the `turns:` URL),
//! each with a fresh app (serving TLS too) and fresh browsers, checking every call's selected
//! pair's `relayProtocol`, and prints the three side by side.
//!
//! `--recovery N` measures how fast a call comes back by itself: N restarts of the signaling
//! server within one direct call (killed abruptly, started again on the same port and data
//! directory), then N outages of the only media path within one relay-only call (coturn killed
//! and started again), each timed from the moment the server or relay is back to both pages
//! showing `connected`; prints the medians side by side. The relay outages need coturn.
//!
//! Timing is taken on the host: an `Instant` just before the click, then both pages are polled
//! (about every 50 ms) until each remote video has `videoWidth > 0` and a growing decoded frame
//! count. The figures include that polling granularity and the WebDriver round trips.

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::Parser;
use visavis_e2e::first_visit::{self, FirstVisit};
use visavis_e2e::floor::{self, Floor};
use visavis_e2e::setup_steps::{self, clear_marks, read_marks, Step};
use visavis_e2e::turn::{random_secret, Coturn};
use visavis_e2e::turn_transports::{RelayWay, TLS_HOST};
use visavis_e2e::{
    connect_pair_at, is_playing, relay_room_path, room_path, unique_room, AppOptions, Person,
    TestContext, VideoSample, STEP_TIMEOUT, VIDEO_TIMEOUT,
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

    /// Relay-only calls through the built-in relay over UDP, TCP and TLS, each with a fresh
    /// app and fresh browsers; prints the three side by side.
    #[arg(long, conflicts_with_all = ["relay", "compare"])]
    transports: bool,

    /// Instead of set-up times: N server restarts within one call and N relay (coturn)
    /// outages within another; prints the median recovery times side by side.
    #[arg(long, value_name = "N", conflicts_with_all = ["relay", "compare"])]
    recovery: Option<usize>,
}

/// How the calls are routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Default ICE policy, no TURN server: host candidates on loopback.
    Direct,
    /// `?ice=relay` with the built-in relay on 127.0.0.1.
    Relay,
    /// `?ice=relay` with the built-in relay (serving TLS too), the browsers left one way in.
    RelayOver(RelayWay),
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Direct => "direct",
            Mode::Relay => "relay",
            Mode::RelayOver(RelayWay::Udp) => "relay/udp",
            Mode::RelayOver(RelayWay::Tcp) => "relay/tcp",
            Mode::RelayOver(RelayWay::Tls) => "relay/tls",
        }
    }

    fn app_options(self) -> anyhow::Result<AppOptions> {
        match self {
            Mode::Direct => Ok(AppOptions::new()),
            Mode::Relay => AppOptions::new().builtin_relay(&random_secret()),
            // The same app for every transport: TLS on, its URLs naming the certificate's host.
            Mode::RelayOver(_) => Ok(AppOptions::new()
                .builtin_relay(&random_secret())?
                .flag("--turn-tls-listen", "127.0.0.1:0")
                .flag("--turn-host", TLS_HOST)),
        }
    }

    fn path(self, room: &str) -> String {
        match self {
            Mode::Direct => room_path(room),
            Mode::Relay | Mode::RelayOver(_) => relay_room_path(room),
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
    fn of(durations: &[Duration]) -> Summary {
        let mut sorted: Vec<f64> = durations.iter().map(|&d| millis(d)).collect();
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

/// What one mode's measurement produced.
struct ModeResult {
    /// The app's calls.
    timings: Vec<CallTiming>,
    /// The in-page floor's calls, one after each of the app's (direct mode only).
    floor: Vec<Duration>,
    /// Each floor call's steps, from its page's marks.
    floor_steps: Vec<Vec<Step>>,
    /// Each call's steps, from both pages' marks.
    steps: Vec<Vec<Step>>,
    /// The Caller's first visit to the app (direct mode, Chromium only).
    first_visit: Option<FirstVisit>,
}

/// One call's timings, from the click.
struct CallTiming {
    both: Duration,
    caller: Duration,
    callee: Duration,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(outages) = args.recovery {
        if outages == 0 {
            bail!("--recovery must be at least 1");
        }
        return measure_recovery(outages).await;
    }
    if args.calls == 0 {
        bail!("--calls must be at least 1");
    }
    let modes: &[Mode] = if args.transports {
        &[
            Mode::RelayOver(RelayWay::Udp),
            Mode::RelayOver(RelayWay::Tcp),
            Mode::RelayOver(RelayWay::Tls),
        ]
    } else if args.compare {
        &[Mode::Direct, Mode::Relay]
    } else if args.relay {
        &[Mode::Relay]
    } else {
        &[Mode::Direct]
    };
    let mut summaries = Vec::new();
    for &mode in modes {
        println!("-- {} calls --", mode.name());
        let result = run_mode(mode, args.calls).await?;
        if let Some(visit) = &result.first_visit {
            visit.print();
        }
        setup_steps::print_breakdown(&result.steps, &result.floor_steps);
        let both: Vec<Duration> = result.timings.iter().map(|t| t.both).collect();
        floor::print_against_floor(&both, &result.floor);
        let summary = Summary::of(&both);
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
            "{:<10} {:>6} {:>10} {:>8} {:>8} {:>10}",
            "path", "calls", "median", "min", "max", "vs first"
        );
        // The first mode, measured in the same run, is the baseline of the ratios.
        let baseline = summaries[0].1.median;
        for (mode, summary) in &summaries {
            println!(
                "{:<10} {:>6} {:>7.0} ms {:>5.0} ms {:>5.0} ms {:>9.2}x",
                mode.name(),
                summary.calls,
                summary.median,
                summary.min,
                summary.max,
                summary.median / baseline
            );
        }
    }
    Ok(())
}

/// Measures `calls` calls in `mode` with a fresh app and fresh browsers.
async fn run_mode(mode: Mode, calls: usize) -> anyhow::Result<ModeResult> {
    let test_name = format!("measure_setup_{}", mode.name().replace('/', "_"));
    let ctx = TestContext::start_with(&test_name, mode.app_options()?).await?;
    run_in(ctx.clone(), measure(ctx, mode, calls)).await
}

/// Runs one measurement in `ctx`, catching a panic as an error; on failure saves the pages'
/// diagnostics. Closes the browsers and stops the app either way.
async fn run_in<T: Send + 'static>(
    ctx: TestContext,
    measurement: impl std::future::Future<Output = anyhow::Result<T>> + Send + 'static,
) -> anyhow::Result<T> {
    let result = match tokio::spawn(measurement).await {
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

async fn measure(ctx: TestContext, mode: Mode, calls: usize) -> anyhow::Result<ModeResult> {
    let (caller, callee) = match mode {
        Mode::RelayOver(way) => (
            way.person(&ctx, "caller").await,
            way.person(&ctx, "callee").await,
        ),
        Mode::Direct | Mode::Relay => (ctx.person("caller").await, ctx.person("callee").await),
    };
    let path = mode.path(&unique_room("measure"));
    // The Caller's browser is fresh: its first page load is a first visit, with an empty cache
    // (measured with the DevTools Protocol, so Chromium only).
    let first_visit = match mode {
        Mode::Direct => first_visit::in_chromium(&caller, &ctx.app().base_url(), &path).await?,
        _ => None,
    };
    tokio::join!(caller.open(&path), callee.open(&path));
    // The floor runs in a third browser, one call after each of the app's.
    let floor = match mode {
        Mode::Direct => Some(Floor::open(&ctx).await?),
        _ => None,
    };

    let mut timings = Vec::with_capacity(calls);
    let mut floor_times = Vec::with_capacity(calls);
    let mut floor_steps = Vec::with_capacity(calls);
    let mut all_steps = Vec::with_capacity(calls);
    for n in 1..=calls {
        tokio::join!(clear_marks(&caller), clear_marks(&callee));
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
        if mode != Mode::Direct
            && (path.0.as_deref(), path.1.as_deref()) != (Some("relay"), Some("relay"))
        {
            bail!("call {n} was meant to be relayed, but the pages report {path:?}");
        }
        if let Mode::RelayOver(way) = mode {
            check_relay_protocol(&caller, &callee, way)
                .await
                .with_context(|| format!("call {n}"))?;
        }
        timings.push(timing);
        let (caller_marks, callee_marks) = tokio::join!(read_marks(&caller), read_marks(&callee));
        let steps = setup_steps::timeline(&caller_marks, &callee_marks);
        println!("  steps: {}", setup_steps::describe(&steps));
        all_steps.push(steps);

        caller.click("hangupButton").await;
        tokio::join!(
            caller.wait_for_call_state("ended", STEP_TIMEOUT),
            callee.wait_for_call_state("ended", STEP_TIMEOUT),
        );

        if let Some(floor) = &floor {
            let (time, steps) = floor.time_call().await.context(format!("floor call {n}"))?;
            println!(
                "floor {n}: {:.0} ms until both remote videos play",
                millis(time)
            );
            println!("  steps: {}", setup_steps::describe(&steps));
            floor_times.push(time);
            floor_steps.push(steps);
        }
    }
    Ok(ModeResult {
        timings,
        floor: floor_times,
        floor_steps,
        steps: all_steps,
        first_visit,
    })
}

/// Both browsers' selected pairs (read by the test, not the app) have a local relay candidate
/// reached over `way`.
async fn check_relay_protocol(
    caller: &Person,
    callee: &Person,
    way: RelayWay,
) -> anyhow::Result<()> {
    let pairs = tokio::join!(
        caller.wait_for_selected_pair(STEP_TIMEOUT),
        callee.wait_for_selected_pair(STEP_TIMEOUT)
    );
    for pair in [&pairs.0, &pairs.1] {
        if pair.local.candidate_type != "relay"
            || pair.local.relay_protocol.as_deref() != Some(way.relay_protocol())
        {
            bail!(
                "the call was meant to reach the relay over {}, but went {pair:?}",
                way.relay_protocol()
            );
        }
    }
    Ok(())
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

// ---------------------------------------------------------------------------------------------
// Recovery after outages (`--recovery N`)
// ---------------------------------------------------------------------------------------------

/// What breaks in a recovery measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outage {
    /// The signaling server is killed and started again; media flows on meanwhile.
    ServerRestart,
    /// coturn, the only media path of a relay-only call, is killed and started again.
    RelayOutage,
}

impl Outage {
    fn name(self) -> &'static str {
        match self {
            Outage::ServerRestart => "server restart",
            Outage::RelayOutage => "network break",
        }
    }
}

/// How long the server or the relay stays down in each outage, once both pages show
/// `reconnecting`.
const OUTAGE: Duration = Duration::from_secs(5);

/// How long both pages may take to show `reconnecting`, and then `connected` again.
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(40);

async fn measure_recovery(outages: usize) -> anyhow::Result<()> {
    let mut summaries = Vec::new();
    for outage in [Outage::ServerRestart, Outage::RelayOutage] {
        println!("-- {} x {outages} --", outage.name());
        let times = run_recovery(outage, outages).await?;
        let summary = Summary::of(&times);
        println!(
            "{}: outages: {}  median: {:.0} ms  min: {:.0} ms  max: {:.0} ms",
            outage.name(),
            summary.calls,
            summary.median,
            summary.min,
            summary.max
        );
        summaries.push((outage, summary));
    }
    println!();
    println!(
        "{:<16} {:>7} {:>10} {:>8} {:>8}",
        "recovery after", "outages", "median", "min", "max"
    );
    for (outage, summary) in &summaries {
        println!(
            "{:<16} {:>7} {:>7.0} ms {:>5.0} ms {:>5.0} ms",
            outage.name(),
            summary.calls,
            summary.median,
            summary.min,
            summary.max
        );
    }
    println!(
        "(from starting the server / relay again to both pages `connected`; each outage lasts \
         {} s after both pages show `reconnecting`)",
        OUTAGE.as_secs()
    );
    Ok(())
}

/// One call with `outages` outages of one kind; returns each recovery time.
async fn run_recovery(outage: Outage, outages: usize) -> anyhow::Result<Vec<Duration>> {
    let test_name = format!("measure_recovery_{outage:?}");
    let (options, coturn) = match outage {
        Outage::ServerRestart => (AppOptions::new(), None),
        Outage::RelayOutage => {
            let coturn = Coturn::start(&random_secret()).await?;
            let options = AppOptions::new()
                .external_turn(&coturn.turn_url(), coturn.secret())
                .log_source("coturn", coturn.log_handle());
            (options, Some(coturn))
        }
    };
    let ctx = TestContext::start_with(&test_name, options).await?;
    run_in(ctx.clone(), measure_outages(ctx, coturn, outages)).await
}

/// Sets up one call (relay-only if `coturn` is given), then breaks and restores the server (or
/// coturn) `outages` times, timing each recovery.
async fn measure_outages(
    ctx: TestContext,
    mut coturn: Option<Coturn>,
    outages: usize,
) -> anyhow::Result<Vec<Duration>> {
    let caller = ctx.person("caller").await;
    let callee = ctx.person("callee").await;
    let room = unique_room("recovery");
    let path = if coturn.is_some() {
        relay_room_path(&room)
    } else {
        room_path(&room)
    };
    connect_pair_at(&caller, &callee, &path).await;

    let mut times = Vec::with_capacity(outages);
    for n in 1..=outages {
        match coturn.as_mut() {
            Some(coturn) => coturn.stop().await,
            None => ctx.app().kill().await,
        }
        let down = Instant::now();
        let noticed = time_until_both(&caller, &callee, "reconnecting", down)
            .await
            .with_context(|| format!("outage {n}: noticing"))?;
        tokio::time::sleep(OUTAGE).await;
        // Timed from the start command: a page may reconnect before the start returns (coturn
        // takes a moment to answer the harness's STUN probe).
        let back = Instant::now();
        match coturn.as_mut() {
            Some(coturn) => coturn.start_again().await?,
            None => ctx.app().start_again().await?,
        }
        let recovered = time_until_both(&caller, &callee, "connected", back)
            .await
            .with_context(|| format!("outage {n}: recovering"))?;
        println!(
            "outage {n}: both reconnecting after {:.0} ms; both connected {:.0} ms after the {} \
             was started again (down {:.0} ms)",
            millis(noticed),
            millis(recovered),
            if coturn.is_some() { "relay" } else { "server" },
            millis(back.duration_since(down))
        );
        times.push(recovered);
        let (caller_plays, callee_plays) = tokio::join!(
            plays_within(&caller, Duration::from_secs(10)),
            plays_within(&callee, Duration::from_secs(10))
        );
        if !(caller_plays && callee_plays) {
            println!(
                "outage {n}: WARNING: remote video frozen after the recovery: caller {}, \
                 callee {}",
                if caller_plays { "plays" } else { "frozen" },
                if callee_plays { "plays" } else { "frozen" }
            );
        }
    }
    Ok(times)
}

/// Whether `person`'s remote video shows a newly decoded frame within `timeout`.
async fn plays_within(person: &Person, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut previous = None;
    while Instant::now() < deadline {
        if let Some(now) = person.video_sample("remoteVideo").await {
            if is_playing(previous, now) {
                return true;
            }
            previous = Some(now);
        }
        tokio::time::sleep(SAMPLE_INTERVAL).await;
    }
    false
}

/// Polls both pages until each shows `state`; returns when the later one did, from `since`.
async fn time_until_both(
    caller: &Person,
    callee: &Person,
    state: &str,
    since: Instant,
) -> anyhow::Result<Duration> {
    let mut reached: [Option<Duration>; 2] = [None, None];
    loop {
        let (a, b) = tokio::join!(caller.call_state(), callee.call_state());
        for (side, now) in [a, b].into_iter().enumerate() {
            if reached[side].is_none() && now == state {
                reached[side] = Some(since.elapsed());
            }
        }
        if let [Some(a), Some(b)] = reached {
            return Ok(a.max(b));
        }
        if since.elapsed() > RECOVERY_TIMEOUT {
            bail!(
                "not both {state} after {RECOVERY_TIMEOUT:?}: caller {}, callee {}",
                caller.describe().await,
                callee.describe().await
            );
        }
        tokio::time::sleep(SAMPLE_INTERVAL).await;
    }
}
