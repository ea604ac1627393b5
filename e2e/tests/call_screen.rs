//! The call screen in real browsers, as a person sees it: in a connected call the other
//! person's video fills most of a desktop and of a phone screen (portrait and landscape), the
//! self-view and Hang up stay on screen and nothing scrolls; while waiting the room link and its
//! Copy button are on screen; the chat opens and closes from the control bar and still sends
//! and counts unread messages; the overlays (statistics, settings) open, close with Escape and
//! hand the focus back; the control bar fades when the pointer rests but never while the focus
//! is in it; and the end screen says how the call ended and offers Call again.

use fantoccini::actions::{InputSource, KeyAction, KeyActions, MouseActions, PointerAction};
use fantoccini::key::Key;
use serde_json::{json, Value};
use visavis_e2e::{
    call_between, connect_pair, room_path, run_browser_test, unique_room, Person, STEP_TIMEOUT,
};

/// A phone's screen (an iPhone 14's), in CSS pixels, emulated through DevTools (headless
/// Chromium's windows cannot be narrower than 500 pixels).
const PHONE: (u64, u64) = (390, 844);

/// A desktop screen, in CSS pixels.
const DESKTOP: (u64, u64) = (1280, 800);

/// Emulates a screen of `width` × `height` on `person`'s page: a phone's (`mobile`, three
/// device pixels a CSS pixel) or a desktop's. The window's own size would leave the browser's
/// frame out of the viewport, and headless Chromium's windows are never narrower than 500.
async fn emulate(person: &Person, width: u64, height: u64, mobile: bool) {
    let scale = if mobile { 3 } else { 1 };
    person
        .devtools(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile }),
        )
        .await
        .expect("Chromium emulates the screen");
}

/// Waits until `person`'s open page is `width` CSS pixels wide.
async fn wait_for_width(person: &Person, width: u64) {
    person
        .wait_until(
            &format!("window.innerWidth === {width}"),
            STEP_TIMEOUT,
            &format!("a viewport {width} pixels wide"),
        )
        .await;
}

/// Emulates a phone screen of `width` × `height` on `person`'s page.
async fn emulate_phone(person: &Person, width: u64, height: u64) {
    emulate(person, width, height, true).await;
}

/// What the person sees of the call now: the viewport, how much of it the other person's
/// video covers (the part of the element inside the viewport), whether the document scrolls,
/// and the rectangles of the elements named in `ids`.
async fn screen_report(person: &Person, ids: &[&str]) -> Value {
    person
        .execute(
            "const vw = window.innerWidth, vh = window.innerHeight;\n\
             const rect = (id) => {\n\
               const el = document.getElementById(id);\n\
               if (!el) return null;\n\
               const r = el.getBoundingClientRect();\n\
               return { left: r.left, top: r.top, right: r.right, bottom: r.bottom,\n\
                        width: r.width, height: r.height,\n\
                        inside: r.width > 0 && r.height > 0 && r.left >= -1 && r.top >= -1\n\
                                && r.right <= vw + 1 && r.bottom <= vh + 1 };\n\
             };\n\
             const v = document.getElementById('remoteVideo').getBoundingClientRect();\n\
             const w = Math.max(0, Math.min(v.right, vw) - Math.max(v.left, 0));\n\
             const h = Math.max(0, Math.min(v.bottom, vh) - Math.max(v.top, 0));\n\
             const rects = {};\n\
             for (const id of arguments[0]) rects[id] = rect(id);\n\
             return { viewport: [vw, vh], share: (w * h) / (vw * vh),\n\
                      scrollHeight: document.documentElement.scrollHeight,\n\
                      scrollWidth: document.documentElement.scrollWidth,\n\
                      screen: document.body.dataset.screen, rects };",
            vec![json!(ids)],
        )
        .await
}

/// Asserts that in `report` the remote video covers at least `min_share` of the viewport, the
/// page does not scroll, and every element of `ids` is inside the viewport.
fn assert_fills(person: &Person, report: &Value, min_share: f64, ids: &[&str]) {
    let (vw, vh) = (
        report["viewport"][0].as_f64().unwrap_or(0.0),
        report["viewport"][1].as_f64().unwrap_or(0.0),
    );
    let share = report["share"].as_f64().unwrap_or(0.0);
    println!(
        "{}: the remote video covers {:.1}% of the {vw}×{vh} viewport",
        person.name(),
        share * 100.0
    );
    assert!(
        share >= min_share,
        "{}: the other person's video should cover at least {:.0}% of the viewport: {report}",
        person.name(),
        min_share * 100.0
    );
    assert!(
        report["scrollHeight"].as_f64().unwrap_or(f64::MAX) <= vh
            && report["scrollWidth"].as_f64().unwrap_or(f64::MAX) <= vw,
        "{}: the page must not scroll during a call: {report}",
        person.name()
    );
    for id in ids {
        assert_eq!(
            report["rects"][id]["inside"],
            json!(true),
            "{}: #{id} should be inside the viewport: {report}",
            person.name()
        );
    }
}

/// The smallest width and height of the visible buttons of the control bar, in CSS pixels.
async fn smallest_bar_button(person: &Person) -> (f64, f64) {
    let value = person
        .execute(
            "const sizes = [...document.querySelectorAll('#controlBar button, #controlBar select')]\n\
               .map((b) => b.getBoundingClientRect())\n\
               .filter((r) => r.width > 0 && r.height > 0);\n\
             return [Math.min(...sizes.map((r) => r.width)), Math.min(...sizes.map((r) => r.height))];",
            vec![],
        )
        .await;
    (
        value[0].as_f64().unwrap_or(0.0),
        value[1].as_f64().unwrap_or(0.0),
    )
}

/// The id of the focused element.
async fn focused(person: &Person) -> Value {
    person
        .execute("return document.activeElement?.id || '';", vec![])
        .await
}

/// Presses `key` on `person`'s keyboard (it goes to whatever has the focus).
async fn press(person: &Person, key: Key) {
    let value = char::from(key);
    let press = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value })
        .then(KeyAction::Up { value });
    if let Err(error) = person.client().perform_actions(press).await {
        panic!("{} could not press {key:?}: {error}", person.name());
    }
}

/// Moves `person`'s mouse over the middle of the page, as a person does who looks for the
/// controls.
async fn move_mouse(person: &Person) {
    let moves = MouseActions::new("mouse".into())
        .then(PointerAction::MoveTo {
            duration: None,
            x: 300,
            y: 300,
        })
        .then(PointerAction::MoveTo {
            duration: None,
            x: 320,
            y: 310,
        });
    if let Err(error) = person.client().perform_actions(moves).await {
        panic!("{} could not move the mouse: {error}", person.name());
    }
}

/// Whether the control bar is faded out.
const BAR_HIDDEN: &str = "document.getElementById('controlBar').classList.contains('bar-hidden')";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desktop_call_puts_the_other_person_first() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person("alice").await;
        let bob = ctx.person("bob").await;
        for person in [&alice, &bob] {
            emulate(person, DESKTOP.0, DESKTOP.1, false).await;
        }
        connect_pair(&alice, &bob, &unique_room("screen-desktop")).await;

        let ids = ["localVideo", "hangupButton", "muteButton", "chatToggle", "status"];
        for person in [&alice, &bob] {
            let report = screen_report(person, &ids).await;
            assert_eq!(report["screen"], json!("call"));
            assert_eq!(report["viewport"], json!([DESKTOP.0, DESKTOP.1]), "a 1280×800 screen");
            assert_fills(person, &report, 0.5, &ids);
        }

        // Letterboxed by default; the top bar's toggle fills the screen.
        let fit = "getComputedStyle(document.getElementById('remoteVideo')).objectFit";
        assert_eq!(alice.execute(&format!("return {fit};"), vec![]).await, json!("contain"));
        alice.click("fitButton").await;
        alice
            .wait_until(&format!("{fit} === 'cover'"), STEP_TIMEOUT, "the video to fill")
            .await;

        // The self-view moves to the next corner and stays on screen.
        let corner = "document.querySelector('.self-view').dataset.corner";
        assert_eq!(alice.execute(&format!("return {corner};"), vec![]).await, json!("bottom-right"));
        alice.click("selfMoveButton").await;
        alice
            .wait_until(&format!("{corner} === 'bottom-left'"), STEP_TIMEOUT, "the self-view to move")
            .await;
        assert_fills(&alice, &screen_report(&alice, &["localVideo"]).await, 0.5, &["localVideo"]);

        // Bob's camera off: alice sees a placeholder instead of a black picture.
        bob.click("cameraButton").await;
        alice
            .wait_until(
                "!document.querySelector('#remoteTile .remote-off').hidden",
                STEP_TIMEOUT,
                "the camera-off placeholder",
            )
            .await;
        bob.click("cameraButton").await;
        alice
            .wait_until(
                "document.querySelector('#remoteTile .remote-off').hidden",
                STEP_TIMEOUT,
                "the placeholder to go once the camera is back",
            )
            .await;

        // The statistics overlay and the settings dialog open, and Escape closes them and gives
        // the focus back to their buttons.
        alice.click("statsButton").await;
        alice
            .wait_until("!document.getElementById('statsPanel').hidden", STEP_TIMEOUT, "the stats")
            .await;
        alice.click("settingsButton").await;
        alice
            .wait_until(
                "!document.querySelector('.dialog-backdrop').hidden \
                 && document.getElementById('settingsDialog').contains(document.activeElement)",
                STEP_TIMEOUT,
                "the settings dialog open with the focus inside",
            )
            .await;
        let pickers = alice
            .execute(
                "return ['settingsCamera', 'settingsMicrophone'].map((id) => \
                 document.getElementById(id).options.length > 0);",
                vec![],
            )
            .await;
        assert_eq!(pickers, json!([true, true]), "the dialog lists the devices");
        press(&alice, Key::Escape).await;
        alice
            .wait_until(
                "document.querySelector('.dialog-backdrop').hidden \
                 && document.activeElement.id === 'settingsButton'",
                STEP_TIMEOUT,
                "Escape to close the dialog and focus its button",
            )
            .await;
        press(&alice, Key::Escape).await;
        alice
            .wait_until(
                "document.getElementById('statsPanel').hidden \
                 && document.activeElement.id === 'statsButton' \
                 && document.getElementById('statsButton').getAttribute('aria-expanded') === 'false'",
                STEP_TIMEOUT,
                "Escape to close the statistics",
            )
            .await;

        // The control bar fades once the mouse rests, comes back when it moves, and never
        // fades while the focus is inside it.
        alice
            .execute("document.activeElement.blur(); return true;", vec![])
            .await;
        move_mouse(&alice).await;
        alice.wait_until(&format!("!{BAR_HIDDEN}"), STEP_TIMEOUT, "the bar shown").await;
        alice.wait_until(BAR_HIDDEN, STEP_TIMEOUT, "the bar to fade out").await;
        move_mouse(&alice).await;
        alice
            .wait_until(&format!("!{BAR_HIDDEN}"), STEP_TIMEOUT, "the bar back after a move")
            .await;
        alice
            .execute(
                "document.getElementById('muteButton').focus(); window.__focusedAt = Date.now(); \
                 return true;",
                vec![],
            )
            .await;
        // Past the idle delay, with the focus still in the bar.
        alice
            .wait_until(
                "Date.now() - window.__focusedAt > 5000",
                STEP_TIMEOUT,
                "five seconds with the focus in the bar",
            )
            .await;
        assert_eq!(focused(&alice).await, json!("muteButton"));
        assert_eq!(
            alice.execute(&format!("return {BAR_HIDDEN};"), vec![]).await,
            json!(false),
            "the bar must not fade while the focus is inside it"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_call_fills_the_screen_in_portrait_and_landscape() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person("alice").await;
        let bob = ctx.person("bob").await;
        emulate_phone(&alice, PHONE.0, PHONE.1).await;
        connect_pair(&alice, &bob, &unique_room("screen-phone")).await;

        let ids = [
            "localVideo",
            "hangupButton",
            "muteButton",
            "cameraButton",
            "chatToggle",
        ];
        let report = screen_report(&alice, &ids).await;
        assert_eq!(report["viewport"][0], json!(PHONE.0));
        assert_fills(&alice, &report, 0.6, &ids);
        let (width, height) = smallest_bar_button(&alice).await;
        assert!(
            width >= 44.0 && height >= 44.0,
            "the phone's controls should be at least 44 px: the smallest is {width}×{height}"
        );

        // Landscape.
        emulate_phone(&alice, PHONE.1, PHONE.0).await;
        wait_for_width(&alice, PHONE.1).await;
        let report = screen_report(&alice, &ids).await;
        assert_fills(&alice, &report, 0.6, &ids);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_waiting_the_room_link_and_copy_button_are_on_screen() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person("alice").await;
        let bob = ctx.person("bob").await;
        emulate_phone(&bob, PHONE.0, PHONE.1).await;
        let (alice_room, bob_room) = (unique_room("wait-desk"), unique_room("wait-phone"));
        let (alice_path, bob_path) = (room_path(&alice_room), room_path(&bob_room));
        tokio::join!(alice.open(&alice_path), bob.open(&bob_path));
        wait_for_width(&bob, PHONE.0).await;
        for person in [&alice, &bob] {
            person.click("callButton").await;
            person.wait_for_call_state("waiting", STEP_TIMEOUT).await;
            person
                .wait_until(
                    "document.getElementById('copyLinkButton') !== null",
                    STEP_TIMEOUT,
                    "the Copy link button",
                )
                .await;
            person.local_video_showing().await;
            let report = person
                .execute(
                    "const vw = window.innerWidth, vh = window.innerHeight;\n\
                     const inside = (id) => { const r = document.getElementById(id).getBoundingClientRect();\n\
                       return r.width > 0 && r.height > 0 && r.left >= 0 && r.top >= 0\n\
                         && r.right <= vw && r.bottom <= vh; };\n\
                     const self = document.getElementById('localVideo').getBoundingClientRect();\n\
                     return { link: inside('roomLink'), copy: inside('copyLinkButton'),\n\
                              text: document.getElementById('roomLink').textContent,\n\
                              scrolls: document.documentElement.scrollHeight > vh,\n\
                              selfShare: (self.width * self.height) / (vw * vh) };",
                    vec![],
                )
                .await;
            assert_eq!(report["link"], json!(true), "{}: the room link on screen: {report}", person.name());
            assert_eq!(report["copy"], json!(true), "{}: Copy link on screen: {report}", person.name());
            assert_eq!(report["scrolls"], json!(false), "{}: no scrolling: {report}", person.name());
            assert!(
                report["text"].as_str().is_some_and(|t| t.contains("/r/")),
                "{}: the link is the room's: {report}",
                person.name()
            );
            assert!(
                report["selfShare"].as_f64().unwrap_or(0.0) >= 0.9,
                "{}: our own picture is large while waiting: {report}",
                person.name()
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_opens_from_the_control_bar_and_the_call_ends_on_an_end_screen() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person("alice").await;
        let bob = ctx.person("bob").await;
        let path = room_path(&unique_room("screen-chat"));
        tokio::join!(alice.open(&path), bob.open(&path));
        call_between(&alice, &bob).await;

        let in_bar = alice
            .execute(
                "return document.getElementById('controlBar').contains(document.getElementById('chatToggle'));",
                vec![],
            )
            .await;
        assert_eq!(in_bar, json!(true), "the chat button is on the control bar");

        // Closed from the bar: the panel goes, and bob's messages are counted.
        alice.click("chatToggle").await;
        alice
            .wait_until(
                "document.getElementById('chatPanel').hidden \
                 && document.getElementById('chatToggle').getAttribute('aria-expanded') === 'false'",
                STEP_TIMEOUT,
                "the chat closed",
            )
            .await;
        bob.send_chat("one").await;
        bob.send_chat("two").await;
        alice
            .wait_until(
                "!document.getElementById('chatUnread').hidden \
                 && document.getElementById('chatUnread').textContent.trim() === '2'",
                STEP_TIMEOUT,
                "two unread messages on the chat button",
            )
            .await;

        // Opened from the bar: read, and alice answers through the same input and button.
        alice.click("chatToggle").await;
        alice
            .wait_until(
                "!document.getElementById('chatPanel').hidden \
                 && document.getElementById('chatUnread').hidden",
                STEP_TIMEOUT,
                "the chat open and read",
            )
            .await;
        alice.wait_for_chat_text("two").await;
        alice.send_chat("got both").await;
        bob.wait_for_chat_text("got both").await;

        // Escape closes it and gives the focus to its button.
        alice
            .execute("document.getElementById('dataChannelInput').focus(); return true;", vec![])
            .await;
        press(&alice, Key::Escape).await;
        alice
            .wait_until(
                "document.getElementById('chatPanel').hidden \
                 && document.activeElement.id === 'chatToggle'",
                STEP_TIMEOUT,
                "Escape to close the chat",
            )
            .await;

        // The end screens: who ended the call, and Call again with the focus on it.
        alice.click("hangupButton").await;
        tokio::join!(
            alice.wait_for_call_state("ended", STEP_TIMEOUT),
            bob.wait_for_call_state("ended", STEP_TIMEOUT)
        );
        for (person, title) in [(&alice, "You left the call"), (&bob, "The other person left")] {
            person
                .wait_until(
                    &format!(
                        "document.body.dataset.screen === 'ended' \
                         && !document.getElementById('preJoin').hidden \
                         && document.getElementById('callScreen').hidden \
                         && document.getElementById('prejoinTitle').textContent.trim() === '{title}' \
                         && document.getElementById('callButton').textContent.trim() === 'Call again' \
                         && document.activeElement.id === 'callButton'"
                    ),
                    STEP_TIMEOUT,
                    &format!("the end screen saying {title:?} with the focus on Call again"),
                )
                .await;
            // Every contract id is still in the page.
            let missing = person
                .execute(
                    "return ['roomName', 'callButton', 'hangupButton', 'localVideo', 'remoteVideo',\n\
                     'dataChannelInput', 'sendButton', 'dataChannelOutput']\n\
                     .filter((id) => document.getElementById(id) === null);",
                    vec![],
                )
                .await;
            assert_eq!(missing, json!([]), "{}: the contract ids stay", person.name());
        }
    })
    .await;
}
