//! Browser-facing security: the Origin check on `/ws` and the security headers of every page.

use base64::Engine;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::helpers::{spawn_app, spawn_app_with, TestApp, TestClient};

/// A page as Trunk writes it: an inline module script that loads the WASM, plus an external one.
const PAGE_WITH_LOADER: &str = "<!DOCTYPE html><html><head><meta charset=\"utf-8\">\
<script type=\"module\">import init, * as bindings from '/visavis-client-0123456789abcdef.js';\n\
const wasm = await init({ module_or_path: '/visavis-client-0123456789abcdef_bg.wasm' });\n\
window.wasmBindings = bindings;\n</script>\
<script src=\"/extra.js\"></script></head><body></body></html>";

/// The body of the inline script in [`PAGE_WITH_LOADER`], byte for byte.
const LOADER: &str = "import init, * as bindings from '/visavis-client-0123456789abcdef.js';\n\
const wasm = await init({ module_or_path: '/visavis-client-0123456789abcdef_bg.wasm' });\n\
window.wasmBindings = bindings;\n";

// --- The Origin check -------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_websocket_upgrade_from_a_foreign_origin_is_refused_with_403() {
    let app = spawn_app().await;

    let refused = TestClient::try_connect_with_headers(
        app.port,
        "evil page",
        &[("Origin", "https://evil.example")],
    )
    .await;

    assert_eq!(refused.err(), Some(StatusCode::FORBIDDEN));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_websocket_upgrade_from_the_pages_own_origin_is_accepted() {
    let app = spawn_app().await;
    let origin = format!("http://127.0.0.1:{}", app.port);

    let mut alice =
        TestClient::try_connect_with_headers(app.port, "alice", &[("Origin", origin.as_str())])
            .await
            .expect("the page's own origin may open /ws");

    alice.join_expecting("kitchen", "created").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_websocket_upgrade_without_an_origin_is_accepted() {
    let app = spawn_app().await;

    let mut alice = TestClient::try_connect_with_headers(app.port, "alice", &[])
        .await
        .expect("a client without an Origin header (not a browser) may open /ws");

    alice.join_expecting("kitchen", "created").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_origin_listed_with_allowed_origin_is_accepted_and_others_still_refused() {
    let app = spawn_app_with(&["--allowed-origin", "https://app.example"]).await;

    let mut alice = TestClient::try_connect_with_headers(
        app.port,
        "alice",
        &[("Origin", "https://app.example")],
    )
    .await
    .expect("a listed origin may open /ws");
    alice.join_expecting("kitchen", "created").await;

    let refused = TestClient::try_connect_with_headers(
        app.port,
        "evil page",
        &[("Origin", "https://evil.example")],
    )
    .await;
    assert_eq!(refused.err(), Some(StatusCode::FORBIDDEN));
}

// --- Security headers -------------------------------------------------------------------------

async fn headers_of(client: &reqwest::Client, url: &str) -> HeaderMap {
    let response = client
        .get(url)
        .send()
        .await
        .unwrap_or_else(|err| panic!("GET {url} gets an answer: {err}"));
    assert_eq!(response.status(), StatusCode::OK, "GET {url}");
    response.headers().clone()
}

fn header<'a>(headers: &'a HeaderMap, name: &str, url: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("{url} has no {name} header; headers: {headers:?}"))
        .to_str()
        .unwrap_or_else(|err| panic!("{url}: {name} is not text: {err}"))
}

/// The sources of one CSP directive, e.g. `script-src`.
fn directive<'a>(csp: &'a str, name: &str) -> Vec<&'a str> {
    let found = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("the CSP has no {name} directive: {csp}"));
    found.split_whitespace().skip(1).collect()
}

/// The headers every response must carry, for a server on `app` over plain HTTP.
fn check_plain_http_security_headers(headers: &HeaderMap, app: &TestApp, url: &str) {
    let csp = header(headers, "content-security-policy", url);
    let script_src = directive(csp, "script-src");
    assert!(
        !script_src.iter().any(|s| s.contains("unsafe-inline")),
        "{url}: script-src must not allow inline scripts: {csp}"
    );
    assert!(
        script_src.contains(&"'wasm-unsafe-eval'"),
        "{url}: script-src must allow WebAssembly: {csp}"
    );
    let connect_src = directive(csp, "connect-src");
    assert!(
        connect_src.contains(&"'self'"),
        "{url}: connect-src needs 'self': {csp}"
    );
    let socket = format!("ws://127.0.0.1:{}", app.port);
    assert!(
        connect_src.contains(&socket.as_str()),
        "{url}: connect-src must name the WebSocket {socket}: {csp}"
    );

    assert_eq!(header(headers, "x-content-type-options", url), "nosniff");
    assert!(!header(headers, "referrer-policy", url).is_empty());
    let permissions = header(headers, "permissions-policy", url);
    for feature in [
        "camera=(self)",
        "microphone=(self)",
        "display-capture=(self)",
    ] {
        assert!(
            permissions.contains(feature),
            "{url}: permissions-policy must contain {feature}: {permissions}"
        );
    }
    assert!(
        headers.get("strict-transport-security").is_none(),
        "{url}: HSTS must not be sent over plain HTTP"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_app_pages_and_the_health_check_carry_the_security_headers() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();

    for path in ["/", "/r/kitchen", "/healthz"] {
        let url = app.http_url(path);
        let headers = headers_of(&client, &url).await;
        check_plain_http_security_headers(&headers, &app, &url);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_inline_loader_script_is_allowed_by_its_exact_sha256_hash() {
    assert!(PAGE_WITH_LOADER.contains(&format!("<script type=\"module\">{LOADER}</script>")));
    let app = TestApp::builder()
        .index_html(PAGE_WITH_LOADER)
        .spawn()
        .await;
    let client = reqwest::Client::new();
    let expected = format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(LOADER.as_bytes()))
    );

    for path in ["/", "/r/kitchen"] {
        let url = app.http_url(path);
        let headers = headers_of(&client, &url).await;
        check_plain_http_security_headers(&headers, &app, &url);
        let csp = header(&headers, "content-security-policy", &url);
        let script_src = directive(csp, "script-src");
        assert!(
            script_src.contains(&expected.as_str()),
            "{url}: script-src must allow the loader by its hash {expected}: {csp}"
        );
        // Only the inline script is hashed; the external one is covered by 'self'.
        assert_eq!(
            script_src
                .iter()
                .filter(|s| s.starts_with("'sha256-"))
                .count(),
            1,
            "{url}: exactly one script hash expected: {csp}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn over_tls_the_pages_carry_hsts_and_the_policy_names_wss() {
    let app = TestApp::builder().tls().spawn().await;
    let client = reqwest::Client::builder()
        // The server generated a self-signed certificate into its data directory.
        .danger_accept_invalid_certs(true)
        .build()
        .expect("an HTTPS client");

    for path in ["/", "/healthz"] {
        let url = app.http_url(path);
        assert!(url.starts_with("https://"));
        let headers = headers_of(&client, &url).await;
        assert!(
            !header(&headers, "strict-transport-security", &url).is_empty(),
            "{url}: HSTS must be sent over TLS"
        );
        let csp = header(&headers, "content-security-policy", &url);
        let socket = format!("wss://127.0.0.1:{}", app.port);
        assert!(
            directive(csp, "connect-src").contains(&socket.as_str()),
            "{url}: connect-src must name the WebSocket {socket}: {csp}"
        );
        assert_eq!(header(&headers, "x-content-type-options", &url), "nosniff");
    }
}
