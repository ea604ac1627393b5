//! Calls through firewalls that block UDP: real Chromium sessions that cannot send UDP at all
//! (`disable_non_proxied_udp` without a proxy) call each other in relay-only mode (`?ice=relay`)
//! through a TURN relay over TCP, then over TLS: the built-in relay and a real coturn.
//!
//! Each call must connect with video both ways and chat; the test's own `getStats()` reading of
//! the selected pair must show a local relay candidate whose `relayProtocol` is `tcp` (or
//! `tls`) and whose URL is the relay's TCP (or TLS) URL; and the relay itself must have carried
//! the call: the built-in relay's metrics count allocations and relayed bytes per transport,
//! and coturn's log and sockets show its allocations. With the built-in relay, each page's
//! statistics panel must name the transport, and both call reports must count it in the app's
//! `visavis_relay_transports_total`.
//!
//! The `/check` page, with UDP blocked and without, must find which ways into the built-in
//! relay work, each tried on its own, and say what that means.
//!
//! For TLS, the pages keep only the `turns:` URL (as a network that lets only TLS through
//! would leave them), since a browser that can reach a relay over TCP prefers that.

use std::time::Duration;

use visavis_e2e::turn::{random_secret, require_coturn, Coturn};
use visavis_e2e::turn_transports::{
    app_metrics, keep_only_ice_urls, metric, no_udp_browser, test_certificate, METRICS_TOKEN,
    TLS_HOST,
};
use visavis_e2e::{
    connect_pair_at, relay_room_path, run_browser_test_with, unique_room, AppOptions,
    BrowserOptions, Person, SelectedPair, TestContext, STEP_TIMEOUT,
};

/// How long the relay may take to count what it relayed (metrics are updated as packets pass,
/// so this only covers the poll).
const METRICS_WAIT: Duration = Duration::from_secs(20);

/// Relayed bytes that prove a video call went through (a few seconds of video both ways are
/// far more).
const MIN_RELAYED_BYTES: f64 = 100_000.0;

/// coturn logs one line per processed request, naming it: this counts successful allocations.
const COTURN_ALLOCATE_SUCCESS: &str = "ALLOCATE processed, success";

/// Two people whose browsers cannot send UDP, with the peer-connection probe, and (for TLS)
/// only the `turns:` URLs left in their pages.
async fn two_people_without_udp(ctx: &TestContext, only_tls: bool) -> (Person, Person) {
    let options = no_udp_browser();
    let alice = ctx.person_with_browser("alice", &options).await;
    let bob = ctx.person_with_browser("bob", &options).await;
    for person in [&alice, &bob] {
        person.watch_peer_connections().await;
        if only_tls {
            keep_only_ice_urls(person, "^turns:").await;
        }
    }
    (alice, bob)
}

/// A relay-only call between them that connects with video both ways; then chat both ways.
async fn call_and_chat(alice: &Person, bob: &Person, prefix: &str) {
    connect_pair_at(alice, bob, &relay_room_path(&unique_room(prefix))).await;
    tokio::join!(alice.local_video_showing(), bob.local_video_showing());
    alice.send_chat("hello over the relay").await;
    bob.wait_for_chat_text("hello over the relay").await;
    bob.send_chat("and back again").await;
    alice.wait_for_chat_text("and back again").await;
}

/// Both selected pairs are relay candidates on both ends, reached over `relay_protocol`
/// (`tcp` or `tls`) from a URL starting with `url_prefix`, carrying media both ways.
async fn assert_relayed_over(
    alice: &Person,
    bob: &Person,
    relay_protocol: &str,
    url_prefix: &str,
) -> (SelectedPair, SelectedPair) {
    let (alice_pair, bob_pair) = tokio::join!(
        alice.wait_for_selected_pair(STEP_TIMEOUT),
        bob.wait_for_selected_pair(STEP_TIMEOUT)
    );
    for (person, pair) in [(alice, &alice_pair), (bob, &bob_pair)] {
        let who = person.name();
        eprintln!("{who}'s selected pair: {pair:?}");
        assert_eq!(pair.policy, "relay", "{who}: {pair:?}");
        assert_eq!(
            pair.local.candidate_type, "relay",
            "{who}'s selected local candidate should be a relay candidate: {pair:?}"
        );
        assert_eq!(
            pair.remote.candidate_type, "relay",
            "{who}'s remote candidate should be the other side's relay candidate: {pair:?}"
        );
        assert_eq!(
            pair.local.relay_protocol.as_deref(),
            Some(relay_protocol),
            "{who} should reach the relay over {relay_protocol}: {pair:?}"
        );
        assert!(
            pair.local
                .url
                .as_deref()
                .is_some_and(|url| url.starts_with(url_prefix)),
            "{who}'s relay candidate should come from a {url_prefix}… URL: {pair:?}"
        );
        assert!(
            pair.bytes_received > 0 && pair.bytes_sent > 0,
            "{who}'s selected pair should carry media both ways: {pair:?}"
        );
        assert!(
            !pair
                .ice_server_urls
                .iter()
                .any(|url| url.starts_with("stun:")),
            "{who} should have had no STUN server: {pair:?}"
        );
    }
    (alice_pair, bob_pair)
}

/// Polls the app's metrics until the built-in relay reports, for `transport`, at least two
/// allocations (one per browser) and [`MIN_RELAYED_BYTES`]; and none over UDP.
async fn assert_builtin_relay_carried(ctx: &TestContext, transport: &str) {
    let allocations = format!("visavis_turn_allocations_total{{transport=\"{transport}\"}}");
    let bytes = format!("visavis_turn_relayed_bytes_total{{transport=\"{transport}\"}}");
    let deadline = tokio::time::Instant::now() + METRICS_WAIT;
    loop {
        let text = app_metrics(ctx.app().port())
            .await
            .expect("the app serves its metrics");
        let (granted, relayed) = (metric(&text, &allocations), metric(&text, &bytes));
        let over_udp = metric(&text, "visavis_turn_allocations_total{transport=\"udp\"}");
        if granted >= 2.0 && relayed >= MIN_RELAYED_BYTES {
            eprintln!("the relay says: {allocations} {granted}, {bytes} {relayed}");
            assert_eq!(
                over_udp, 0.0,
                "browsers without UDP must not have allocated over UDP"
            );
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!(
                "the built-in relay should have counted two {transport} allocations and \
                 {MIN_RELAYED_BYTES} relayed bytes, but says {granted} and {relayed}; metrics:\n{text}"
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Opens `person`'s statistics panel and waits until it says the relay is reached over
/// `relay_protocol` (`tcp` or `tls`): the value the page publishes and the words it shows.
async fn assert_stats_panel_shows(person: &Person, relay_protocol: &str, words: &str) {
    person.click("statsButton").await;
    let script = format!(
        "(() => {{\n\
             const e = document.getElementById('statRelayTransport');\n\
             return e !== null && e.dataset.value === {value}\n\
                 && !e.parentElement.hidden && e.textContent.trim() === {words}\n\
                 && !document.getElementById('statsPanel').hidden;\n\
         }})()",
        value = serde_json::json!(relay_protocol),
        words = serde_json::json!(words),
    );
    person
        .wait_until(
            &script,
            STEP_TIMEOUT,
            &format!("#statRelayTransport to show {words} ({relay_protocol})"),
        )
        .await;
}

/// Polls the app's metrics until both browsers' call reports counted a relayed call over
/// `transport` (`visavis_relay_transports_total`), and none over another transport.
async fn assert_reports_counted(ctx: &TestContext, transport: &str) {
    let series = |t: &str| format!("visavis_relay_transports_total{{transport=\"{t}\"}}");
    let deadline = tokio::time::Instant::now() + METRICS_WAIT;
    loop {
        let text = app_metrics(ctx.app().port())
            .await
            .expect("the app serves its metrics");
        let counted = metric(&text, &series(transport));
        if counted >= 2.0 {
            eprintln!("the reports say: {} {counted}", series(transport));
            for other in ["udp", "tcp", "tls"]
                .into_iter()
                .filter(|t| *t != transport)
            {
                assert_eq!(
                    metric(&text, &series(other)),
                    0.0,
                    "no call report should name {other}; metrics:\n{text}"
                );
            }
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!(
                "both call reports should have counted {}, but it is {counted}; metrics:\n{text}",
                series(transport)
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The app with the built-in relay (UDP and TCP on one port; plus TLS when `tls`) and metrics.
fn builtin_relay_app(tls: bool) -> anyhow::Result<AppOptions> {
    let mut options = AppOptions::new()
        .builtin_relay(&random_secret())?
        .flag("--metrics-token", METRICS_TOKEN);
    if tls {
        // The certificate is the one generated in the data directory (for localhost); the
        // URLs name localhost so the browser checks it against that name.
        options = options
            .flag("--turn-tls-listen", "127.0.0.1:0")
            .flag("--turn-host", TLS_HOST);
    }
    Ok(options)
}

// ---------------------------------------------------------------------------------------------
// The built-in relay
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_udp_blocked_a_call_goes_through_the_builtin_relay_over_tcp() {
    run_browser_test_with(
        || async { Ok((builtin_relay_app(false)?, ())) },
        |ctx, ()| async move {
            let (alice, bob) = two_people_without_udp(&ctx, false).await;
            call_and_chat(&alice, &bob, "tcp").await;
            assert_relayed_over(&alice, &bob, "tcp", "turn:127.0.0.1:").await;
            assert_builtin_relay_carried(&ctx, "tcp").await;
            tokio::join!(
                assert_stats_panel_shows(&alice, "tcp", "TCP"),
                assert_stats_panel_shows(&bob, "tcp", "TCP")
            );
            assert_reports_counted(&ctx, "tcp").await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_only_tls_getting_through_a_call_goes_through_the_builtin_relay_over_tls() {
    run_browser_test_with(
        || async { Ok((builtin_relay_app(true)?, ())) },
        |ctx, ()| async move {
            let (alice, bob) = two_people_without_udp(&ctx, true).await;
            call_and_chat(&alice, &bob, "tls").await;
            assert_relayed_over(&alice, &bob, "tls", &format!("turns:{TLS_HOST}:")).await;
            assert_builtin_relay_carried(&ctx, "tls").await;
            tokio::join!(
                assert_stats_panel_shows(&alice, "tls", "TLS (over TCP)"),
                assert_stats_panel_shows(&bob, "tls", "TLS (over TCP)")
            );
            assert_reports_counted(&ctx, "tls").await;
        },
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// /check: each way into the built-in relay, tried on its own
// ---------------------------------------------------------------------------------------------

/// How long the `/check` page may take: a transport that gets no answer is declared failing
/// only once the check has waited for it.
const CHECK_TIMEOUT: Duration = Duration::from_secs(90);

/// Opens `/check`, waits for it to finish, and checks the three transport rows against
/// `expected` (UDP, TCP, TLS) and the sentence against `summary`.
async fn check_transports(person: &Person, expected: [&str; 3], summary: &str) {
    person.open_check().await;
    let rows = person.wait_for_check_done(CHECK_TIMEOUT).await;
    eprintln!("/check: {rows:#?}");
    for (row, result) in ["checkTurnUdp", "checkTurnTcp", "checkTurnTls"]
        .into_iter()
        .zip(expected)
    {
        assert_eq!(
            rows.result(row),
            result,
            "#{row} after the check finished; all rows: {rows:#?}"
        );
    }
    assert_eq!(
        rows.result("checkRelay"),
        "ok",
        "the relay row tries every URL at once; all rows: {rows:#?}"
    );
    assert_eq!(
        person.check_turn_summary().await.as_deref(),
        Some(summary),
        "#checkTurnSummary; all rows: {rows:#?}"
    );
}

/// The built-in relay granted at least one allocation over each of `used` and none over
/// `unused`, by its own count.
async fn assert_relay_allocated(ctx: &TestContext, used: &[&str], unused: &[&str]) {
    let text = app_metrics(ctx.app().port())
        .await
        .expect("the app serves its metrics");
    let allocations = |t: &str| {
        metric(
            &text,
            &format!("visavis_turn_allocations_total{{transport=\"{t}\"}}"),
        )
    };
    for transport in used {
        assert!(
            allocations(transport) >= 1.0,
            "the relay should have allocated over {transport}; metrics:\n{text}"
        );
    }
    for transport in unused {
        assert_eq!(
            allocations(transport),
            0.0,
            "the relay should have allocated nothing over {transport}; metrics:\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_udp_blocked_the_check_page_says_so_and_finds_tcp_and_tls() {
    run_browser_test_with(
        || async { Ok((builtin_relay_app(true)?, ())) },
        |ctx, ()| async move {
            let carol = ctx.person_with_browser("carol", &no_udp_browser()).await;
            check_transports(
                &carol,
                ["fail", "ok", "ok"],
                "UDP is blocked on your network; calls will go through the relay over TCP \
                 (TLS works too).",
            )
            .await;
            assert_relay_allocated(&ctx, &["tcp", "tls"], &["udp"]).await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_nothing_blocked_the_check_page_finds_every_way_into_the_relay() {
    run_browser_test_with(
        || async { Ok((builtin_relay_app(true)?, ())) },
        |ctx, ()| async move {
            // UDP allowed; only the test certificate of the TLS relay has to be accepted.
            let options = BrowserOptions {
                args: vec!["--ignore-certificate-errors".to_owned()],
                prefs: None,
            };
            let carol = ctx.person_with_browser("carol", &options).await;
            check_transports(
                &carol,
                ["ok", "ok", "ok"],
                "All ways through the relay work: UDP, TCP and TLS.",
            )
            .await;
            assert_relay_allocated(&ctx, &["udp", "tcp", "tls"], &[]).await;
        },
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// coturn: the advertised URLs and credentials work with a relay no one here wrote
// ---------------------------------------------------------------------------------------------

/// coturn's log shows an allocation for each browser, and it holds each browser's relayed
/// address as a socket.
fn assert_coturn_carried(coturn: &Coturn, pairs: &(SelectedPair, SelectedPair)) {
    assert!(
        coturn.count_log_lines(COTURN_ALLOCATE_SUCCESS) >= 2,
        "coturn should have logged an allocation for each browser; its log:\n{}",
        coturn.log_text()
    );
    let held = coturn.allocations();
    for pair in [&pairs.0, &pairs.1] {
        assert!(
            held.iter().any(|addr| addr.port() == pair.local.port),
            "coturn should hold the relayed port {} as a socket, but holds {held:?}",
            pair.local.port
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_udp_blocked_a_call_goes_through_coturn_over_tcp() {
    require_coturn();
    run_browser_test_with(
        || async {
            let coturn = Coturn::start(&random_secret()).await?;
            let options = AppOptions::new()
                .external_turn(&coturn.turn_tcp_url(), coturn.secret())
                .log_source("coturn", coturn.log_handle());
            Ok((options, coturn))
        },
        |ctx, coturn| async move {
            let (alice, bob) = two_people_without_udp(&ctx, false).await;
            call_and_chat(&alice, &bob, "coturntcp").await;
            let pairs = assert_relayed_over(&alice, &bob, "tcp", &coturn.turn_tcp_url()).await;
            assert_coturn_carried(&coturn, &pairs);
            assert_stats_panel_shows(&alice, "tcp", "TCP").await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_udp_blocked_a_call_goes_through_coturn_over_tls() {
    require_coturn();
    run_browser_test_with(
        || async {
            let cert = test_certificate()?;
            let coturn =
                Coturn::start_with_tls(&random_secret(), &cert.cert_pem, &cert.key_pem).await?;
            let url = coturn
                .turns_url(TLS_HOST)
                .expect("coturn was started with TLS");
            let options = AppOptions::new()
                .external_turn(&url, coturn.secret())
                .log_source("coturn", coturn.log_handle());
            Ok((options, coturn))
        },
        |ctx, coturn| async move {
            let url = coturn.turns_url(TLS_HOST).expect("coturn serves TLS");
            let (alice, bob) = two_people_without_udp(&ctx, false).await;
            call_and_chat(&alice, &bob, "coturntls").await;
            let pairs = assert_relayed_over(&alice, &bob, "tls", &url).await;
            assert_coturn_carried(&coturn, &pairs);
            assert_stats_panel_shows(&alice, "tls", "TLS (over TCP)").await;
        },
    )
    .await;
}
