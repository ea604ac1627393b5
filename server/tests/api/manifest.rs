//! Installable: the web app manifest of the repository is valid and complete (name, start URL,
//! standalone display, theme colours, a 192 and a 512 pixel PNG icon that exist), the page links
//! it, and the server sends it as `application/manifest+json`, revalidated rather than cached
//! for good (its name has no content hash), with its icons as `image/png`.

use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::TestApp;

const MANIFEST: &str = include_str!("../../../manifest.webmanifest");
const INDEX: &str = include_str!("../../../index.html");
const ICON_192: &[u8] = include_bytes!("../../../style/icons/icon-192.png");
const ICON_512: &[u8] = include_bytes!("../../../style/icons/icon-512.png");

fn manifest() -> Value {
    serde_json::from_str(MANIFEST).expect("manifest.webmanifest is valid JSON")
}

/// The width and height in a PNG's header.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let word =
        |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    (word(16), word(20))
}

#[test]
fn the_manifest_has_what_a_phone_needs_to_install_the_app() {
    let manifest = manifest();
    for field in ["name", "short_name", "theme_color", "background_color"] {
        assert!(
            manifest[field].as_str().is_some_and(|v| !v.is_empty()),
            "the manifest needs a {field}"
        );
    }
    assert_eq!(manifest["start_url"], "/");
    assert_eq!(manifest["display"], "standalone");
    for colour in ["theme_color", "background_color"] {
        let value = manifest[colour].as_str().unwrap_or_default();
        assert!(
            value.len() == 7
                && value.starts_with('#')
                && value[1..].chars().all(|c| c.is_ascii_hexdigit()),
            "{colour} should be a #rrggbb colour, not {value:?}"
        );
    }
    let icons = manifest["icons"]
        .as_array()
        .expect("the manifest lists icons");
    let png = |size: &str| {
        icons
            .iter()
            .find(|icon| icon["sizes"] == size && icon["type"] == "image/png")
            .and_then(|icon| icon["src"].as_str())
            .unwrap_or_else(|| panic!("no {size} PNG icon in the manifest"))
            .to_owned()
    };
    assert_eq!(png("192x192"), "/icons/icon-192.png");
    assert_eq!(png("512x512"), "/icons/icon-512.png");
    // The files are what the manifest says they are.
    assert_eq!(png_size(ICON_192), (192, 192));
    assert_eq!(png_size(ICON_512), (512, 512));
}

#[test]
fn the_page_links_the_manifest_and_the_build_copies_it_with_its_icons() {
    assert!(INDEX.contains(r#"<link rel="manifest" href="/manifest.webmanifest" />"#));
    assert!(INDEX.contains(r#"<link data-trunk rel="copy-file" href="manifest.webmanifest" />"#));
    assert!(INDEX.contains(r#"<link data-trunk rel="copy-dir" href="style/icons" />"#));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_manifest_and_its_icons_are_served_with_their_types_and_revalidated() {
    let app = TestApp::builder()
        .static_file("manifest.webmanifest", MANIFEST.as_bytes())
        .static_file("icons/icon-192.png", ICON_192)
        .static_file("icons/icon-512.png", ICON_512)
        .precompressed()
        .spawn()
        .await;
    let client = reqwest::Client::new();

    let response = client
        .get(app.http_url("/manifest.webmanifest"))
        .send()
        .await
        .expect("the manifest is answered");
    assert_eq!(response.status(), StatusCode::OK);
    let header = |response: &reqwest::Response, name| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header(&response, CONTENT_TYPE), "application/manifest+json");
    assert_eq!(header(&response, CACHE_CONTROL), "no-cache");
    let body = response.bytes().await.expect("a body");
    let served: Value = serde_json::from_slice(&body).expect("the served manifest is JSON");
    assert_eq!(served, manifest());

    for (path, bytes) in [
        ("/icons/icon-192.png", ICON_192),
        ("/icons/icon-512.png", ICON_512),
    ] {
        let response = client
            .get(app.http_url(path))
            .send()
            .await
            .expect("the icon is answered");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&response, CONTENT_TYPE), "image/png", "{path}");
        assert_eq!(header(&response, CACHE_CONTROL), "no-cache", "{path}");
        assert_eq!(response.bytes().await.expect("a body").as_ref(), bytes);
    }
}
