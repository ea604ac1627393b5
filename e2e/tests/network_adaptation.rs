//! The call adapts to the network, in real browsers:
//!
//! - a degraded link: Bob's browser runs in a network namespace joined by a veth pair, and
//!   mid-call both directions get 20 % UDP loss and a 300 kbit/s rate limit whose queue makes
//!   the round trip rise (see `visavis_e2e::netns`; nftables and HTB, since `tc netem` is not in
//!   every kernel). Alice's video
//!   sender must step down within seconds (the app's level, the sender's own parameters and
//!   the encoded picture), the call must stay `connected` with frames still arriving, and the
//!   signal bars must show a poor link; once the impairment is removed the video and the bars
//!   must come back. The time the sender takes to adapt after the impairment starts and after
//!   it ends is printed, with medians over the cycles (`cargo test -p visavis-e2e --test
//!   network_adaptation -- --nocapture`). Needs root for `ip netns` and `tc`.
//! - audio only: the button stops the video both ways (no video bytes sent on either side, the
//!   sender's encoding inactive) while audio keeps flowing, and turning it off brings the video
//!   back on both sides.

use std::future::Future;
use std::time::{Duration, Instant};

use visavis_e2e::netns::{Impairment, NetNamespace, NsDriver};
use visavis_e2e::{
    connect_pair, median, run_browser_test, run_browser_test_for, unique_room, AppOptions,
    BrowserOptions, MediaReading, Person, STEP_TIMEOUT, VIDEO_TIMEOUT,
};

/// The impairment: a fifth of the packets lost and 300 kbit/s each way, with a queue of up to
/// about 0.8 s (a weak mobile link).
const IMPAIRMENT: Impairment = Impairment {
    loss_percent: 20,
    rate_kbit: 300,
    queue_packets: 25,
};

/// How long the sender may take to step down once the link is impaired.
const DOWN_TIMEOUT: Duration = Duration::from_secs(20);

/// How long the encoded picture may take to get smaller once the link is impaired: it shrinks
/// only from the second rung down, and a loaded machine's encoder follows a new scale late
/// (a full CI run once took over 20 s). The time it took is printed either way.
const SHRINK_TIMEOUT: Duration = Duration::from_secs(45);

/// How long the video may take to come back to full quality once the link is clean: the rules
/// climb one rung per ten good seconds, from as low as the floor, and twice as slowly after a
/// climb the link could not hold (the congestion control's estimate may fall once more while
/// it recovers).
const UP_TIMEOUT: Duration = Duration::from_secs(180);

/// The whole test: set-up, the cycles and the holds between them.
const THIS_TEST_TIMEOUT: Duration = Duration::from_secs(900);

/// How long a level must hold before the rules forget an earlier failed climb (their
/// `HELD_AFTER`, 20 s), with a margin.
const HELD_FOR: Duration = Duration::from_secs(22);

/// Impair-and-recover cycles measured.
const CYCLES: usize = 3;

/// How long counters must stand still to count as stopped.
const STILL_FOR_MS: f64 = 2000.0;

/// Polls `probe` about every 200 ms until it returns a value; panics after `timeout`.
async fn poll<T, F, Fut>(description: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {description}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The video level the page publishes (`0` full … `4` minimal).
async fn send_level(person: &Person) -> Option<u8> {
    person
        .execute(
            "const e = document.querySelector('[data-send-level]');\n\
             return e ? e.dataset.sendLevel : null;",
            vec![],
        )
        .await
        .as_str()
        .and_then(|level| level.parse().ok())
}

/// The bars of a signal indicator (`localQuality` or `remoteQuality`), if known.
async fn bars(person: &Person, id: &str) -> Option<u8> {
    person
        .data_attribute(id, "data-level")
        .await
        .and_then(|level| level.parse().ok())
}

/// The browsers' options: the app on the veth address is not `localhost`, so it is declared
/// a secure context (cameras need one).
fn secure_origin(base_url: &str) -> BrowserOptions {
    BrowserOptions {
        args: vec![format!(
            "--unsafely-treat-insecure-origin-as-secure={base_url}"
        )],
        prefs: None,
    }
}

/// The namespace and its WebDriver server, in drop order: the driver first.
struct DegradedLink {
    driver: NsDriver,
    netns: NetNamespace,
}

/// The seconds one cycle took.
#[derive(Debug, Clone, Copy)]
struct Cycle {
    first_step_down: f64,
    picture_smaller: f64,
    back_to_full: f64,
    picture_restored: f64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_degraded_link_steps_the_video_down_and_back_up() {
    run_browser_test_for(
        THIS_TEST_TIMEOUT,
        || async {
            let netns = NetNamespace::create()?;
            let driver = netns.start_chromedriver().await?;
            let options = AppOptions::new().listen_on(netns.host_ip());
            Ok((options, DegradedLink { driver, netns }))
        },
        |ctx, link| async move {
            let options = secure_origin(&ctx.app().base_url());
            let alice = ctx.person_with_browser("alice", &options).await;
            let bob = ctx
                .person_on_driver("bob", &link.driver.url(), &options)
                .await;
            tokio::join!(alice.watch_peer_connections(), bob.watch_peer_connections());
            connect_pair(&alice, &bob, &unique_room("adapt")).await;

            // A clean link: full quality, good bars on both sides, and the full picture.
            let baseline_width = poll("a clean call at full quality", STEP_TIMEOUT * 3, || async {
                let reading = alice.media_reading().await;
                let level = send_level(&alice).await;
                let local = bars(&alice, "localQuality").await;
                let remote = bars(&bob, "remoteQuality").await;
                let good = level == Some(0)
                    && local.is_some_and(|b| b >= 3)
                    && remote.is_some_and(|b| b >= 3);
                reading.sent_width.filter(|w| good && *w > 0.0)
            })
            .await;
            println!("clean link: Alice sends {baseline_width} pixels wide");

            let mut cycles = Vec::new();
            for cycle in 1..=CYCLES {
                if cycle > 1 {
                    full_quality_held(&alice).await;
                }
                let prompt = cycle == 1;
                cycles.push(
                    impair_and_recover(&alice, &bob, &link.netns, baseline_width, prompt).await,
                );
                println!("cycle {cycle}: {:?}", cycles.last());
            }
            let figure = |pick: fn(&Cycle) -> f64| {
                median(&cycles.iter().map(pick).collect::<Vec<_>>()).unwrap_or(f64::NAN)
            };
            println!(
                "adaptation medians over {CYCLES} cycles ({IMPAIRMENT:?}): first step down \
                 {:.1} s, smaller encoded picture {:.1} s after the impairment started; back \
                 to full quality {:.1} s, full picture {:.1} s after it ended",
                figure(|c| c.first_step_down),
                figure(|c| c.picture_smaller),
                figure(|c| c.back_to_full),
                figure(|c| c.picture_restored),
            );
            ctx.close_browsers().await;
        },
    )
    .await;
}

/// Waits until Alice has stayed at full quality for [`HELD_FOR`]: long enough for the rules
/// to count the last step up as held, so the next cycle starts from the same state as the
/// first (an impairment right after a recovery rightly makes the next climb wait longer).
async fn full_quality_held(alice: &Person) {
    let deadline = Instant::now() + HELD_FOR * 3;
    let mut since: Option<Instant> = None;
    loop {
        if send_level(alice).await == Some(0) {
            let start = *since.get_or_insert_with(Instant::now);
            if start.elapsed() >= HELD_FOR {
                return;
            }
        } else {
            since = None;
        }
        assert!(
            Instant::now() < deadline,
            "Alice did not stay at full quality for {HELD_FOR:?} on a clean link"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One cycle: impairs the link, checks the call adapts and stays up (and, with
/// `expect_prompt`, that audio only is suggested at the floor), clears it, checks it recovers.
/// Returns the times.
async fn impair_and_recover(
    alice: &Person,
    bob: &Person,
    netns: &NetNamespace,
    baseline_width: f64,
    expect_prompt: bool,
) -> Cycle {
    if let Err(error) = netns.impair(&IMPAIRMENT) {
        panic!("could not impair the link: {error:#}");
    }
    let started = Instant::now();
    let first_step_down = poll("Alice's video to step down", DOWN_TIMEOUT, || async {
        send_level(alice)
            .await
            .filter(|level| *level >= 1)
            .map(|_| started.elapsed().as_secs_f64())
    })
    .await;
    let picture_smaller = poll(
        "Alice's encoded picture to shrink",
        SHRINK_TIMEOUT,
        || async {
            let reading = alice.media_reading().await;
            reading
                .sent_width
                .filter(|width| *width < baseline_width)
                .map(|_| started.elapsed().as_secs_f64())
        },
    )
    .await;
    // What the app asked of the sender: a bitrate cap and, further down, a smaller picture.
    let asked: MediaReading = poll("the sender to be scaled down", DOWN_TIMEOUT, || async {
        let reading = alice.media_reading().await;
        (reading.max_bitrate.is_some() && reading.scale_down_by.is_some_and(|s| s > 1.0))
            .then_some(reading)
    })
    .await;
    assert!(
        asked.encoding_active != Some(false),
        "video must still be sent: {asked:?}"
    );
    // The bars say the link is poor, on both sides and as each side tells the other.
    poll("the bars to show a poor link", STEP_TIMEOUT * 2, || async {
        let mine = bars(alice, "localQuality").await;
        let theirs = bars(bob, "localQuality").await;
        let told = bars(bob, "remoteQuality").await;
        (mine.is_some_and(|b| b <= 1)
            && theirs.is_some_and(|b| b <= 1)
            && told.is_some_and(|b| b <= 1))
        .then_some(())
    })
    .await;
    // Bob is told why Alice's picture is smaller.
    bob.wait_until(
        "!document.getElementById('remoteNotice').hidden \
         && document.getElementById('remoteNotice').textContent.includes('because of')",
        STEP_TIMEOUT * 2,
        "Bob's notice on why Alice's picture is reduced",
    )
    .await;
    // The call is still up and pictures still arrive, well into the impairment.
    let frames_impaired = bob.media_reading().await.frames_decoded;
    for person in [alice, bob] {
        assert_eq!(person.call_state().await, "connected", "{}", person.name());
    }
    poll(
        "frames to keep arriving at Bob's",
        VIDEO_TIMEOUT,
        || async { (bob.media_reading().await.frames_decoded > frames_impaired).then_some(()) },
    )
    .await;

    if expect_prompt {
        // Left impaired, Alice's video reaches the floor and audio only is suggested.
        alice
            .wait_until(
                "!document.getElementById('audioOnlyPrompt').hidden \
                 && document.getElementById('audioOnlyPromptButton') !== null",
                DOWN_TIMEOUT * 2,
                "the suggestion to switch to audio only",
            )
            .await;
        assert_eq!(
            send_level(alice).await,
            Some(4),
            "the floor before the suggestion"
        );
    }
    if let Err(error) = netns.clear() {
        panic!("could not clear the impairment: {error:#}");
    }
    let ended = Instant::now();
    let back_to_full = poll("Alice's video back at full quality", UP_TIMEOUT, || async {
        (send_level(alice).await == Some(0)).then(|| ended.elapsed().as_secs_f64())
    })
    .await;
    let restored = poll("Alice's full picture again", UP_TIMEOUT, || async {
        let reading = alice.media_reading().await;
        let full = reading.sent_width.is_some_and(|w| w >= baseline_width)
            && reading.max_bitrate.is_none()
            && reading.scale_down_by.is_none_or(|s| s <= 1.0);
        full.then(|| ended.elapsed().as_secs_f64())
    })
    .await;
    poll("the bars to show a good link again", UP_TIMEOUT, || async {
        let mine = bars(alice, "localQuality").await;
        let told = bars(bob, "remoteQuality").await;
        (mine.is_some_and(|b| b >= 3) && told.is_some_and(|b| b >= 3)).then_some(())
    })
    .await;
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let notice = bob
            .execute(
                "const e = document.getElementById('remoteNotice');\n\
                 return e.hidden ? null : e.textContent;",
                vec![],
            )
            .await;
        let Some(text) = notice.as_str() else {
            break;
        };
        assert!(
            Instant::now() < deadline,
            "Bob's notice did not go once Alice was back at full quality: {text:?}; Alice's \
             level now {:?}",
            send_level(alice).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Cycle {
        first_step_down,
        picture_smaller,
        back_to_full,
        picture_restored: restored,
    }
}

/// Waits until `person`'s video counters (sent and received) have stood still for
/// [`STILL_FOR_MS`] with the sender's encoding inactive, while audio kept arriving.
async fn video_stopped_audio_flowing(person: &Person) {
    let deadline = Instant::now() + STEP_TIMEOUT;
    let mut still_since: Option<MediaReading> = None;
    loop {
        let now = person.media_reading().await;
        match still_since {
            Some(start)
                if start.video_sent == now.video_sent
                    && start.video_received == now.video_received =>
            {
                if now.at_ms - start.at_ms >= STILL_FOR_MS
                    && now.audio_received > start.audio_received
                    && now.encoding_active == Some(false)
                {
                    return;
                }
            }
            _ => still_since = Some(now),
        }
        assert!(
            Instant::now() < deadline,
            "{}: video did not stop with audio flowing within {STEP_TIMEOUT:?}; \
             still since {still_since:?}, now {now:?}",
            person.name()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until `person`'s video flows both ways again with the sender's encoding active.
async fn video_flowing(person: &Person) {
    let first = person.media_reading().await;
    poll(
        &format!("{}'s video to flow both ways again", person.name()),
        STEP_TIMEOUT,
        || async {
            let now = person.media_reading().await;
            (now.encoding_active == Some(true)
                && now.video_sent > first.video_sent
                && now.video_received > first.video_received)
                .then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_only_stops_video_both_ways_and_brings_it_back() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person("alice").await;
        let bob = ctx.person("bob").await;
        tokio::join!(alice.watch_peer_connections(), bob.watch_peer_connections());
        connect_pair(&alice, &bob, &unique_room("audio-only")).await;
        // A clean loopback call: good bars, and each side has the other's.
        for person in [&alice, &bob] {
            person
                .wait_until(
                    "Number(document.getElementById('localQuality').dataset.level) >= 3 \
                     && Number(document.getElementById('remoteQuality').dataset.level) >= 3",
                    STEP_TIMEOUT,
                    "good signal bars on both indicators",
                )
                .await;
        }
        // The explanation is there for hover and focus.
        let title = alice
            .execute(
                "const e = document.getElementById('localQuality');\n\
                 return [e.getAttribute('title'), e.getAttribute('aria-label'), e.tabIndex];",
                vec![],
            )
            .await;
        assert!(
            title[0].as_str().is_some_and(|t| t.starts_with("Your connection: "))
                && title[0] == title[1]
                && title[2] == 0,
            "the indicator explains itself: {title}"
        );

        alice.click("audioOnlyButton").await;
        for person in [&alice, &bob] {
            person
                .wait_until(
                    "document.getElementById('audioOnlyButton').getAttribute('aria-pressed') === 'true'",
                    STEP_TIMEOUT,
                    "the Audio only button to be on",
                )
                .await;
        }
        tokio::join!(
            video_stopped_audio_flowing(&alice),
            video_stopped_audio_flowing(&bob)
        );
        bob.wait_until(
            "!document.getElementById('remoteNotice').hidden \
             && document.getElementById('remoteNotice').textContent.startsWith('Audio only')",
            STEP_TIMEOUT,
            "Bob's notice that the call is audio only",
        )
        .await;
        for person in [&alice, &bob] {
            assert_eq!(person.call_state().await, "connected", "{}", person.name());
        }

        // Bob turns the video back on: for both.
        bob.click("audioOnlyButton").await;
        tokio::join!(video_flowing(&alice), video_flowing(&bob));
        tokio::join!(alice.remote_video_playing(), bob.remote_video_playing());
        for person in [&alice, &bob] {
            person
                .wait_until(
                    "document.getElementById('audioOnlyButton').getAttribute('aria-pressed') === 'false' \
                     && document.getElementById('remoteNotice').hidden",
                    STEP_TIMEOUT,
                    "the Audio only button off and no notice",
                )
                .await;
        }
    })
    .await;
}
