//! Takes the README's screenshot: a real two-party call between two headless Chromium sessions
//! with fake cameras, after a short chat, saved as `docs/screenshot.png`.
//!
//! `cargo run -p visavis-e2e --bin screenshot`

use visavis_e2e::{connect_pair, unique_room, workspace_root, TestContext};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let ctx = TestContext::start("screenshot").await?;
    let alice = ctx.person("alice").await;
    let bob = ctx.person("bob").await;
    let room = unique_room("demo");
    connect_pair(&alice, &bob, &room).await;
    bob.send_chat("Hi! Can you see me?").await;
    alice.wait_for_chat_text("Can you see me?").await;
    alice.send_chat("Loud and clear.").await;
    bob.wait_for_chat_text("Loud and clear.").await;
    let path = workspace_root().join("docs").join("screenshot.png");
    let saved = alice.save_screenshot(&path).await;
    ctx.close_browsers().await;
    ctx.app().stop().await;
    saved?;
    println!("saved {}", path.display());
    Ok(())
}
