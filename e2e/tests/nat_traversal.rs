//! NAT traversal in real browsers: calls forced through a TURN relay (`?ice=relay`) via the
//! built-in relay and via a real coturn, a normal call staying direct, TURN credentials that the
//! relay refuses (wrong secret, expired), relay-only mode without any relay, a call that cannot
//! connect at all (hinting at TURN and linking `/check`), and the `/check` page's verdict on
//! relay availability.
//!
//! Everything runs on loopback. Both Chromium sessions get real host addresses (no mDNS names),
//! and every relay advertises `127.0.0.1`, so relay candidates are reachable from both browsers.
//!
//! Whether a call really goes through the relay is checked three ways: the page's own
//! `#mediaPath[data-path=relay]`; the test's own `getStats()` reading of the selected candidate
//! pair (through a probe injected before the app loads, see `Person::watch_peer_connections`);
//! and from the relay's side, by finding each browser's relayed address among the UDP sockets
//! the relay process holds. coturn tests need `/usr/bin/turnserver` and panic without it.

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use visavis_e2e::turn::{random_secret, require_coturn, Coturn};
use visavis_e2e::{
    call_between, connect_pair_at, relay_room_path, room_path, run_browser_test_with, unique_room,
    AppOptions, BrowserOptions, Person, SelectedPair, TestContext, STEP_TIMEOUT,
};

/// How long a relay-only call attempt whose relay refuses the credentials may take to end.
const TURN_FAILURE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a call with no possible path may take to end: the client gives up after 40 s.
const NO_PATH_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the `/check` page may take to finish: a TURN server that does not answer is only
/// declared failing once the check has waited for it.
const CHECK_TIMEOUT: Duration = Duration::from_secs(90);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Starts two browsers whose pages get the peer-connection probe.
async fn two_watched_people(ctx: &TestContext) -> (Person, Person) {
    let alice = ctx.person("alice").await;
    let bob = ctx.person("bob").await;
    tokio::join!(alice.watch_peer_connections(), bob.watch_peer_connections());
    (alice, bob)
}

/// What the relay looks like from outside, for checking that a call uses it.
struct RelayUnderTest {
    /// The `turn:` URL browsers were given.
    url: String,
    /// The ports it relays from.
    ports: RangeInclusive<u16>,
}

/// A `turn:` URL without its query: the relay's host and port.
fn relay_address(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

/// The transport a `turn:` URL names (`udp` when it names none, as for browsers).
fn transport_of(url: &str) -> &str {
    url.split_once("?transport=")
        .map_or("udp", |(_, transport)| transport)
}

/// Checks, on both sides of a connected call, that media flows through the relay: the page's
/// `#mediaPath` says `relay`; the test's own `getStats()` reading shows a relay-only peer
/// connection whose selected pair is relay on both ends, on `127.0.0.1` in the relay's port
/// range, from the relay's URL; and `allocations()` (the relay's live sockets, seen from outside
/// the browsers) holds each browser's relayed address. Returns both selected pairs.
async fn assert_call_is_relayed<A>(
    alice: &Person,
    bob: &Person,
    relay: &RelayUnderTest,
    allocations: A,
) -> (SelectedPair, SelectedPair)
where
    A: Fn() -> Vec<SocketAddr>,
{
    tokio::join!(
        alice.wait_for_media_path("relay"),
        bob.wait_for_media_path("relay")
    );
    let (alice_pair, bob_pair) = tokio::join!(
        alice.wait_for_selected_pair(STEP_TIMEOUT),
        bob.wait_for_selected_pair(STEP_TIMEOUT)
    );
    for (person, pair, other_pair) in [
        (alice, &alice_pair, &bob_pair),
        (bob, &bob_pair, &alice_pair),
    ] {
        let who = person.name();
        assert_eq!(
            pair.policy, "relay",
            "{who}'s peer connection should be relay-only with ?ice=relay: {pair:?}"
        );
        assert_eq!(
            pair.local.candidate_type, "relay",
            "{who}'s selected local candidate should be a relay candidate: {pair:?}"
        );
        assert_eq!(
            pair.remote.candidate_type, "relay",
            "{who}'s selected remote candidate should be the other side's relay candidate: {pair:?}"
        );
        assert_eq!(
            pair.local.address, "127.0.0.1",
            "{who}'s relay candidate should carry the relay's advertised address: {pair:?}"
        );
        assert!(
            relay.ports.contains(&pair.local.port),
            "{who}'s relayed port {} should be in the relay's range {:?}: {pair:?}",
            pair.local.port,
            relay.ports
        );
        // The built-in relay is offered over UDP and TCP on one port; on a loaded machine
        // the browser sometimes nominates the TCP relay candidate, whose checks finished
        // first. Either is this relay, reached by the transport its URL names.
        let url = pair.local.url.as_deref().unwrap_or_default();
        assert!(
            pair.ice_server_urls.iter().any(|given| given == url)
                && relay_address(url) == relay_address(&relay.url),
            "{who}'s relay candidate should come from a TURN URL of the relay ({}): {pair:?}",
            relay.url
        );
        assert_eq!(
            pair.local.relay_protocol.as_deref(),
            Some(transport_of(url)),
            "{who} should reach the relay by the transport of the URL it used: {pair:?}"
        );
        assert_eq!(
            (pair.remote.address.as_str(), pair.remote.port),
            (other_pair.local.address.as_str(), other_pair.local.port),
            "{who}'s remote candidate should be the other browser's relayed address"
        );
        assert!(
            pair.bytes_received > 0 && pair.bytes_sent > 0,
            "{who}'s selected pair should carry media both ways: {pair:?}"
        );
    }
    let held = allocations();
    eprintln!("alice's selected pair: {alice_pair:?}\nbob's selected pair: {bob_pair:?}\nrelay sockets: {held:?}");
    for (person, pair) in [(alice, &alice_pair), (bob, &bob_pair)] {
        let relayed = SocketAddr::from(([127, 0, 0, 1], pair.local.port));
        assert!(
            held.contains(&relayed),
            "the relay should hold {}'s relayed address {relayed} as a socket, but it holds {held:?}",
            person.name()
        );
    }
    (alice_pair, bob_pair)
}

/// TURN error codes that mean the relay refused the credentials (what the browser reports in
/// `icecandidateerror`): Bad Request (the built-in relay's answer), Unauthorized, Forbidden,
/// Integrity Check Failure.
const TURN_REFUSALS: [u64; 4] = [400, 401, 403, 431];

/// After both people clicked Call in relay-only mode with credentials the relay refuses: both
/// call attempts end within [`TURN_FAILURE_TIMEOUT`] (no hang). Whoever's browser was refused
/// first gives up and says so in plain words, naming the relay / TURN; the other page then
/// either got its own refusal (and says the same) or was left by the first (and says so).
/// Which of them is refused first is a race, so the test looks at the refusals each browser
/// actually reported (from the probe), and requires at least one. Returns the refusals seen.
async fn assert_both_end_explaining_turn(alice: &Person, bob: &Person) -> Vec<(String, u64)> {
    tokio::join!(
        alice.wait_for_call_state("ended", TURN_FAILURE_TIMEOUT),
        bob.wait_for_call_state("ended", TURN_FAILURE_TIMEOUT)
    );
    let mut refusals = Vec::new();
    for person in [alice, bob] {
        let status = person.status_text().await;
        let lower = status.to_lowercase();
        let refused: Vec<(String, u64, String)> = person
            .ice_errors()
            .await
            .into_iter()
            .filter(|(url, code, _)| url.starts_with("turn:") && TURN_REFUSALS.contains(code))
            .collect();
        eprintln!(
            "{}: status {status:?}; TURN refusals seen by the browser: {refused:?}",
            person.name()
        );
        if refused.is_empty() {
            assert!(
                lower.contains("left"),
                "{}'s browser saw no TURN refusal, so its call should have ended because the \
                 other person gave up, but its status says {status:?}",
                person.name()
            );
        } else {
            assert!(
                lower.contains("turn") || lower.contains("relay"),
                "{}'s browser was refused by the relay ({refused:?}); its status line should \
                 explain that in terms of the relay / TURN, but it says {status:?}",
                person.name()
            );
        }
        refusals.extend(refused.into_iter().map(|(url, code, _)| (url, code)));
    }
    assert!(
        !refusals.is_empty(),
        "at least one browser should have reported the relay's refusal (icecandidateerror)"
    );
    refusals
}

/// The current Unix time in seconds.
fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// coturn logs one line per processed request, naming it: this counts successful allocations.
const COTURN_ALLOCATE_SUCCESS: &str = "ALLOCATE processed, success";

// ---------------------------------------------------------------------------------------------
// Calls through a relay
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_only_call_through_the_builtin_relay_connects_with_video_both_ways() {
    run_browser_test_with(
        || async { Ok((AppOptions::new().builtin_relay(&random_secret())?, ())) },
        |ctx, ()| async move {
            let relay = RelayUnderTest {
                url: ctx
                    .app()
                    .relay_url()
                    .expect("the built-in relay should be running"),
                ports: ctx.app().relay_ports().expect("the relay has a port range"),
            };
            let (alice, bob) = two_watched_people(&ctx).await;
            connect_pair_at(&alice, &bob, &relay_room_path(&unique_room("relay"))).await;

            assert_call_is_relayed(&alice, &bob, &relay, || ctx.app().relay_allocations()).await;
            assert_eq!(alice.call_state().await, "connected");
            assert_eq!(bob.call_state().await, "connected");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_relay_only_mode_a_loopback_call_stays_direct_even_with_a_relay_offered() {
    run_browser_test_with(
        || async { Ok((AppOptions::new().builtin_relay(&random_secret())?, ())) },
        |ctx, ()| async move {
            let (alice, bob) = two_watched_people(&ctx).await;
            connect_pair_at(&alice, &bob, &room_path(&unique_room("direct"))).await;

            tokio::join!(
                alice.wait_for_media_path("direct"),
                bob.wait_for_media_path("direct")
            );
            for person in [&alice, &bob] {
                let pair = person.wait_for_selected_pair(STEP_TIMEOUT).await;
                assert_eq!(pair.policy, "all", "{}: {pair:?}", person.name());
                assert!(
                    !pair.is_relayed(),
                    "{}'s selected pair should be direct when host candidates work: {pair:?}",
                    person.name()
                );
                assert!(
                    pair.ice_server_urls
                        .iter()
                        .any(|url| url.starts_with("turn:")),
                    "{} should still have been offered the relay: {pair:?}",
                    person.name()
                );
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_only_call_through_coturn_connects_with_video_both_ways() {
    require_coturn();
    run_browser_test_with(
        || async {
            let coturn = Coturn::start(&random_secret()).await?;
            let options = AppOptions::new()
                .external_turn(&coturn.turn_url(), coturn.secret())
                .log_source("coturn", coturn.log_handle());
            Ok((options, coturn))
        },
        |ctx, coturn| async move {
            let relay = RelayUnderTest {
                url: coturn.turn_url(),
                ports: coturn.relay_ports(),
            };
            let (alice, bob) = two_watched_people(&ctx).await;
            connect_pair_at(&alice, &bob, &relay_room_path(&unique_room("coturn"))).await;

            assert_call_is_relayed(&alice, &bob, &relay, || coturn.allocations()).await;
            assert!(
                coturn.count_log_lines(COTURN_ALLOCATE_SUCCESS) >= 2,
                "coturn should have logged an allocation for each browser; its log:\n{}",
                coturn.log_text()
            );
        },
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Credentials the relay refuses
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_secret_that_coturn_does_not_share_ends_a_relay_only_call_with_an_explanation() {
    require_coturn();
    run_browser_test_with(
        || async {
            let coturn = Coturn::start(&random_secret()).await?;
            // visavis signs credentials with a different secret than coturn checks them with.
            let options = AppOptions::new()
                .external_turn(&coturn.turn_url(), &random_secret())
                .log_source("coturn", coturn.log_handle());
            Ok((options, coturn))
        },
        |ctx, coturn| async move {
            let (alice, bob) = two_watched_people(&ctx).await;
            let path = relay_room_path(&unique_room("badsecret"));
            tokio::join!(alice.open(&path), bob.open(&path));
            alice.click("callButton").await;
            alice.wait_for_call_state("waiting", STEP_TIMEOUT).await;
            bob.click("callButton").await;

            assert_both_end_explaining_turn(&alice, &bob).await;
            // coturn answers every first, unauthenticated request with 401 (the challenge); the
            // refusal that matters is the one for a request that carried a username.
            coturn
                .wait_for_log_lines(
                    |line| line.contains("error 401") && !line.contains("user <>"),
                    1,
                    "a 401 for a request with a username",
                    STEP_TIMEOUT,
                )
                .await;
            assert_eq!(
                coturn.count_log_lines(COTURN_ALLOCATE_SUCCESS),
                0,
                "coturn must not have granted an allocation to credentials signed with another \
                 secret; its log:\n{}",
                coturn.log_text()
            );
            assert!(
                coturn.allocations().is_empty(),
                "coturn should hold no relay sockets: {:?}",
                coturn.allocations()
            );
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_turn_credentials_end_a_relay_only_call_with_an_explanation() {
    // The server cannot be made to hand out expired credentials (`--turn-ttl` is at least 60 s
    // and pages get fresh ones before expiry), so the test mints them itself with the app's own
    // credential function and the shared secret, and has the page use them instead of the
    // app's. A control call with credentials minted the same way but still valid must connect,
    // so the refusal can only be down to the expiry.
    let secret = random_secret();
    let app_secret = secret.clone();
    run_browser_test_with(
        || async move { Ok((AppOptions::new().builtin_relay(&app_secret)?, ())) },
        move |ctx, ()| async move {
            let relay = RelayUnderTest {
                url: ctx
                    .app()
                    .relay_url()
                    .expect("the built-in relay should be running"),
                ports: ctx.app().relay_ports().expect("the relay has a port range"),
            };
            let (alice, bob) = two_watched_people(&ctx).await;

            // Expired an hour ago, correctly signed.
            let path = relay_room_path(&unique_room("expired"));
            tokio::join!(alice.open(&path), bob.open(&path));
            let expired = visavis::turn::credentials::issue(
                secret.as_bytes(),
                now_unix() - 7_200,
                Duration::from_secs(3_600),
                "e2e-expired",
            );
            for person in [&alice, &bob] {
                person
                    .override_turn_credentials(&expired.username, &expired.credential)
                    .await;
            }
            alice.click("callButton").await;
            alice.wait_for_call_state("waiting", STEP_TIMEOUT).await;
            bob.click("callButton").await;
            let refusals = assert_both_end_explaining_turn(&alice, &bob).await;
            let relay_url = relay.url.clone();
            assert!(
                refusals.iter().all(|(url, _)| *url == relay_url),
                "the refusals should come from the built-in relay {relay_url}: {refusals:?}"
            );
            assert!(
                ctx.app().relay_allocations().is_empty(),
                "the relay must not allocate for expired credentials: {:?}",
                ctx.app().relay_allocations()
            );

            // The control: valid for another hour, minted the same way, in fresh pages.
            let path = relay_room_path(&unique_room("unexpired"));
            tokio::join!(alice.open(&path), bob.open(&path));
            let valid = visavis::turn::credentials::issue(
                secret.as_bytes(),
                now_unix(),
                Duration::from_secs(3_600),
                "e2e-valid",
            );
            for person in [&alice, &bob] {
                person
                    .override_turn_credentials(&valid.username, &valid.credential)
                    .await;
            }
            call_between(&alice, &bob).await;
            tokio::join!(alice.remote_video_playing(), bob.remote_video_playing());
            assert_call_is_relayed(&alice, &bob, &relay, || ctx.app().relay_allocations()).await;
        },
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// The /check page
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_check_page_finds_the_builtin_relay_and_the_fake_camera_and_microphone() {
    run_browser_test_with(
        || async { Ok((AppOptions::new().builtin_relay(&random_secret())?, ())) },
        |ctx, ()| async move {
            let carol = ctx.person("carol").await;
            carol.open_check().await;
            let rows = carol.wait_for_check_done(CHECK_TIMEOUT).await;
            eprintln!("/check: {rows:#?}");
            for (row, expected) in [
                ("checkRelay", "ok"),
                ("checkCamera", "ok"),
                ("checkMicrophone", "ok"),
                ("checkHost", "ok"),
                // The app runs with `--stun ''`: there is no STUN server to test.
                ("checkSrflx", "skipped"),
            ] {
                assert_eq!(
                    rows.result(row),
                    expected,
                    "#{row} after the check finished; all rows: {rows:#?}"
                );
            }
            for row in &rows.0 {
                assert_ne!(
                    row.result, "pending",
                    "#{} is still pending although the check says it is done: {rows:#?}",
                    row.id
                );
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_check_page_reports_a_turn_server_that_stopped_as_failing() {
    require_coturn();
    run_browser_test_with(
        || async {
            let coturn = Coturn::start(&random_secret()).await?;
            let options = AppOptions::new()
                .external_turn(&coturn.turn_url(), coturn.secret())
                .log_source("coturn", coturn.log_handle());
            Ok((options, coturn))
        },
        |ctx, mut coturn| async move {
            let carol = ctx.person("carol").await;

            // While coturn runs, the same configuration checks out.
            carol.open_check().await;
            let rows = carol.wait_for_check_done(CHECK_TIMEOUT).await;
            eprintln!("/check: {rows:#?}");
            assert_eq!(
                rows.result("checkRelay"),
                "ok",
                "#checkRelay with coturn running; all rows: {rows:#?}"
            );

            // Then coturn stops, and a fresh check must say the relay fails.
            coturn.stop().await;
            carol.open_check().await;
            let rows = carol.wait_for_check_done(CHECK_TIMEOUT).await;
            eprintln!("/check: {rows:#?}");
            assert_eq!(
                rows.result("checkRelay"),
                "fail",
                "#checkRelay with coturn stopped; all rows: {rows:#?}"
            );
            assert_eq!(
                rows.result("checkCamera"),
                "ok",
                "the camera does not depend on TURN; all rows: {rows:#?}"
            );
        },
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Failures without a usable relay
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_only_call_on_a_server_without_turn_ends_saying_no_relay_is_offered() {
    run_browser_test_with(
        || async { Ok((AppOptions::new(), ())) },
        |ctx, ()| async move {
            let (alice, bob) = two_watched_people(&ctx).await;
            let path = relay_room_path(&unique_room("noturn"));
            tokio::join!(alice.open(&path), bob.open(&path));
            alice.click("callButton").await;
            alice.wait_for_call_state("waiting", STEP_TIMEOUT).await;
            bob.click("callButton").await;
            tokio::join!(
                alice.wait_for_call_state("ended", TURN_FAILURE_TIMEOUT),
                bob.wait_for_call_state("ended", TURN_FAILURE_TIMEOUT)
            );
            let mut explained = 0;
            for person in [&alice, &bob] {
                let status = person.status_text().await;
                eprintln!("{}: status {status:?}", person.name());
                let lower = status.to_lowercase();
                if lower.contains("turn") || lower.contains("relay") {
                    explained += 1;
                } else {
                    assert!(
                        lower.contains("left"),
                        "{}'s call should end explaining the missing relay, or because the \
                         other person gave up, but its status says {status:?}",
                        person.name()
                    );
                }
            }
            assert!(
                explained >= 1,
                "at least the page that gave up should explain that no relay is offered"
            );
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_direct_call_without_relay_candidates_suggests_turn_and_links_the_check() {
    run_browser_test_with(
        || async { Ok((AppOptions::new(), ())) },
        |ctx, ()| async move {
            // Browsers that may not use UDP except through a proxy, and have no proxy, gather
            // no candidates at all: the connection cannot be made directly, as between two
            // strict NATs.
            let no_udp = BrowserOptions {
                args: Vec::new(),
                prefs: Some(serde_json::json!({
                    "webrtc": { "ip_handling_policy": "disable_non_proxied_udp" }
                })),
            };
            let alice = ctx.person_with_browser("alice", &no_udp).await;
            let bob = ctx.person_with_browser("bob", &no_udp).await;
            let path = room_path(&unique_room("blocked"));
            tokio::join!(alice.open(&path), bob.open(&path));
            alice.click("callButton").await;
            alice.wait_for_call_state("waiting", STEP_TIMEOUT).await;
            bob.click("callButton").await;
            // Without candidates the browser never reports `failed`; the page gives up on its
            // own after its connect limit (40 s in the client).
            tokio::join!(
                alice.wait_for_call_state("ended", NO_PATH_TIMEOUT),
                bob.wait_for_call_state("ended", NO_PATH_TIMEOUT)
            );
            let mut hinted = Vec::new();
            for person in [&alice, &bob] {
                let status = person.status_text().await;
                let link = person
                    .execute(
                        "const a = document.getElementById('checkLink');\n\
                         return a ? new URL(a.href).pathname : null;",
                        vec![],
                    )
                    .await;
                eprintln!("{}: status {status:?}; #checkLink {link}", person.name());
                if status.to_lowercase().contains("left") {
                    continue;
                }
                assert!(
                    status.contains("TURN"),
                    "{}'s failed call should suggest a TURN server, but its status says \
                     {status:?}",
                    person.name()
                );
                assert_eq!(
                    link,
                    serde_json::json!("/check"),
                    "{}'s status should link the connectivity check (#checkLink)",
                    person.name()
                );
                hinted.push(person);
            }
            let Some(person) = hinted.first() else {
                panic!("neither page explained the failure (both say the other left)");
            };
            // The link leads to the check page.
            person.click("checkLink").await;
            person
                .wait_until(
                    "location.pathname === '/check' \
                     && document.getElementById('checkRelay') !== null",
                    STEP_TIMEOUT,
                    "the check page after following #checkLink",
                )
                .await;
        },
    )
    .await;
}
