//! Calls that survive outages, in real browsers: the signaling server dies and comes back on the
//! same port and data directory; a page is reloaded mid-call; both sides renegotiate at the same
//! instant (glare); the only media path (a coturn relay) dies and comes back; chat typed while
//! the data path is down.
//!
//! The contract under test: a call that was `connected` shows `reconnecting` while the page's
//! signaling socket is down, the other person's socket is down, or the peer connection is
//! `disconnected`/`failed`, and returns to `connected` by itself once all are back; media keeps
//! flowing peer to peer while only the server is away; a reloaded page takes its seat back
//! without a click; chat messages are re-sent until acknowledged and shown once.
//!
//! Every wait polls page state; the only deliberate pause is the length of an outage, which is
//! part of the scenario, not a wait for the page. Recovery times are printed with `eprintln!`
//! (run with `--nocapture` to see them).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use visavis_e2e::turn::{random_secret, require_coturn, Coturn};
use visavis_e2e::{
    connect_pair, connect_pair_at, relay_room_path, room_path, run_browser_test,
    run_browser_test_with, unique_room, AppOptions, Person, TestContext, CONNECT_TIMEOUT,
    PAGE_LOAD_TIMEOUT, STEP_TIMEOUT, VIDEO_TIMEOUT,
};

/// How long both pages may take to notice that the server is gone.
const NOTICE_TIMEOUT: Duration = Duration::from_secs(15);

/// How long the server stays down in the restart test: longer than the client's first few
/// reconnect attempts, so the page is backing off when the server returns.
const SERVER_DOWNTIME: Duration = Duration::from_secs(4);

/// How long both pages may take to be `connected` again once the server is back: the client's
/// reconnect backoff is capped at 4 s (jittered), then `rejoin`.
const SERVER_RECOVERY_TIMEOUT: Duration = Duration::from_secs(15);

/// How long the browsers may take to notice that the relay is gone (ICE consent checks stop
/// being answered: `disconnected`).
const RELAY_LOSS_TIMEOUT: Duration = Duration::from_secs(40);

/// How soon both pages must be `connected` again once the relay is back: the client retries
/// its ICE restart every ~4 s while the media path is down.
const RELAY_RECOVERY_LIMIT: Duration = Duration::from_secs(10);

/// How long a video may go without a new decoded frame and still count as playing through an
/// outage of the server.
const MAX_FRAME_GAP: Duration = Duration::from_secs(5);

/// How many times both sides renegotiate at the same moment.
const GLARE_ROUNDS: usize = 3;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Polls `person`'s page until `js_expression` holds; returns how long after `since` it first
/// did. Panics after `timeout` with `description` and the page's state.
async fn wait_timed(
    person: &Person,
    js_expression: &str,
    description: &str,
    since: Instant,
    timeout: Duration,
) -> Duration {
    let script = format!("return !!({js_expression});");
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Value::Bool(true)) = person.client().execute(&script, vec![]).await {
            return since.elapsed();
        }
        if Instant::now() >= deadline {
            panic!(
                "{}: timed out after {timeout:?} waiting for {description}; {}",
                person.name(),
                person.describe().await
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// [`wait_timed`] on both pages at once; returns when each got there (`[a, b]`).
async fn wait_both_timed(
    a: &Person,
    b: &Person,
    js_expression: &str,
    description: &str,
    since: Instant,
    timeout: Duration,
) -> [Duration; 2] {
    let (first, second) = tokio::join!(
        wait_timed(a, js_expression, description, since, timeout),
        wait_timed(b, js_expression, description, since, timeout)
    );
    [first, second]
}

/// A JavaScript expression: the call state is `state`.
fn state_is(state: &str) -> String {
    format!("document.body.dataset.callState === {}", json!(state))
}

/// Both pages reach `state`; returns when each did, measured from `since`.
async fn both_reach(
    a: &Person,
    b: &Person,
    state: &str,
    since: Instant,
    timeout: Duration,
) -> [Duration; 2] {
    wait_both_timed(
        a,
        b,
        &state_is(state),
        &format!("call state {state:?}"),
        since,
        timeout,
    )
    .await
}

/// Milliseconds, for printing.
fn ms(duration: Duration) -> u128 {
    duration.as_millis()
}

/// Asserts that `person`'s remote video keeps playing for `duration`: it never goes longer than
/// [`MAX_FRAME_GAP`] without a newly decoded frame.
async fn remote_video_keeps_playing(person: &Person, duration: Duration) {
    let until = Instant::now() + duration;
    while Instant::now() < until {
        person
            .wait_for_video_playing("remoteVideo", MAX_FRAME_GAP)
            .await;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
}

/// The decoded frame count of `person`'s remote video (0 if unreadable).
async fn remote_frames(person: &Person) -> u64 {
    person
        .video_sample("remoteVideo")
        .await
        .map_or(0, |sample| sample.frames)
}

/// Waits until `person`'s remote video has stopped: no new decoded frame for 1.5 s. Panics if it
/// keeps playing for `timeout`.
async fn remote_video_stalls(person: &Person, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let mut last = remote_frames(person).await;
    let mut unchanged_since = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = remote_frames(person).await;
        if now != last {
            last = now;
            unchanged_since = Instant::now();
        } else if unchanged_since.elapsed() >= Duration::from_millis(1500) {
            return;
        }
        if Instant::now() >= deadline {
            panic!(
                "{}: the remote video kept decoding frames ({last}) for {timeout:?} after the \
                 only media path was cut; {}",
                person.name(),
                person.describe().await
            );
        }
    }
}

/// Starts two browsers whose pages get the peer-connection probe.
async fn two_watched_people(ctx: &TestContext) -> (Person, Person) {
    let alice = ctx.person("alice").await;
    let bob = ctx.person("bob").await;
    tokio::join!(alice.watch_peer_connections(), bob.watch_peer_connections());
    (alice, bob)
}

/// The newest open peer connection of a watched page, as a JavaScript expression.
const NEWEST_PC: &str = "(() => { const all = (window.__visavisE2ePeerConnections || []) \
    .filter((pc) => pc.connectionState !== 'closed'); return all[all.length - 1] || null; })()";

/// The `a=ice-ufrag` of the newest peer connection's local description (changes with every ICE
/// restart), or `None`.
async fn local_ufrag(person: &Person) -> Option<String> {
    person
        .execute(
            &format!(
                "const pc = {NEWEST_PC};\n\
                 const sdp = pc && pc.localDescription ? pc.localDescription.sdp : '';\n\
                 const m = /a=ice-ufrag:(\\S+)/.exec(sdp);\n\
                 return m ? m[1] : null;"
            ),
            vec![],
        )
        .await
        .as_str()
        .map(str::to_owned)
}

/// Waits until `person`'s local ICE username fragment differs from `before`: the page has
/// restarted ICE (or answered a restart) since.
async fn wait_for_ice_restart(person: &Person, before: &Option<String>, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let now = local_ufrag(person).await;
        if now.is_some() && now != *before {
            return;
        }
        if Instant::now() >= deadline {
            panic!(
                "{}: no ICE restart within {timeout:?} (local ufrag still {now:?}); {}",
                person.name(),
                person.describe().await
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The video RTP counters of a watched page's newest peer connection, from `getStats()`: what
/// it sends (`outbound-rtp`) and receives (`inbound-rtp`), for telling where media stops.
async fn video_rtp_stats(person: &Person) -> Value {
    let script = format!(
        "const done = arguments[arguments.length - 1];\n\
         const pc = {NEWEST_PC};\n\
         if (!pc) {{ done(null); return; }}\n\
         pc.getStats().then((report) => {{\n\
             const out = {{ connection: pc.connectionState, ice: pc.iceConnectionState,\n\
                           signaling: pc.signalingState, inbound: [], outbound: [] }};\n\
             report.forEach((s) => {{\n\
                 if (s.kind !== 'video') return;\n\
                 if (s.type === 'inbound-rtp') out.inbound.push({{ mid: s.mid, ssrc: s.ssrc,\n\
                     packets: s.packetsReceived, framesReceived: s.framesReceived,\n\
                     framesDecoded: s.framesDecoded, keyFrames: s.keyFramesDecoded,\n\
                     pli: s.pliCount, fir: s.firCount, nack: s.nackCount }});\n\
                 if (s.type === 'outbound-rtp') out.outbound.push({{ mid: s.mid, ssrc: s.ssrc,\n\
                     packets: s.packetsSent, framesEncoded: s.framesEncoded,\n\
                     keyFrames: s.keyFramesEncoded, pli: s.pliCount, fir: s.firCount,\n\
                     active: s.active, limitation: s.qualityLimitationReason }});\n\
             }});\n\
             const track = (t) => t ? t.kind + ':' + t.id.slice(0, 8) + ':' + t.readyState\n\
                 + (t.muted ? ':muted' : '') : null;\n\
             out.transceivers = pc.getTransceivers().map((t) => ({{ mid: t.mid,\n\
                 direction: t.direction, current: t.currentDirection,\n\
                 sendTrack: track(t.sender.track), recvTrack: track(t.receiver.track) }}));\n\
             const v = document.getElementById('remoteVideo');\n\
             const src = v ? v.srcObject : null;\n\
             out.remoteVideo = v ? {{ paused: v.paused, readyState: v.readyState,\n\
                 stream: src ? src.id.slice(0, 8) : null,\n\
                 tracks: src ? src.getTracks().map(track) : [] }} : null;\n\
             done(out);\n\
         }}, (e) => done({{ error: String(e) }}));"
    );
    person
        .client()
        .execute_async(&script, vec![])
        .await
        .unwrap_or_else(|error| json!({ "error": error.to_string() }))
}

/// Prints both pages' video RTP counters (see [`video_rtp_stats`]) under `label`.
async fn print_rtp_stats(label: &str, a: &Person, b: &Person) {
    let (sa, sb) = tokio::join!(video_rtp_stats(a), video_rtp_stats(b));
    eprintln!("{label}:\n  {}: {sa}\n  {}: {sb}", a.name(), b.name());
}

/// Like [`Person::remote_video_playing`] on both pages, printing both pages' RTP counters
/// twice, two seconds apart, before failing.
async fn both_remote_videos_play(a: &Person, b: &Person, label: &str) {
    let (ok_a, ok_b) = tokio::join!(
        plays_within(a, VIDEO_TIMEOUT),
        plays_within(b, VIDEO_TIMEOUT)
    );
    if ok_a && ok_b {
        return;
    }
    print_rtp_stats(&format!("{label}: video RTP counters"), a, b).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    print_rtp_stats(&format!("{label}: two seconds later"), a, b).await;
    panic!(
        "{label}: remote video not playing: {} {}, {} {}",
        a.name(),
        if ok_a { "plays" } else { "does NOT play" },
        b.name(),
        if ok_b { "plays" } else { "does NOT play" }
    );
}

/// Whether `person`'s remote video shows a newly decoded frame within `timeout`.
async fn plays_within(person: &Person, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut previous = None;
    loop {
        if let Some(now) = person.video_sample("remoteVideo").await {
            if visavis_e2e::is_playing(previous, now) {
                return true;
            }
            previous = Some(now);
        }
        if Instant::now() >= deadline {
            eprintln!(
                "{}: remote video last sample {previous:?}; {}",
                person.name(),
                person.describe().await
            );
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A relay-only call through a real coturn: the setup of the relay tests.
async fn coturn_setup() -> anyhow::Result<(AppOptions, Coturn)> {
    let coturn = Coturn::start(&random_secret()).await?;
    let options = AppOptions::new()
        .external_turn(&coturn.turn_url(), coturn.secret())
        .log_source("coturn", coturn.log_handle());
    Ok((options, coturn))
}

/// Both pages' selected pair goes through the relay and carries bytes.
async fn assert_relayed(alice: &Person, bob: &Person) {
    let (alice_pair, bob_pair) = tokio::join!(
        alice.wait_for_selected_pair(STEP_TIMEOUT),
        bob.wait_for_selected_pair(STEP_TIMEOUT)
    );
    for (person, pair) in [(alice, &alice_pair), (bob, &bob_pair)] {
        assert!(
            pair.is_relayed(),
            "{}'s selected candidate pair should go through the relay: {pair:?}",
            person.name()
        );
        assert_eq!(
            pair.connection_state,
            "connected",
            "{}'s peer connection: {pair:?}",
            person.name()
        );
    }
}

/// Kills coturn under a connected relay-only call and waits until the break shows: both pages
/// `reconnecting` and both remote videos stalled. Returns when coturn was killed.
async fn cut_the_relay(coturn: &mut Coturn, alice: &Person, bob: &Person) -> Instant {
    coturn.stop().await;
    let killed = Instant::now();
    let noticed = both_reach(alice, bob, "reconnecting", killed, RELAY_LOSS_TIMEOUT).await;
    eprintln!(
        "relay killed: {} reconnecting after {} ms, {} after {} ms",
        alice.name(),
        ms(noticed[0]),
        bob.name(),
        ms(noticed[1])
    );
    tokio::join!(
        remote_video_stalls(alice, STEP_TIMEOUT),
        remote_video_stalls(bob, STEP_TIMEOUT)
    );
    for person in [alice, bob] {
        eprintln!(
            "{} while the relay is down: status {:?}",
            person.name(),
            person.status_text().await
        );
    }
    killed
}

/// Starts coturn again and asserts both pages are `connected` within [`RELAY_RECOVERY_LIMIT`]
/// of starting it; returns how long that took. (Measured from the start command: a page whose
/// TURN request is being retransmitted may connect before the test's own STUN probe sees
/// coturn answer.)
async fn restore_the_relay(coturn: &mut Coturn, alice: &Person, bob: &Person) -> Duration {
    let started = Instant::now();
    coturn
        .start_again()
        .await
        .expect("coturn should start again on the same address");
    let answering = started.elapsed();
    let reached = both_reach(alice, bob, "connected", started, RELAY_RECOVERY_LIMIT).await;
    let both = reached[0].max(reached[1]);
    eprintln!(
        "relay back: coturn started, answering STUN after {} ms; both connected {} ms after \
         the start ({} {} ms, {} {} ms)",
        ms(answering),
        ms(both),
        alice.name(),
        ms(reached[0]),
        bob.name(),
        ms(reached[1])
    );
    both
}

/// One line of the chat log.
#[derive(Debug, Clone, PartialEq)]
struct ChatEntry {
    /// `data-author` (`you`/`them`), if the line has it.
    author: Option<String>,
    /// `data-delivery` (`sending`/`delivered`), if the line has it.
    delivery: Option<String>,
    /// The message text (the `.chat-text` part, else the whole line).
    text: String,
}

/// Every line of `person`'s chat log, in order.
async fn chat_entries(person: &Person) -> Vec<ChatEntry> {
    let value = person
        .execute(
            "const out = document.getElementById('dataChannelOutput');\n\
             if (!out) return [];\n\
             return [...out.querySelectorAll('li')].map((li) => ({\n\
                 author: li.dataset.author ?? null,\n\
                 delivery: li.dataset.delivery ?? null,\n\
                 text: (li.querySelector('.chat-text') ?? li).textContent.trim(),\n\
             }));",
            vec![],
        )
        .await;
    value
        .as_array()
        .map(|lines| {
            lines
                .iter()
                .map(|line| ChatEntry {
                    author: line["author"].as_str().map(str::to_owned),
                    delivery: line["delivery"].as_str().map(str::to_owned),
                    text: line["text"].as_str().unwrap_or_default().to_owned(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The lines of `person`'s chat log whose text is one of `texts`, in log order.
async fn chat_lines_among(person: &Person, texts: &[String]) -> Vec<ChatEntry> {
    chat_entries(person)
        .await
        .into_iter()
        .filter(|entry| texts.contains(&entry.text))
        .collect()
}

/// Polls `person`'s chat log until `done` holds for the lines whose text is one of `texts`;
/// returns them. Panics after `timeout` with `description` and the whole log.
async fn wait_for_chat_lines(
    person: &Person,
    texts: &[String],
    done: impl Fn(&[ChatEntry]) -> bool,
    description: &str,
    timeout: Duration,
) -> Vec<ChatEntry> {
    let deadline = Instant::now() + timeout;
    loop {
        let lines = chat_lines_among(person, texts).await;
        if done(&lines) {
            return lines;
        }
        if Instant::now() >= deadline {
            panic!(
                "{}: timed out after {timeout:?} waiting for {description}; the chat log: \
                 {:#?}\n{}",
                person.name(),
                chat_entries(person).await,
                person.describe().await
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Milliseconds since the Unix epoch, as the browsers' `Date.now()` (same machine clock).
fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

// ---------------------------------------------------------------------------------------------
// The signaling server dies and comes back
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_mid_call_keeps_media_flowing_and_both_seats() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person("alice").await;
        let bob = ctx.person("bob").await;
        let carol = ctx.person("carol").await;
        let room = unique_room("restart");
        connect_pair(&alice, &bob, &room).await;

        ctx.app().kill().await;
        let killed = Instant::now();
        let noticed = both_reach(&alice, &bob, "reconnecting", killed, NOTICE_TIMEOUT).await;
        eprintln!(
            "server killed: alice reconnecting after {} ms, bob after {} ms",
            ms(noticed[0]),
            ms(noticed[1])
        );
        for person in [&alice, &bob] {
            let status = person.status_text().await;
            eprintln!("{} while the server is down: {status:?}", person.name());
            assert!(
                status.to_lowercase().contains("server"),
                "{}'s status line should say that the server connection is what is being \
                 restored, but it says {status:?}",
                person.name()
            );
        }

        // The whole downtime: media flows peer to peer without the server.
        let rest = SERVER_DOWNTIME.saturating_sub(killed.elapsed());
        tokio::join!(
            remote_video_keeps_playing(&alice, rest),
            remote_video_keeps_playing(&bob, rest)
        );
        for person in [&alice, &bob] {
            assert_eq!(
                person.call_state().await,
                "reconnecting",
                "{} should still be reconnecting while the server is down",
                person.name()
            );
        }

        ctx.app()
            .start_again()
            .await
            .expect("the server should start again on the same port");
        let back = Instant::now();
        let reached = both_reach(&alice, &bob, "connected", back, SERVER_RECOVERY_TIMEOUT).await;
        eprintln!(
            "recovery after server restart: {} ms (alice {} ms, bob {} ms; down for {} ms)",
            ms(reached[0].max(reached[1])),
            ms(reached[0]),
            ms(reached[1]),
            ms(back.duration_since(killed))
        );
        both_remote_videos_play(&alice, &bob, "after the server restart").await;

        // Both seats were taken back: the room is full for a third person.
        carol.open(&room_path(&room)).await;
        carol.click("callButton").await;
        carol.wait_for_call_state("full", STEP_TIMEOUT).await;
        assert_eq!(alice.call_state().await, "connected");
        assert_eq!(bob.call_state().await, "connected");

        // And the restarted server still relays between them: a hang-up reaches the other.
        alice.click("hangupButton").await;
        alice.wait_for_call_state("ended", STEP_TIMEOUT).await;
        bob.wait_for_call_state("ended", STEP_TIMEOUT).await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// A reloaded page
// ---------------------------------------------------------------------------------------------

/// A JavaScript expression: the remote video shows a live video track that was not there when
/// `window.__visavisE2eOldTracks` was taken.
const NEW_REMOTE_VIDEO: &str = "(() => { \
    const s = document.getElementById('remoteVideo').srcObject; \
    const old = window.__visavisE2eOldTracks || []; \
    return !!s && s.getVideoTracks().some((t) => t.readyState === 'live' && !old.includes(t.id)); \
    })()";

/// Reloads `reloaded`'s page mid-call and checks that the call comes back by itself, with new
/// video both ways; returns the time from the reload to both `connected`.
async fn reload_and_rejoin(reloaded: &Person, other: &Person, room: &str) -> Duration {
    // The other page's current remote tracks, to tell the new stream from the old one.
    other
        .execute(
            "const s = document.getElementById('remoteVideo').srcObject;\n\
             window.__visavisE2eOldTracks = s ? s.getTracks().map((t) => t.id) : [];\n\
             return window.__visavisE2eOldTracks.length;",
            vec![],
        )
        .await;
    let started = Instant::now();
    if let Err(error) = reloaded.client().refresh().await {
        panic!("{} could not reload the page: {error}", reloaded.name());
    }
    reloaded
        .wait_until(
            "document.getElementById('callButton') !== null \
             && typeof document.body.dataset.callState === 'string'",
            PAGE_LOAD_TIMEOUT,
            "the app to render after the reload",
        )
        .await;
    let reloaded_ready = state_is("connected");
    let other_ready = format!("{} && {NEW_REMOTE_VIDEO}", state_is("connected"));
    let (reloaded_at, other_at) = tokio::join!(
        wait_timed(
            reloaded,
            &reloaded_ready,
            "the reloaded page to be connected again",
            started,
            CONNECT_TIMEOUT,
        ),
        wait_timed(
            other,
            &other_ready,
            "the other page to be connected with a new remote stream",
            started,
            CONNECT_TIMEOUT,
        ),
    );
    let both = reloaded_at.max(other_at);
    eprintln!(
        "reload of {}: both connected {} ms after the reload ({} {} ms, {} {} ms)",
        reloaded.name(),
        ms(both),
        reloaded.name(),
        ms(reloaded_at),
        other.name(),
        ms(other_at)
    );

    let path = reloaded.execute("return location.pathname;", vec![]).await;
    assert_eq!(
        path,
        json!(room_path(room)),
        "{}'s reloaded page should be in the same room",
        reloaded.name()
    );
    tokio::join!(
        reloaded.wait_for_video_playing("remoteVideo", VIDEO_TIMEOUT),
        other.wait_for_video_playing("remoteVideo", VIDEO_TIMEOUT)
    );
    let live = other
        .execute(&format!("return {NEW_REMOTE_VIDEO};"), vec![])
        .await;
    assert_eq!(
        live,
        json!(true),
        "{}'s remote video should play the new stream from {}'s reloaded page",
        other.name(),
        reloaded.name()
    );
    both
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_page_rejoins_its_call_by_itself() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person("alice").await;
        let bob = ctx.person("bob").await;
        let room = unique_room("reload");
        connect_pair(&alice, &bob, &room).await;

        // The Callee reloads, then the Caller: each role takes its seat back.
        let callee = reload_and_rejoin(&bob, &alice, &room).await;
        let caller = reload_and_rejoin(&alice, &bob, &room).await;
        eprintln!(
            "rejoin after reload: callee {} ms, caller {} ms",
            ms(callee),
            ms(caller)
        );

        // Still one call between them: chat works both ways on the new connections.
        alice.send_chat("after both reloads, from alice").await;
        bob.wait_for_chat_text("after both reloads, from alice")
            .await;
        bob.send_chat("after both reloads, from bob").await;
        alice
            .wait_for_chat_text("after both reloads, from bob")
            .await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Glare
// ---------------------------------------------------------------------------------------------

/// Installs, once per peer connection, a recorder of signaling states with their `Date.now()`
/// (same machine clock in both browsers), and clears the record. Returns the number of open
/// peer connections.
async fn install_signaling_recorder(person: &Person) -> u64 {
    person
        .execute(
            &format!(
                "const pc = {NEWEST_PC};\n\
                 if (!pc) return 0;\n\
                 window.__visavisE2eGlarePc = pc;\n\
                 window.__visavisE2eStates = [];\n\
                 if (!pc.__visavisE2eRecorded) {{\n\
                     pc.__visavisE2eRecorded = true;\n\
                     pc.addEventListener('signalingstatechange', () => {{\n\
                         if (window.__visavisE2eGlarePc === pc) {{\n\
                             window.__visavisE2eStates.push({{ state: pc.signalingState, t: Date.now() }});\n\
                         }}\n\
                     }});\n\
                 }}\n\
                 return (window.__visavisE2ePeerConnections || [])\n\
                     .filter((c) => c.connectionState !== 'closed').length;"
            ),
            vec![],
        )
        .await
        .as_u64()
        .unwrap_or(0)
}

/// Schedules `pc.restartIce()` at `deadline_ms` (`Date.now()` time): a timer shortly before it,
/// then a spin to the exact millisecond, so two browsers fire within a millisecond or two.
async fn schedule_restart_ice(person: &Person, deadline_ms: u64) {
    let scheduled = person
        .execute(
            "const deadline = arguments[0];\n\
             const pc = window.__visavisE2eGlarePc;\n\
             if (!pc) return false;\n\
             window.__visavisE2eFiredAt = null;\n\
             setTimeout(() => {\n\
                 while (Date.now() < deadline) {}\n\
                 window.__visavisE2eFiredAt = Date.now();\n\
                 pc.restartIce();\n\
             }, Math.max(0, deadline - Date.now() - 40));\n\
             return true;",
            vec![json!(deadline_ms)],
        )
        .await;
    assert_eq!(
        scheduled,
        json!(true),
        "{}: no recorded peer connection to restart",
        person.name()
    );
}

/// One recorded signaling state change.
#[derive(Debug, Clone)]
struct StateChange {
    state: String,
    at_ms: u64,
}

/// What the recorder saw since it was installed, and the peer connection's state now.
#[derive(Debug, Clone)]
struct Negotiation {
    changes: Vec<StateChange>,
    state_now: String,
    fired_at: Option<u64>,
}

async fn negotiation(person: &Person) -> Negotiation {
    let value = person
        .execute(
            "const pc = window.__visavisE2eGlarePc;\n\
             return { changes: window.__visavisE2eStates || [],\n\
                      stateNow: pc ? pc.signalingState : null,\n\
                      firedAt: window.__visavisE2eFiredAt ?? null };",
            vec![],
        )
        .await;
    Negotiation {
        changes: value["changes"]
            .as_array()
            .map(|changes| {
                changes
                    .iter()
                    .map(|c| StateChange {
                        state: c["state"].as_str().unwrap_or_default().to_owned(),
                        at_ms: c["t"].as_f64().unwrap_or(0.0) as u64,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        state_now: value["stateNow"].as_str().unwrap_or("<none>").to_owned(),
        fired_at: value["firedAt"].as_u64(),
    }
}

impl Negotiation {
    /// The spans (start, end) this side spent in `have-local-offer`; a span still open ends at
    /// `u64::MAX`.
    fn local_offer_spans(&self) -> Vec<(u64, u64)> {
        let mut spans = Vec::new();
        for (i, change) in self.changes.iter().enumerate() {
            if change.state == "have-local-offer" {
                let end = self.changes.get(i + 1).map_or(u64::MAX, |next| next.at_ms);
                spans.push((change.at_ms, end));
            }
        }
        spans
    }

    fn states(&self) -> Vec<&str> {
        self.changes.iter().map(|c| c.state.as_str()).collect()
    }
}

/// Whether both sides were in `have-local-offer` at the same moment: both offers were in
/// flight at once, each arriving at a side waiting for its own answer.
fn collided(a: &Negotiation, b: &Negotiation) -> bool {
    a.local_offer_spans().iter().any(|&(a_start, a_end)| {
        b.local_offer_spans()
            .iter()
            .any(|&(b_start, b_end)| a_start < b_end && b_start < a_end)
    })
}

/// Waits until both recorded connections are `stable` and have been for a second with no state
/// change (the polite side may renegotiate after giving way); returns both records.
async fn wait_until_settled(
    a: &Person,
    b: &Person,
    timeout: Duration,
) -> (Negotiation, Negotiation) {
    let deadline = Instant::now() + timeout;
    let mut quiet_since: Option<(Instant, usize, usize)> = None;
    loop {
        let (na, nb) = tokio::join!(negotiation(a), negotiation(b));
        let started = na.fired_at.is_some() && nb.fired_at.is_some();
        let stable = na.state_now == "stable" && nb.state_now == "stable";
        let counts = (na.changes.len(), nb.changes.len());
        if started && stable && !na.changes.is_empty() && !nb.changes.is_empty() {
            match quiet_since {
                Some((since, ca, cb)) if (ca, cb) == counts => {
                    if since.elapsed() >= Duration::from_secs(1) {
                        return (na, nb);
                    }
                }
                _ => quiet_since = Some((Instant::now(), counts.0, counts.1)),
            }
        } else {
            quiet_since = None;
        }
        if Instant::now() >= deadline {
            panic!(
                "the renegotiation did not settle in `stable` on both sides within {timeout:?}\n\
                 {}: {na:?}\n{}: {nb:?}\n{}: {}\n{}: {}",
                a.name(),
                b.name(),
                a.name(),
                a.describe().await,
                b.name(),
                b.describe().await
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Both pages call `restartIce()` at the same millisecond, three times over. Each round must
/// end `stable` on both sides, with the call `connected` on the same peer connections, new ICE
/// credentials on both sides (both renegotiations took effect), and video playing both ways.
///
/// Observed with Chromium 156: when the polite side rolls back its own offer (implicitly, in
/// `setRemoteDescription`, or explicitly), its inbound video stream is re-created and the
/// existing remote track never gets a frame again (the `<video>` freezes while `getStats()`
/// shows frames decoded); two bare `RTCPeerConnection`s in one page show the same. visavis
/// therefore lets the impolite side go first: in a connected call the polite Callee waits a
/// moment before offering and drops its offer if the Caller's arrived meanwhile. So this test
/// also checks that the polite side never rolled an offer back; the collision rules themselves
/// are unit-tested in `client-wasm/src/negotiation.rs`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glare_both_sides_renegotiate_at_once_and_end_stable() {
    run_browser_test(|ctx| async move {
        let (alice, bob) = two_watched_people(&ctx).await;
        connect_pair(&alice, &bob, &unique_room("glare")).await;

        for round in 1..=GLARE_ROUNDS {
            for person in [&alice, &bob] {
                let open = install_signaling_recorder(person).await;
                assert_eq!(
                    open,
                    1,
                    "{} should have exactly one open peer connection before round {round}",
                    person.name()
                );
            }
            let ufrags = tokio::join!(local_ufrag(&alice), local_ufrag(&bob));
            let deadline = unix_ms() + 700;
            tokio::join!(
                schedule_restart_ice(&alice, deadline),
                schedule_restart_ice(&bob, deadline)
            );
            let (a, b) = wait_until_settled(&alice, &bob, STEP_TIMEOUT).await;
            eprintln!(
                "glare round {round}: fired at alice {:?} / bob {:?} (deadline {deadline}); \
                 alice {:?}, bob {:?}; offers crossed: {}",
                a.fired_at,
                b.fired_at,
                a.states(),
                b.states(),
                collided(&a, &b)
            );
            for (person, record) in [(&alice, &a), (&bob, &b)] {
                assert!(
                    record.fired_at.is_some(),
                    "{} should have called restartIce(): {record:?}",
                    person.name()
                );
                assert_eq!(record.state_now, "stable", "{}: {record:?}", person.name());
            }
            // The impolite Caller's offer went first and the polite Callee answered it...
            assert!(
                a.states().contains(&"have-local-offer"),
                "alice (the Caller) should have made an offer: {a:?}"
            );
            assert!(
                b.states().contains(&"have-remote-offer"),
                "bob (the Callee) should have answered alice's offer: {b:?}"
            );
            // ...without bob ever rolling an offer of his own back (a local offer followed by a
            // remote one, with or without the `stable` of the rollback in between).
            let bob_states = b.states();
            let rolled_back = bob_states.windows(2).any(|w| {
                w[0] == "have-local-offer" && matches!(w[1], "have-remote-offer" | "stable")
            });
            assert!(
                !rolled_back,
                "bob (polite) rolled back an offer, which freezes his remote video in Chromium: {b:?}"
            );

            // The call carries on over the same peer connections, with new ICE credentials on
            // both sides: both restarts took effect.
            tokio::join!(
                alice.wait_for_call_state("connected", CONNECT_TIMEOUT),
                bob.wait_for_call_state("connected", CONNECT_TIMEOUT)
            );
            tokio::join!(
                wait_for_ice_restart(&alice, &ufrags.0, STEP_TIMEOUT),
                wait_for_ice_restart(&bob, &ufrags.1, STEP_TIMEOUT)
            );
            both_remote_videos_play(&alice, &bob, &format!("after glare round {round}")).await;
            for person in [&alice, &bob] {
                let same = person
                    .execute(
                        &format!("return {NEWEST_PC} === window.__visavisE2eGlarePc;"),
                        vec![],
                    )
                    .await;
                assert_eq!(
                    same,
                    json!(true),
                    "{} should still use the same peer connection after the renegotiation",
                    person.name()
                );
            }
        }
        alice.send_chat("after the glare").await;
        bob.wait_for_chat_text("after the glare").await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// The only media path breaks and comes back
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ice_fails_and_recovers_when_the_turn_relay_returns() {
    require_coturn();
    run_browser_test_with(coturn_setup, |ctx, mut coturn| async move {
        let (alice, bob) = two_watched_people(&ctx).await;
        connect_pair_at(&alice, &bob, &relay_room_path(&unique_room("relayloss"))).await;
        assert_relayed(&alice, &bob).await;
        let ufrags = tokio::join!(local_ufrag(&alice), local_ufrag(&bob));

        cut_the_relay(&mut coturn, &alice, &bob).await;
        // The pages try to restart ICE while the relay is away (after the `disconnected`
        // grace, or at once on `failed`): wait until they have, so the relay comes back to
        // pages that are retrying, not to a first attempt.
        tokio::join!(
            wait_for_ice_restart(&alice, &ufrags.0, RELAY_LOSS_TIMEOUT),
            wait_for_ice_restart(&bob, &ufrags.1, RELAY_LOSS_TIMEOUT)
        );
        for person in [&alice, &bob] {
            assert_eq!(
                person.call_state().await,
                "reconnecting",
                "{} should still be reconnecting while the relay is down",
                person.name()
            );
        }

        let recovery = restore_the_relay(&mut coturn, &alice, &bob).await;
        eprintln!("recovery after relay outage: {} ms", ms(recovery));
        assert_relayed(&alice, &bob).await;
        both_remote_videos_play(&alice, &bob, "after the relay came back").await;
        assert!(
            coturn.allocations().len() >= 2,
            "the restarted coturn should hold both browsers' new allocations: {:?}",
            coturn.allocations()
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Chat across an outage
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_typed_while_the_channel_is_down_arrives_exactly_once() {
    require_coturn();
    run_browser_test_with(coturn_setup, |ctx, mut coturn| async move {
        let (alice, bob) = two_watched_people(&ctx).await;
        connect_pair_at(&alice, &bob, &relay_room_path(&unique_room("chatloss"))).await;
        alice.send_chat("before the outage").await;
        bob.wait_for_chat_text("before the outage").await;

        cut_the_relay(&mut coturn, &alice, &bob).await;
        let texts: Vec<String> = (1..=3)
            .map(|n| format!("typed during the outage #{n}"))
            .collect();
        for (n, text) in texts.iter().enumerate() {
            alice.send_chat(text).await;
            // Shown at once on the sender's side, marked as not delivered yet.
            let own = wait_for_chat_lines(
                &alice,
                &texts,
                |lines| lines.len() == n + 1,
                &format!("{text:?} on the sender's side"),
                STEP_TIMEOUT,
            )
            .await;
            let line = &own[n];
            assert_eq!(line.text, *text);
            assert_eq!(
                line.author.as_deref(),
                Some("you"),
                "alice's own line should be data-author=\"you\": {line:?}"
            );
            assert_eq!(
                line.delivery.as_deref(),
                Some("sending"),
                "alice's line typed while the data path is down should be \
                 data-delivery=\"sending\": {line:?}"
            );
        }
        assert!(
            chat_lines_among(&bob, &texts).await.is_empty(),
            "nothing can reach bob while the only path is down"
        );
        assert_eq!(alice.call_state().await, "reconnecting");

        let recovery = restore_the_relay(&mut coturn, &alice, &bob).await;
        eprintln!(
            "recovery after relay outage (chat test): {} ms",
            ms(recovery)
        );

        // Each of the three arrives, in order; the sender sees them delivered.
        wait_for_chat_lines(
            &bob,
            &texts,
            |lines| lines.len() >= texts.len(),
            "the three messages typed during the outage",
            STEP_TIMEOUT,
        )
        .await;
        wait_for_chat_lines(
            &alice,
            &texts,
            |lines| {
                lines.len() == texts.len()
                    && lines
                        .iter()
                        .all(|line| line.delivery.as_deref() == Some("delivered"))
            },
            "alice's three lines to be data-delivery=\"delivered\"",
            STEP_TIMEOUT,
        )
        .await;

        // One more each way after the recovery; by the time they are in, any duplicate of the
        // earlier three would have arrived too (the channel is ordered).
        alice.send_chat("after the outage, from alice").await;
        bob.wait_for_chat_text("after the outage, from alice").await;
        bob.send_chat("after the outage, from bob").await;
        alice.wait_for_chat_text("after the outage, from bob").await;

        let mut all = texts.clone();
        all.push("after the outage, from alice".to_owned());
        let received = chat_lines_among(&bob, &all).await;
        let received_texts: Vec<&str> = received.iter().map(|line| line.text.as_str()).collect();
        let expected: Vec<&str> = all.iter().map(String::as_str).collect();
        assert_eq!(
            received_texts, expected,
            "bob should show each message exactly once, in order: {received:#?}"
        );
        for line in &received {
            assert_eq!(
                line.author.as_deref(),
                Some("them"),
                "bob's lines from alice should be data-author=\"them\": {line:?}"
            );
        }
        let sent = chat_lines_among(&alice, &all).await;
        assert_eq!(
            sent.len(),
            all.len(),
            "alice should show each of her messages once: {sent:#?}"
        );
        let after = wait_for_chat_lines(
            &alice,
            &all,
            |lines| {
                lines
                    .iter()
                    .all(|line| line.delivery.as_deref() == Some("delivered"))
            },
            "all of alice's lines to be delivered",
            STEP_TIMEOUT,
        )
        .await;
        assert_eq!(after.len(), all.len());
        assert_eq!(
            chat_lines_among(&alice, &["after the outage, from bob".to_owned()])
                .await
                .len(),
            1,
            "alice should show bob's message once"
        );
    })
    .await;
}
