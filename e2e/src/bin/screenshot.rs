//! Takes the README's screenshots: a real two-party call between two headless Chromium sessions
//! with fake cameras, after a short chat. Alice is on a 1280×800 desktop screen
//! (`docs/screenshot.png`), Bob on an emulated 390×844 phone (`docs/screenshot-phone.png`).
//!
//! `cargo run -p visavis-e2e --bin screenshot` (add `-- --dark` for the dark colour scheme,
//! saved with a `-dark` suffix).

use fantoccini::actions::{InputSource, MouseActions, PointerAction};
use serde_json::json;
use visavis_e2e::{connect_pair, unique_room, workspace_root, Person, TestContext, STEP_TIMEOUT};

/// Emulates a phone screen on `person`'s page.
async fn emulate_phone(person: &Person) -> anyhow::Result<()> {
    person
        .devtools(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true }),
        )
        .await?;
    Ok(())
}

/// Switches `person`'s page to the dark colour scheme.
async fn emulate_dark(person: &Person) -> anyhow::Result<()> {
    person
        .devtools(
            "Emulation.setEmulatedMedia",
            json!({ "features": [{ "name": "prefers-color-scheme", "value": "dark" }] }),
        )
        .await?;
    Ok(())
}

/// Moves the mouse over the page, so the control bar shows as it does for a person looking at
/// the call, and waits until it does.
async fn show_controls(person: &Person) -> anyhow::Result<()> {
    let moves = MouseActions::new("mouse".into())
        .then(PointerAction::MoveTo {
            duration: None,
            x: 180,
            y: 300,
        })
        .then(PointerAction::MoveTo {
            duration: None,
            x: 200,
            y: 320,
        });
    person.client().perform_actions(moves).await?;
    person
        .wait_until(
            "!document.getElementById('controlBar').classList.contains('bar-hidden')",
            STEP_TIMEOUT,
            "the control bar to show",
        )
        .await;
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let dark = std::env::args().any(|arg| arg == "--dark");
    let suffix = if dark { "-dark" } else { "" };
    let ctx = TestContext::start("screenshot").await?;
    let alice = ctx.person("alice").await;
    let bob = ctx.person("bob").await;
    alice
        .devtools(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": false }),
        )
        .await?;
    emulate_phone(&bob).await?;
    if dark {
        emulate_dark(&alice).await?;
        emulate_dark(&bob).await?;
    }
    let room = unique_room("demo");
    connect_pair(&alice, &bob, &room).await;
    bob.click("chatToggle").await;
    bob.send_chat("Hi! Can you see me?").await;
    alice.wait_for_chat_text("Can you see me?").await;
    alice.send_chat("Loud and clear.").await;
    bob.wait_for_chat_text("Loud and clear.").await;
    // Bob reads on, with the chat closed again and the call in full view.
    bob.click("chatToggle").await;
    let docs = workspace_root().join("docs");
    let desktop = docs.join(format!("screenshot{suffix}.png"));
    let phone = docs.join(format!("screenshot-phone{suffix}.png"));
    show_controls(&alice).await?;
    let saved = alice.save_screenshot(&desktop).await;
    show_controls(&bob).await?;
    let saved_phone = bob.save_screenshot(&phone).await;
    ctx.close_browsers().await;
    ctx.app().stop().await;
    saved?;
    saved_phone?;
    println!("saved {} and {}", desktop.display(), phone.display());
    Ok(())
}
