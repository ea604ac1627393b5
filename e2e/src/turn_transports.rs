//! Helpers for the TURN-transport browser tests and measurements: browsers that cannot use UDP,
//! people left with one way into the relay, a test certificate for TURN over TLS, keeping only some ICE server URLs in a page, and reading the
//! app's own metrics (what its built-in relay says it carried).

use std::time::Duration;

use anyhow::{bail, Context as _};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::{BrowserOptions, Person, TestContext};

/// The host name the TLS tests' certificate is issued for, and that `turns:` URLs carry (it
/// resolves to loopback everywhere).
pub const TLS_HOST: &str = "localhost";

/// The bearer token the tests start the app with, to read `/metrics`.
pub const METRICS_TOKEN: &str = "e2e-metrics-token";

/// How long a metrics request may take.
const METRICS_TIMEOUT: Duration = Duration::from_secs(10);

/// Chromium that can send no UDP at all: `disable_non_proxied_udp` (as the command-line switch
/// and as the profile preference) allows UDP only through a proxy, and there is none, so host,
/// srflx and TURN-over-UDP candidates are all impossible; only TURN over TCP or TLS remains.
/// It also accepts the test certificate of a TLS relay: Chromium checks TURN-over-TLS
/// certificates like HTTPS ones (without this flag a self-signed relay fails with ICE error
/// 701), and `--ignore-certificate-errors` applies to them too.
pub fn no_udp_browser() -> BrowserOptions {
    BrowserOptions {
        args: vec![
            "--force-webrtc-ip-handling-policy=disable_non_proxied_udp".to_owned(),
            "--ignore-certificate-errors".to_owned(),
        ],
        prefs: Some(json!({
            "webrtc": { "ip_handling_policy": "disable_non_proxied_udp" }
        })),
    }
}

/// The one way into a TURN relay a person's browser is left with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayWay {
    /// A normal browser whose pages keep only the `?transport=udp` TURN URLs.
    Udp,
    /// A browser that cannot send UDP ([`no_udp_browser`]): TURN over TCP is preferred over TLS.
    Tcp,
    /// A browser that cannot send UDP, whose pages keep only the `turns:` URLs.
    Tls,
}

impl RelayWay {
    /// The `relayProtocol` a relay candidate reached this way has.
    pub fn relay_protocol(self) -> &'static str {
        match self {
            RelayWay::Udp => "udp",
            RelayWay::Tcp => "tcp",
            RelayWay::Tls => "tls",
        }
    }

    /// A person in `ctx` whose browser can reach the relay only this way, with the
    /// peer-connection probe installed (so [`Person::wait_for_selected_pair`] works).
    pub async fn person(self, ctx: &TestContext, name: &str) -> Person {
        let person = match self {
            RelayWay::Udp => ctx.person(name).await,
            RelayWay::Tcp | RelayWay::Tls => ctx.person_with_browser(name, &no_udp_browser()).await,
        };
        person.watch_peer_connections().await;
        match self {
            RelayWay::Udp => keep_only_ice_urls(&person, "^turn:.*[?&]transport=udp").await,
            RelayWay::Tls => keep_only_ice_urls(&person, "^turns:").await,
            RelayWay::Tcp => {}
        }
        person
    }
}

/// A self-signed certificate and its key, both PEM.
pub struct TestCertificate {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PEM.
    pub key_pem: String,
}

/// A fresh self-signed certificate for [`TLS_HOST`] and `127.0.0.1`.
pub fn test_certificate() -> anyhow::Result<TestCertificate> {
    let generated =
        rcgen::generate_simple_self_signed(vec![TLS_HOST.to_owned(), "127.0.0.1".to_owned()])
            .context("generating the test certificate")?;
    Ok(TestCertificate {
        cert_pem: generated.cert.pem(),
        key_pem: generated.key_pair.serialize_pem(),
    })
}

/// Makes every page this person opens from now on hand its peer connections only the ICE
/// server URLs matching the JavaScript regular expression `keep` (servers left without URLs
/// are dropped), on creation and on `setConfiguration`. For a TLS test: `^turns:` keeps a
/// relay's TLS URL and drops its UDP and TCP ones, as a network that lets only TLS out would.
/// Install it after [`Person::watch_peer_connections`], so the probe still sees every
/// connection.
pub async fn keep_only_ice_urls(person: &Person, keep: &str) {
    let source = FILTER_SCRIPT.replace("__KEEP__", &json!(keep).to_string());
    if let Err(error) = person
        .devtools(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": source }),
        )
        .await
    {
        panic!(
            "{}: could not install the ICE URL filter: {error}",
            person.name()
        );
    }
}

/// Wraps whatever `RTCPeerConnection` is now (the harness's probe, if installed) in a subclass
/// that filters `iceServers` URLs by `__KEEP__` (a JSON string, the regexp source).
const FILTER_SCRIPT: &str = r#"(() => {
  const Inner = window.RTCPeerConnection;
  if (typeof Inner !== 'function') return;
  const keep = new RegExp(__KEEP__, 'i');
  const filter = (config) => {
    if (!config || !Array.isArray(config.iceServers)) return config;
    const servers = config.iceServers
      .map((server) => Object.assign({}, server,
        { urls: [].concat(server.urls || []).filter((u) => keep.test(String(u))) }))
      .filter((server) => server.urls.length > 0);
    return Object.assign({}, config, { iceServers: servers });
  };
  class FilteredPeerConnection extends Inner {
    constructor(config, ...rest) { super(filter(config), ...rest); }
    setConfiguration(config) { return super.setConfiguration(filter(config)); }
  }
  window.RTCPeerConnection = FilteredPeerConnection;
})();"#;

/// The app's `/metrics` text, read over plain HTTP from `127.0.0.1:port` with
/// [`METRICS_TOKEN`] (start the app with `--metrics-token`).
pub async fn app_metrics(port: u16) -> anyhow::Result<String> {
    let request = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .context("connecting to the app")?;
        let head = format!(
            "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer \
             {METRICS_TOKEN}\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        anyhow::Ok(String::from_utf8_lossy(&response).into_owned())
    };
    let response = tokio::time::timeout(METRICS_TIMEOUT, request)
        .await
        .context("the metrics request timed out")??;
    let Some((status, body)) = response.split_once("\r\n\r\n") else {
        bail!("a malformed HTTP response: {response:?}");
    };
    if !status.starts_with("HTTP/1.1 200") {
        bail!("/metrics answered {status:?}");
    }
    Ok(decode_chunked(body))
}

/// The body of a `Transfer-Encoding: chunked` response, or `body` unchanged if it is not one.
fn decode_chunked(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    loop {
        let Some((size, after)) = rest.split_once("\r\n") else {
            return body.to_owned();
        };
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            return body.to_owned();
        };
        if size == 0 {
            return out;
        }
        let Some(chunk) = after.get(..size) else {
            return body.to_owned();
        };
        out.push_str(chunk);
        rest = after.get(size + 2..).unwrap_or_default();
    }
}

/// The value of the sample `series` (a metric name with its labels, exactly as the text format
/// writes it, e.g. `visavis_turn_allocations_total{transport="tcp"}`), or 0 if absent.
pub fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .filter_map(|line| line.strip_prefix(series))
        .filter_map(|value| value.strip_prefix(' '))
        .find_map(|value| value.trim().parse().ok())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_read_by_their_exact_series() {
        let text = "# HELP x\nvisavis_turn_allocations_total{transport=\"tcp\"} 2\n\
                    visavis_turn_allocations_total{transport=\"tls\"} 1\n";
        assert_eq!(
            metric(text, "visavis_turn_allocations_total{transport=\"tcp\"}"),
            2.0
        );
        assert_eq!(
            metric(text, "visavis_turn_allocations_total{transport=\"udp\"}"),
            0.0
        );
    }

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(
            decode_chunked("5\r\nhello\r\n1\r\n!\r\n0\r\n\r\n"),
            "hello!"
        );
        assert_eq!(decode_chunked("plain text"), "plain text");
    }
}
