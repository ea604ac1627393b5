//! The call statistics panel and the chat's links and unread badge, in real calls between two
//! headless Chromium sessions against the real server.
//!
//! The statistics panel is checked against what the call really does: a loopback call sends
//! over host candidates (cross-checked with the test's own `getStats()` reading), moves video
//! (non-zero bitrate, a picture size), and its plots gain a sample every second. The chat must
//! link `https://` addresses safely and leave anything else as text, and a collapsed chat counts
//! the other person's messages until it is expanded again.
//!
//! Each test starts its own app, WebDriver server and browsers; the harness runs them one at a
//! time within this binary.

use serde_json::{json, Value};
use visavis_e2e::{
    call_between, connect_pair, room_path, run_browser_test, unique_room, BrowserOptions, Person,
    CONNECT_TIMEOUT, STEP_TIMEOUT,
};

/// What the page's placeholder for a missing value is.
const NO_VALUE: &str = "—";

/// A phone-sized window (CSS pixels), narrower than the width below which the chat starts
/// collapsed.
const PHONE_WINDOW: &str = "--window-size=390,844";

/// Reads the statistics fields of `person`'s panel: each field's text and data attributes.
async fn stats_fields(person: &Person) -> Value {
    person
        .execute(
            "const field = (id) => {\n\
                 const e = document.getElementById(id);\n\
                 return e ? { text: e.textContent.trim(), ...e.dataset } : null;\n\
             };\n\
             const ids = ['statCodec', 'statResolution', 'statFramerate', 'statSendBitrate',\n\
                          'statReceiveBitrate', 'statRtt', 'statLoss', 'statJitter',\n\
                          'statCandidates', 'statSetupTime'];\n\
             return Object.fromEntries(ids.map((id) => [id, field(id)]));",
            vec![],
        )
        .await
}

/// The `data-samples` of a plot and how many points its polylines hold, as `(samples, points)`.
async fn plot_size(person: &Person, id: &str) -> (u64, u64) {
    let value = person
        .execute(
            "const plot = document.getElementById(arguments[0]);\n\
             if (!plot) return null;\n\
             const points = [...plot.querySelectorAll('polyline')]\n\
                 .map((line) => (line.getAttribute('points') || '').trim())\n\
                 .filter((points) => points.length > 0)\n\
                 .reduce((sum, points) => sum + points.split(/\\s+/).length, 0);\n\
             return { samples: Number(plot.dataset.samples), points };",
            vec![json!(id)],
        )
        .await;
    assert!(
        !value.is_null(),
        "{} has no #{id} plot in the statistics panel",
        person.name()
    );
    (
        value["samples"].as_u64().unwrap_or(0),
        value["points"].as_u64().unwrap_or(0),
    )
}

/// Whether the element `id` is shown: present and not `hidden`.
fn shown(id: &str) -> String {
    format!("(document.getElementById('{id}') !== null && !document.getElementById('{id}').hidden)")
}

/// A JavaScript expression: the disclosure button `id`'s `aria-expanded` is `expanded`.
fn expanded(id: &str, expanded: bool) -> String {
    format!(
        "(document.getElementById('{id}') !== null \
         && document.getElementById('{id}').getAttribute('aria-expanded') === '{expanded}')"
    )
}

/// Waits until `person`'s chat panel is collapsed (`collapsed`) or expanded, with the log and
/// the input hidden or shown to match.
async fn wait_chat_collapsed(person: &Person, collapsed: bool) {
    let log_shown = shown("dataChannelOutput");
    let input_shown = shown("chatForm");
    let state = if collapsed {
        format!("!{log_shown} && !{input_shown}")
    } else {
        format!("{log_shown} && {input_shown}")
    };
    person
        .wait_until(
            &format!("{} && {state}", expanded("chatToggle", !collapsed)),
            STEP_TIMEOUT,
            &format!(
                "the chat to be collapsed={collapsed} (#chatToggle aria-expanded and the log)"
            ),
        )
        .await;
}

/// Waits until `person`'s unread badge shows `count` (hidden for 0).
async fn wait_unread(person: &Person, count: u32) {
    let condition = if count == 0 {
        "document.getElementById('chatUnread') !== null \
         && document.getElementById('chatUnread').hidden"
            .to_owned()
    } else {
        format!(
            "{} && document.getElementById('chatUnread').textContent.trim() === '{count}'",
            shown("chatUnread")
        )
    };
    person
        .wait_until(
            &condition,
            STEP_TIMEOUT,
            &format!("#chatUnread to show {count}"),
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_statistics_panel_shows_the_live_call_and_its_plots_grow() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person("alice").await;
        let bob = ctx.person("bob").await;
        // Alice's page is watched, so the test can read the candidate pair itself.
        alice.watch_peer_connections().await;
        connect_pair(&alice, &bob, &unique_room("stats")).await;

        alice
            .wait_until(
                &format!(
                    "{} && !{}",
                    expanded("statsButton", false),
                    shown("statsPanel")
                ),
                STEP_TIMEOUT,
                "the statistics panel to start closed",
            )
            .await;
        alice.click("statsButton").await;
        alice
            .wait_until(
                &format!(
                    "{} && {}",
                    expanded("statsButton", true),
                    shown("statsPanel")
                ),
                STEP_TIMEOUT,
                "#statsButton to open #statsPanel",
            )
            .await;

        // Every field fills in once two readings a second apart have been compared.
        let ready = "(() => {\n\
             const d = (id) => document.getElementById(id).dataset;\n\
             const size = /^[0-9]+×[0-9]+$/;\n\
             return d('statCodec').receive && d('statCodec').receive !== '—'\n\
                 && d('statCodec').send && d('statCodec').send !== '—'\n\
                 && size.test(d('statResolution').receive || '')\n\
                 && size.test(d('statResolution').send || '')\n\
                 && Number(d('statReceiveBitrate').value) > 0\n\
                 && Number(d('statSendBitrate').value) > 0\n\
                 && d('statRtt').value !== undefined\n\
                 && d('statLoss').value !== undefined\n\
                 && d('statJitter').value !== undefined\n\
                 && d('statCandidates').local && d('statCandidates').remote\n\
                 && Number(d('statSetupTime').value) > 0;\n\
         })()";
        alice
            .wait_until(
                ready,
                STEP_TIMEOUT,
                "every statistics field to have a value",
            )
            .await;

        let fields = stats_fields(&alice).await;
        let text = |id: &str| fields[id]["text"].as_str().unwrap_or_default().to_owned();
        let data = |id: &str, key: &str| fields[id][key].as_str().unwrap_or_default().to_owned();
        let number = |id: &str| data(id, "value").parse::<f64>().unwrap_or(f64::NAN);

        // The codec is a real codec name, shown in the panel's own text too.
        let codec = data("statCodec", "receive");
        assert!(
            ["VP8", "VP9", "H264", "AV1"]
                .iter()
                .any(|name| codec.contains(name)),
            "the received codecs should name a video codec: {codec:?} ({fields})"
        );
        assert!(text("statCodec").contains(&codec), "{fields}");
        assert!(
            text("statResolution").contains(&data("statResolution", "receive")),
            "{fields}"
        );
        assert!(
            !text("statReceiveBitrate").contains(NO_VALUE)
                && text("statReceiveBitrate").contains("bit/s"),
            "the receive bitrate should be shown: {fields}"
        );
        let rtt = number("statRtt");
        assert!(
            (0.0..1000.0).contains(&rtt),
            "a loopback round trip should take well under a second: {rtt} ({fields})"
        );
        let loss = number("statLoss");
        assert!(
            (0.0..=100.0).contains(&loss),
            "packet loss is a percentage: {loss}"
        );
        assert!(number("statJitter") >= 0.0, "{fields}");
        let setup = number("statSetupTime");
        assert!(
            setup > 0.0 && setup < CONNECT_TIMEOUT.as_millis() as f64,
            "the set-up time should be positive and within the connect timeout: {setup} \
             ({fields})"
        );

        // A call between two browsers on one machine goes over host candidates, and the page
        // names the same pair as the browser's own statistics.
        let pair = alice.wait_for_selected_pair(STEP_TIMEOUT).await;
        assert_eq!(
            (
                data("statCandidates", "local"),
                data("statCandidates", "remote")
            ),
            ("host".to_owned(), "host".to_owned()),
            "the candidate types on the page ({fields})"
        );
        assert_eq!(
            (
                pair.local.candidate_type.as_str(),
                pair.remote.candidate_type.as_str()
            ),
            ("host", "host"),
            "the selected pair read by the test: {pair:?}"
        );
        assert!(text("statCandidates").contains("host"), "{fields}");
        // No relay on this path, so no relay transport is named (and its line is hidden).
        let relay_line_hidden = alice
            .execute(
                "const e = document.getElementById('statRelayTransport');\n\
                 return e !== null && e.dataset.value === undefined && e.parentElement.hidden;",
                vec![],
            )
            .await;
        assert_eq!(
            relay_line_hidden,
            json!(true),
            "#statRelayTransport on a direct path ({fields})"
        );

        // The plots gain a sample every second, and their lines a point.
        let (bitrate_before, bitrate_points_before) = plot_size(&alice, "bitratePlot").await;
        let (rtt_before, _) = plot_size(&alice, "rttPlot").await;
        assert!(
            bitrate_before >= 2 && bitrate_points_before >= 1,
            "after two readings the bitrate plot should hold samples and points: \
             {bitrate_before} samples, {bitrate_points_before} points"
        );
        let grown = format!(
            "Number(document.getElementById('bitratePlot').dataset.samples) >= {} \
             && Number(document.getElementById('rttPlot').dataset.samples) >= {}",
            bitrate_before + 3,
            rtt_before + 3
        );
        alice
            .wait_until(&grown, STEP_TIMEOUT, "both plots to gain three samples")
            .await;
        let (bitrate_after, bitrate_points_after) = plot_size(&alice, "bitratePlot").await;
        let (rtt_after, rtt_points_after) = plot_size(&alice, "rttPlot").await;
        assert!(
            bitrate_points_after > bitrate_points_before,
            "the bitrate lines should grow with the samples: {bitrate_points_before} points \
             at {bitrate_before} samples, {bitrate_points_after} at {bitrate_after}"
        );
        assert!(
            rtt_points_after > 0 && rtt_points_after <= rtt_after,
            "the round-trip line should have points, at most one per sample: \
             {rtt_points_after} points, {rtt_after} samples"
        );

        // The button closes the panel again.
        alice.click("statsButton").await;
        alice
            .wait_until(
                &format!(
                    "{} && !{}",
                    expanded("statsButton", false),
                    shown("statsPanel")
                ),
                STEP_TIMEOUT,
                "#statsButton to close #statsPanel",
            )
            .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_links_only_web_addresses_and_never_javascript() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person("alice").await;
        let bob = ctx.person("bob").await;
        connect_pair(&alice, &bob, &unique_room("links")).await;

        alice
            .send_chat("have a look at https://example.org/x.")
            .await;
        alice.send_chat("javascript:alert(1)").await;
        for person in [&alice, &bob] {
            person.wait_for_chat_text("javascript:alert(1)").await;
            let verdict = person
                .execute(
                    "const out = document.getElementById('dataChannelOutput');\n\
                     const links = [...out.querySelectorAll('a')].map((a) => ({\n\
                         href: a.getAttribute('href'), text: a.textContent,\n\
                         rel: a.getAttribute('rel'), target: a.getAttribute('target') }));\n\
                     const lines = [...out.querySelectorAll('.chat-text')].map((t) => t.textContent);\n\
                     return { links, lines };",
                    vec![],
                )
                .await;
            assert_eq!(
                verdict["links"],
                json!([{
                    "href": "https://example.org/x",
                    "text": "https://example.org/x",
                    "rel": "noopener noreferrer",
                    "target": "_blank",
                }]),
                "{}'s chat should link exactly the https address (without the full stop) and \
                 nothing else",
                person.name()
            );
            assert_eq!(
                verdict["lines"],
                json!(["have a look at https://example.org/x.", "javascript:alert(1)"]),
                "{}'s chat should show both messages' text unchanged",
                person.name()
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collapsed_chat_counts_new_messages_until_it_is_expanded() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person("alice").await;
        let phone = BrowserOptions {
            args: vec![PHONE_WINDOW.to_owned()],
            ..BrowserOptions::default()
        };
        let bob = ctx.person_with_browser("bob", &phone).await;
        let path = room_path(&unique_room("unread"));
        tokio::join!(alice.open(&path), bob.open(&path));

        // Desktop-sized pages start with the chat open; phone-sized ones with it collapsed.
        let width = bob.execute("return window.innerWidth;", vec![]).await;
        assert!(
            width.as_f64().is_some_and(|w| w < 600.0),
            "bob's window should be phone-sized, but it is {width} CSS pixels wide"
        );
        wait_chat_collapsed(&alice, false).await;
        wait_chat_collapsed(&bob, true).await;
        wait_unread(&bob, 0).await;

        call_between(&alice, &bob).await;

        alice.send_chat("first while collapsed").await;
        alice.send_chat("second while collapsed").await;
        wait_unread(&bob, 2).await;
        // An open chat shows no badge.
        wait_unread(&alice, 0).await;

        bob.click("chatToggle").await;
        wait_chat_collapsed(&bob, false).await;
        wait_unread(&bob, 0).await;
        bob.wait_for_chat_text("second while collapsed").await;

        // Collapsing on a desktop-sized page counts from zero in the same way.
        alice.click("chatToggle").await;
        wait_chat_collapsed(&alice, true).await;
        bob.send_chat("reply one").await;
        bob.send_chat("reply two").await;
        wait_unread(&alice, 2).await;
        alice.click("chatToggle").await;
        wait_chat_collapsed(&alice, false).await;
        wait_unread(&alice, 0).await;
        alice.wait_for_chat_text("reply two").await;
    })
    .await;
}
