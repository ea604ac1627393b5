//! Measures how much of the screen the other person's video covers in a connected call, on a
//! 1280×800 desktop screen and on an emulated 390×844 phone: the part of `#remoteVideo` inside
//! the viewport, as a share of the viewport. It measures whatever client build `dist/` holds,
//! so the same run compares layouts (build one, measure, build the other, measure).
//!
//! `cargo run -p visavis-e2e --bin measure_screen`

use serde_json::json;
use visavis_e2e::{connect_pair, unique_room, Person, TestContext};

/// The share of the viewport covered by the visible part of `#remoteVideo`, and the viewport.
async fn remote_share(person: &Person) -> (f64, serde_json::Value) {
    let value = person
        .execute(
            "const vw = window.innerWidth, vh = window.innerHeight;\n\
             const v = document.getElementById('remoteVideo').getBoundingClientRect();\n\
             const w = Math.max(0, Math.min(v.right, vw) - Math.max(v.left, 0));\n\
             const h = Math.max(0, Math.min(v.bottom, vh) - Math.max(v.top, 0));\n\
             return { share: (w * h) / (vw * vh), viewport: [vw, vh],\n\
                      scrolls: document.documentElement.scrollHeight > vh };",
            vec![],
        )
        .await;
    (value["share"].as_f64().unwrap_or(0.0), value)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let ctx = TestContext::start("measure_screen").await?;
    let desktop = ctx.person("desktop").await;
    let phone = ctx.person("phone").await;
    desktop
        .devtools(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": false }),
        )
        .await?;
    phone
        .devtools(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 390, "height": 844, "deviceScaleFactor": 3, "mobile": true }),
        )
        .await?;
    connect_pair(&desktop, &phone, &unique_room("measure-screen")).await;
    for person in [&desktop, &phone] {
        let (share, details) = remote_share(person).await;
        println!(
            "{}: the remote video covers {:.1}% of the viewport ({details})",
            person.name(),
            share * 100.0
        );
    }
    ctx.close_browsers().await;
    ctx.app().stop().await;
    Ok(())
}
