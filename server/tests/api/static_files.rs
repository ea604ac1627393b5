//! The app's files with build-time Brotli and gzip copies: the encoding follows Accept-Encoding,
//! the bytes decode to the original, and the types and caching stay those of the plain file.

use reqwest::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY,
};
use reqwest::StatusCode;

use crate::helpers::TestApp;

/// A hashed asset name as Trunk writes them (cached forever).
const WASM: &str = "visavis-client-0123456789abcdef_bg.wasm";
const CSS: &str = "main-fedcba9876543210.css";

/// Compressible but not trivial bytes, standing in for the WASM module.
fn wasm_bytes() -> Vec<u8> {
    let mut bytes = b"\0asm\x01\0\0\0".to_vec();
    for n in 0u32..20_000 {
        bytes.extend_from_slice(&(n % 251).to_le_bytes());
        bytes.extend_from_slice(b"func");
    }
    bytes
}

fn index_html() -> String {
    let mut html = String::from("<!doctype html><html><head><title>visavis</title></head><body>");
    for n in 0..200 {
        html.push_str(&format!("<p>line {n} of the test page</p>"));
    }
    html.push_str("</body></html>");
    html
}

fn css_bytes() -> Vec<u8> {
    (0..300)
        .map(|n| format!(".rule-{n} {{ color: #123456; margin: {n}px; }}\n"))
        .collect::<String>()
        .into_bytes()
}

async fn spawn_built_app() -> TestApp {
    TestApp::builder()
        .index_html(&index_html())
        .static_file(WASM, &wasm_bytes())
        .static_file(CSS, &css_bytes())
        .precompressed()
        .spawn()
        .await
}

struct Fetched {
    status: StatusCode,
    encoding: Option<String>,
    content_type: String,
    vary: String,
    cache: String,
    etag: Option<String>,
    body: Vec<u8>,
}

async fn get(app: &TestApp, path: &str, accept: Option<&str>, etag: Option<&str>) -> Fetched {
    let mut request = reqwest::Client::new().get(app.http_url(path));
    if let Some(accept) = accept {
        request = request.header(ACCEPT_ENCODING, accept);
    }
    if let Some(etag) = etag {
        request = request.header(IF_NONE_MATCH, etag);
    }
    let response = request.send().await.expect("the request gets an answer");
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Fetched {
        status: response.status(),
        encoding: header(CONTENT_ENCODING),
        content_type: header(CONTENT_TYPE).unwrap_or_default(),
        vary: header(VARY).unwrap_or_default().to_ascii_lowercase(),
        cache: header(CACHE_CONTROL).unwrap_or_default(),
        etag: header(ETAG),
        body: response.bytes().await.expect("a body").to_vec(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_browser_that_accepts_brotli_gets_the_brotli_copy() {
    let app = spawn_built_app().await;

    let wasm = get(
        &app,
        &format!("/{WASM}"),
        Some("gzip, deflate, br, zstd"),
        None,
    )
    .await;

    assert_eq!(wasm.status, StatusCode::OK);
    assert_eq!(wasm.encoding.as_deref(), Some("br"));
    assert_eq!(wasm.content_type, "application/wasm");
    assert!(wasm.vary.contains("accept-encoding"), "Vary: {}", wasm.vary);
    assert_eq!(wasm.cache, "public, max-age=31536000, immutable");
    assert!(wasm.body.len() < wasm_bytes().len() / 4);
    assert_eq!(
        visavis_precompress::unbrotli(&wasm.body).expect("valid brotli"),
        wasm_bytes()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn gzip_is_sent_when_brotli_is_not_accepted() {
    let app = spawn_built_app().await;

    for accept in ["gzip, deflate", "br;q=0, gzip", "br;q=0.5, gzip;q=0.9"] {
        let css = get(&app, &format!("/{CSS}"), Some(accept), None).await;
        assert_eq!(css.status, StatusCode::OK);
        assert_eq!(css.encoding.as_deref(), Some("gzip"), "for {accept:?}");
        assert!(
            css.content_type.starts_with("text/css"),
            "{}",
            css.content_type
        );
        assert!(css.vary.contains("accept-encoding"));
        assert_eq!(css.cache, "public, max-age=31536000, immutable");
        assert_eq!(
            visavis_precompress::gunzip(&css.body).expect("valid gzip"),
            css_bytes()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_plain_file_is_sent_when_no_coding_is_accepted() {
    let app = spawn_built_app().await;

    for accept in [None, Some("identity"), Some("br;q=0, gzip;q=0")] {
        let wasm = get(&app, &format!("/{WASM}"), accept, None).await;
        assert_eq!(wasm.status, StatusCode::OK);
        assert_eq!(wasm.encoding, None, "for {accept:?}");
        assert_eq!(wasm.content_type, "application/wasm");
        assert!(wasm.vary.contains("accept-encoding"));
        assert_eq!(wasm.body, wasm_bytes(), "for {accept:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_is_precompressed_too_and_still_revalidated() {
    let app = spawn_built_app().await;

    for path in ["/", "/index.html", "/r/some-room", "/some/app/route"] {
        let page = get(&app, path, Some("br, gzip"), None).await;
        assert_eq!(page.status, StatusCode::OK, "for {path}");
        assert_eq!(page.encoding.as_deref(), Some("br"), "for {path}");
        assert!(page.content_type.starts_with("text/html"), "for {path}");
        assert_eq!(page.cache, "no-cache", "for {path}");
        assert!(page.vary.contains("accept-encoding"));
        assert_eq!(
            visavis_precompress::unbrotli(&page.body).expect("valid brotli"),
            index_html().into_bytes(),
            "for {path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_coding_has_its_own_etag_and_revalidates() {
    let app = spawn_built_app().await;
    let path = format!("/{WASM}");

    let brotli = get(&app, &path, Some("br"), None).await;
    let gzip = get(&app, &path, Some("gzip"), None).await;
    let brotli_tag = brotli.etag.expect("an ETag");
    assert_ne!(
        Some(&brotli_tag),
        gzip.etag.as_ref(),
        "one tag per representation"
    );

    let again = get(&app, &path, Some("br"), Some(&brotli_tag)).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_asset_is_still_a_404() {
    let app = spawn_built_app().await;

    let missing = get(
        &app,
        "/visavis-client-ffffffffffffffff_bg.wasm",
        Some("br"),
        None,
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let copy = get(&app, &format!("/{WASM}.br.br"), Some("br"), None).await;
    assert_eq!(copy.status, StatusCode::NOT_FOUND);
}
