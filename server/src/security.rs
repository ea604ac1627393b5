//! Security headers for every response, and the Origin check for WebSocket upgrades.
//!
//! The Content-Security-Policy allows no inline script except the exact loader Trunk writes into
//! `index.html`, which is allowed by its SHA-256 hash computed when the server starts.

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use base64::Engine;
use sha2::{Digest, Sha256};

/// The static part of the headers, computed once at start-up.
#[derive(Debug, Clone)]
pub struct SecurityHeaders {
    /// `'sha256-…'` sources for each inline script of the page.
    script_hashes: String,
    /// Whether the server speaks TLS (then HSTS is sent).
    tls: bool,
}

impl SecurityHeaders {
    /// Prepares the headers for a page whose HTML is `index_html`.
    pub fn new(index_html: &str, tls: bool) -> SecurityHeaders {
        let script_hashes = inline_scripts(index_html)
            .iter()
            .map(|script| {
                let digest = Sha256::digest(script.as_bytes());
                format!(
                    " 'sha256-{}'",
                    base64::engine::general_purpose::STANDARD.encode(digest)
                )
            })
            .collect();
        SecurityHeaders { script_hashes, tls }
    }

    /// The Content-Security-Policy for a request to `host` (the `Host` header).
    pub fn content_security_policy(&self, host: Option<&str>) -> String {
        // connect-src names the WebSocket explicitly: older browsers do not let 'self' cover
        // ws: and wss:.
        let socket = match host.filter(|h| is_plain_host(h)) {
            Some(host) if self.tls => format!(" wss://{host}"),
            Some(host) => format!(" ws://{host} wss://{host}"),
            None => String::new(),
        };
        format!(
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; \
             style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; \
             media-src 'self' blob: mediastream:; connect-src 'self'{socket}; \
             object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
            hashes = self.script_hashes
        )
    }

    /// Adds every security header to a response.
    pub fn apply(&self, host: Option<&str>, headers: &mut HeaderMap) {
        let csp = self.content_security_policy(host);
        if let Ok(value) = HeaderValue::from_str(&csp) {
            headers.insert(HeaderName::from_static("content-security-policy"), value);
        }
        let fixed: [(&str, &str); 5] = [
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
            (
                "permissions-policy",
                "camera=(self), microphone=(self), display-capture=(self), geolocation=()",
            ),
            ("x-frame-options", "DENY"),
            ("cross-origin-opener-policy", "same-origin"),
        ];
        for (name, value) in fixed {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        if self.tls {
            headers.insert(
                HeaderName::from_static("strict-transport-security"),
                HeaderValue::from_static("max-age=31536000"),
            );
        }
    }
}

/// Whether a Host header value is a plain `host[:port]`, safe to put into a policy.
fn is_plain_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

/// The bodies of the `<script>` elements without a `src` attribute.
fn inline_scripts(html: &str) -> Vec<&str> {
    let mut scripts = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        let after_tag = &rest[start..];
        let Some(tag_end) = after_tag.find('>') else {
            break;
        };
        let tag = &after_tag[..tag_end];
        let body_and_more = &after_tag[tag_end + 1..];
        let Some(close) = body_and_more.find("</script>") else {
            break;
        };
        if !tag.contains(" src=") && !tag.contains(" src =") {
            scripts.push(&body_and_more[..close]);
        }
        rest = &body_and_more[close..];
    }
    scripts
}

/// Whether a WebSocket upgrade with this `Origin` may proceed.
///
/// Browsers always send Origin on WebSocket upgrades, so a missing one means a non-browser
/// client, which cross-site request forgery cannot reach: allowed. Otherwise the origin must be
/// the page's own (its host and port equal the `Host` header; the scheme is not compared because
/// a TLS-terminating proxy may sit in between) or be listed in `allowed`.
pub fn origin_allowed(origin: Option<&str>, host: Option<&str>, allowed: &[String]) -> bool {
    let Some(origin) = origin else { return true };
    if allowed
        .iter()
        .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let authority = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
    match host {
        Some(host) => !authority.is_empty() && authority.eq_ignore_ascii_case(host),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<html><head><script type="module">import init from '/a.js';</script>
<script src="/b.js"></script></head><body></body></html>"#;

    #[test]
    fn only_inline_scripts_are_hashed() {
        assert_eq!(inline_scripts(PAGE), vec!["import init from '/a.js';"]);
    }

    #[test]
    fn the_policy_allows_the_loader_by_hash_and_never_unsafe_inline_scripts() {
        let csp = SecurityHeaders::new(PAGE, true).content_security_policy(Some("example.org"));
        let script_src = csp
            .split(';')
            .find(|d| d.trim().starts_with("script-src"))
            .expect("test fixture is valid");
        assert!(script_src.contains("'sha256-"));
        assert!(script_src.contains("'wasm-unsafe-eval'"));
        assert!(!script_src.contains("unsafe-inline"));
        assert!(csp.contains("connect-src 'self' wss://example.org;"));
    }

    #[test]
    fn a_hostile_host_header_is_left_out_of_the_policy() {
        let csp = SecurityHeaders::new(PAGE, false)
            .content_security_policy(Some("evil.org; script-src *"));
        assert!(csp.contains("connect-src 'self';"));
    }

    #[test]
    fn hsts_is_sent_only_with_tls() {
        let mut headers = HeaderMap::new();
        SecurityHeaders::new(PAGE, false).apply(None, &mut headers);
        assert!(!headers.contains_key("strict-transport-security"));
        SecurityHeaders::new(PAGE, true).apply(None, &mut headers);
        assert!(headers.contains_key("strict-transport-security"));
    }

    #[test]
    fn same_origin_is_allowed() {
        assert!(origin_allowed(
            Some("https://calls.example.org"),
            Some("calls.example.org"),
            &[]
        ));
        assert!(origin_allowed(
            Some("http://127.0.0.1:8080"),
            Some("127.0.0.1:8080"),
            &[]
        ));
    }

    #[test]
    fn a_foreign_origin_is_refused() {
        assert!(!origin_allowed(
            Some("https://evil.example"),
            Some("calls.example.org"),
            &[]
        ));
        assert!(!origin_allowed(
            Some("null"),
            Some("calls.example.org"),
            &[]
        ));
    }

    #[test]
    fn a_listed_origin_is_allowed() {
        let allowed = vec!["https://app.example.org".to_owned()];
        assert!(origin_allowed(
            Some("https://app.example.org"),
            Some("calls.example.org"),
            &allowed
        ));
    }

    #[test]
    fn no_origin_means_a_non_browser_client_and_is_allowed() {
        assert!(origin_allowed(None, Some("calls.example.org"), &[]));
    }
}
