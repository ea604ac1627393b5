//! Accessibility and layout in real browsers: a call on a phone-sized screen fits it, every
//! control has a name a screen reader can announce, status changes go to a live region, and a
//! whole call can be made with the keyboard alone.

use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use serde_json::{json, Value};
use visavis_e2e::{
    connect_pair, room_path, run_browser_test, unique_room, Person, CONNECT_TIMEOUT, STEP_TIMEOUT,
};

/// A phone's screen (an iPhone 14's), in CSS pixels. Headless Chromium's windows cannot be
/// narrower than 500 pixels, so the phone is emulated through DevTools.
const PHONE_WIDTH: u64 = 390;
const PHONE_HEIGHT: u64 = 844;

/// The most Tab presses allowed to reach a control from the top of the page.
const MAX_TABS: usize = 60;

/// Reads, on `person`'s page, what does not fit a phone screen: horizontal overflow of the
/// page, and the call's main elements sticking out of the viewport.
async fn layout_problems(person: &Person) -> Value {
    person
        .execute(
            "const problems = [];\n\
             const width = window.innerWidth;\n\
             if (document.documentElement.scrollWidth > width + 1) {\n\
               problems.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} > ${width}`);\n\
             }\n\
             for (const id of ['remoteVideo', 'localVideo', 'hangupButton', 'muteButton', 'cameraButton', 'status']) {\n\
               const el = document.getElementById(id);\n\
               if (!el) { problems.push(`#${id} is missing`); continue; }\n\
               const r = el.getBoundingClientRect();\n\
               if (r.width <= 0 || r.height <= 0) problems.push(`#${id} has no size`);\n\
               if (r.left < -1 || r.right > width + 1) problems.push(`#${id} sticks out: ${r.left}..${r.right} of ${width}`);\n\
             }\n\
             return problems;",
            vec![],
        )
        .await
}

/// The visible, enabled controls of `person`'s page that have no accessible name (no
/// `aria-label`, `aria-labelledby`, `<label for>`, wrapping label, text or title).
async fn unnamed_controls(person: &Person) -> Value {
    person
        .execute(
            "const visible = (el) => {\n\
               const r = el.getBoundingClientRect();\n\
               return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden';\n\
             };\n\
             const named = (el) => {\n\
               if ((el.getAttribute('aria-label') || '').trim()) return true;\n\
               const by = el.getAttribute('aria-labelledby');\n\
               if (by && by.split(/\\s+/).some((id) => (document.getElementById(id)?.textContent || '').trim())) return true;\n\
               if (el.id && document.querySelector(`label[for=\"${CSS.escape(el.id)}\"]`)) return true;\n\
               if (el.closest('label')) return true;\n\
               if ((el.title || '').trim()) return true;\n\
               if (el.tagName !== 'INPUT' && el.tagName !== 'SELECT' && (el.textContent || '').trim()) return true;\n\
               return false;\n\
             };\n\
             return [...document.querySelectorAll('button, input, select, textarea, a[href]')]\n\
               .filter((el) => visible(el) && !el.disabled && el.type !== 'hidden')\n\
               .filter((el) => !named(el))\n\
               .map((el) => el.outerHTML.slice(0, 120));",
            vec![],
        )
        .await
}

/// Presses Tab on `person`'s page until the element with id `target` has the focus; panics
/// if it is not reached within [`MAX_TABS`] presses.
async fn tab_to(person: &Person, target: &str) {
    let mut visited = Vec::new();
    for _ in 0..MAX_TABS {
        let focused = person
            .execute("return document.activeElement?.id || '';", vec![])
            .await;
        if focused == json!(target) {
            return;
        }
        visited.push(focused.as_str().unwrap_or_default().to_owned());
        press_on_focus(person, Key::Tab).await;
    }
    panic!(
        "{}: #{target} was not reached with {MAX_TABS} Tab presses; focus went through {visited:?}",
        person.name()
    );
}

/// Presses `key` on `person`'s keyboard, as a person would: it goes to whatever has the focus.
async fn press_on_focus(person: &Person, key: Key) {
    let value = char::from(key);
    let press = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value })
        .then(KeyAction::Up { value });
    if let Err(error) = person.client().perform_actions(press).await {
        panic!("{} could not press {key:?}: {error}", person.name());
    }
}

/// Waits until `person`'s status line reads something other than `before`.
async fn wait_for_status_change(person: &Person, before: &str) -> String {
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let now = person.status_text().await;
        if now != before {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "{}'s status stayed {before:?}",
            person.name()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_on_a_phone_sized_screen_fits_and_every_control_is_named() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person("alice").await;
        let bob = ctx.person("bob").await;
        alice
            .devtools(
                "Emulation.setDeviceMetricsOverride",
                json!({
                    "width": PHONE_WIDTH,
                    "height": PHONE_HEIGHT,
                    "deviceScaleFactor": 3,
                    "mobile": true
                }),
            )
            .await
            .expect("Chromium emulates a phone screen");
        connect_pair(&alice, &bob, &unique_room("phone")).await;

        let width = alice.execute("return window.innerWidth;", vec![]).await;
        assert_eq!(
            width,
            json!(PHONE_WIDTH),
            "alice's page should be phone-sized"
        );
        assert_eq!(
            layout_problems(&alice).await,
            json!([]),
            "the call should fit a phone-sized screen"
        );
        for person in [&alice, &bob] {
            assert_eq!(
                unnamed_controls(person).await,
                json!([]),
                "{}: every visible control needs an accessible name",
                person.name()
            );
            let live = person
                .execute(
                    "const s = document.getElementById('status');\n\
                     return [s?.getAttribute('role'), s?.getAttribute('aria-live')];",
                    vec![],
                )
                .await;
            assert_eq!(
                live,
                json!(["status", "polite"]),
                "{}: status changes must be announced by a live region",
                person.name()
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_call_can_be_made_with_the_keyboard() {
    run_browser_test(|ctx| async move {
        let alice = ctx.person("alice").await;
        let bob = ctx.person("bob").await;
        let path = room_path(&unique_room("keyboard"));
        tokio::join!(alice.open(&path), bob.open(&path));
        alice.wait_for_enabled("callButton").await;

        // Alice starts the call from the keyboard: Tab to Call, Enter.
        let before = alice.status_text().await;
        tab_to(&alice, "callButton").await;
        press_on_focus(&alice, Key::Enter).await;
        wait_for_status_change(&alice, &before).await;
        alice.wait_for_call_state("waiting", STEP_TIMEOUT).await;

        // Bob joins with a click; the call connects.
        call_between_second(&bob).await;
        tokio::join!(
            alice.wait_for_call_state("connected", CONNECT_TIMEOUT),
            bob.wait_for_call_state("connected", CONNECT_TIMEOUT)
        );

        // Alice mutes and hangs up from the keyboard too.
        tab_to(&alice, "muteButton").await;
        press_on_focus(&alice, Key::Enter).await;
        let pressed = alice
            .execute(
                "return document.getElementById('muteButton').getAttribute('aria-pressed');",
                vec![],
            )
            .await;
        assert_eq!(
            pressed,
            json!("true"),
            "Enter on the focused mute button should mute"
        );
        tab_to(&alice, "hangupButton").await;
        press_on_focus(&alice, Key::Enter).await;
        tokio::join!(
            alice.wait_for_call_state("ended", STEP_TIMEOUT),
            bob.wait_for_call_state("ended", STEP_TIMEOUT)
        );
    })
    .await;
}

/// The second person joins the way most people do: a click on Call.
async fn call_between_second(person: &Person) {
    person.click("callButton").await;
}
