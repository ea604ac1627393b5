//! The plain HTTP routes: the health check, the app and its single-page fallback.

use reqwest::header::CONTENT_TYPE;
use reqwest::StatusCode;

use crate::helpers::{spawn_app, INDEX_HTML};

fn content_type(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_health_check_answers_200_with_a_non_html_body() {
    let app = spawn_app().await;

    let response = reqwest::get(app.http_url("/healthz"))
        .await
        .expect("GET /healthz gets an answer");

    assert_eq!(response.status(), StatusCode::OK);
    let kind = content_type(&response);
    assert!(!kind.is_empty(), "/healthz must declare a content type");
    assert!(
        !kind.contains("text/html"),
        "/healthz must not be HTML, got content type {kind:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_root_serves_the_index_html() {
    let app = spawn_app().await;

    let response = reqwest::get(app.http_url("/"))
        .await
        .expect("GET / gets an answer");

    assert_eq!(response.status(), StatusCode::OK);
    let kind = content_type(&response);
    assert!(
        kind.contains("text/html"),
        "/ must be HTML, got content type {kind:?}"
    );
    assert_eq!(response.text().await.expect("a body"), INDEX_HTML);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_room_path_falls_back_to_the_index_html() {
    let app = spawn_app().await;

    let response = reqwest::get(app.http_url("/r/some-room"))
        .await
        .expect("GET /r/some-room gets an answer");

    assert_eq!(response.status(), StatusCode::OK);
    let kind = content_type(&response);
    assert!(
        kind.contains("text/html"),
        "/r/some-room must be HTML, got content type {kind:?}"
    );
    assert_eq!(response.text().await.expect("a body"), INDEX_HTML);
}
