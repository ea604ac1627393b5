//! A first visit to the app, as a browser with an empty cache sees it: the time from navigation
//! to the Call button being enabled, and the bytes each file took over the wire (the browser's
//! own Resource Timing figures, so they include headers and reflect the encoding it was sent).

use std::time::Instant;

use anyhow::{bail, Context as _};
use serde_json::{json, Value};

use crate::{BrowserKind, Person, PAGE_LOAD_TIMEOUT};

/// Installed before the page's own scripts: marks the moment `#callButton` exists and is
/// enabled (`performance.mark`, read back by the harness; nothing is added to the app).
const MARK_INTERACTIVE: &str = "(() => {\n\
  const check = () => {\n\
    const button = document.getElementById('callButton');\n\
    if (button && !button.disabled) {\n\
      performance.mark('e2e:call-enabled');\n\
      observer.disconnect();\n\
    }\n\
  };\n\
  const observer = new MutationObserver(check);\n\
  observer.observe(document, { subtree: true, childList: true, attributes: true,\n\
                               attributeFilter: ['disabled'] });\n\
})();";

/// One file of the page load.
#[derive(Debug, Clone, PartialEq)]
pub struct Transfer {
    /// The file name (last path segment; `/` for the page).
    pub name: String,
    /// Bytes over the wire, headers included (`transferSize`).
    pub transfer: u64,
    /// The body as sent, compressed or not (`encodedBodySize`).
    pub encoded: u64,
    /// The body after decoding (`decodedBodySize`).
    pub decoded: u64,
}

/// What a first visit cost.
#[derive(Debug, Clone)]
pub struct FirstVisit {
    /// From navigation start to the Call button enabled, in milliseconds (page clock).
    pub interactive_ms: f64,
    /// `domContentLoadedEventEnd`, in milliseconds, for comparison.
    pub dom_content_loaded_ms: f64,
    /// The page and every file it loaded.
    pub transfers: Vec<Transfer>,
}

impl FirstVisit {
    /// Everything the visit took over the wire.
    pub fn total_transfer(&self) -> u64 {
        self.transfers.iter().map(|t| t.transfer).sum()
    }

    /// Prints the bytes of each file and the time to interactive.
    pub fn print(&self) {
        println!("first visit (empty cache, loopback):");
        println!(
            "  {:<48} {:>13} {:>10} {:>10}",
            "file", "over the wire", "body sent", "decoded"
        );
        for t in &self.transfers {
            println!(
                "  {:<48} {:>13} {:>10} {:>10}",
                t.name, t.transfer, t.encoded, t.decoded
            );
        }
        println!(
            "  total over the wire: {} bytes (bodies {} bytes); Call button enabled {:.0} ms \
             after navigation (DOMContentLoaded {:.0} ms)",
            self.total_transfer(),
            self.transfers.iter().map(|t| t.encoded).sum::<u64>(),
            self.interactive_ms,
            self.dom_content_loaded_ms
        );
    }
}

/// [`measure_first_visit`] of `base_url` + `path` if the browsers are Chromium (the measurement
/// needs the DevTools Protocol); `None` in other browsers.
pub async fn in_chromium(
    person: &Person,
    base_url: &str,
    path: &str,
) -> anyhow::Result<Option<FirstVisit>> {
    if BrowserKind::from_env() != BrowserKind::Chromium {
        return Ok(None);
    }
    measure_first_visit(person, &format!("{base_url}{path}"))
        .await
        .map(Some)
}

/// Opens `url` in `person`'s browser (Chromium: it needs the DevTools Protocol to mark the button
/// before the app starts) and measures the visit. Use a fresh browser for an empty cache.
pub async fn measure_first_visit(person: &Person, url: &str) -> anyhow::Result<FirstVisit> {
    let installed = person
        .devtools(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": MARK_INTERACTIVE }),
        )
        .await
        .context("installing the interactivity mark")?;
    person
        .client()
        .goto(url)
        .await
        .with_context(|| format!("opening {url}"))?;
    let deadline = Instant::now() + PAGE_LOAD_TIMEOUT;
    let figures = loop {
        let value = person
            .execute(
                "const m = performance.getEntriesByName('e2e:call-enabled')[0];\n\
                 if (!m) return null;\n\
                 const nav = performance.getEntriesByType('navigation')[0];\n\
                 const files = [nav].concat(performance.getEntriesByType('resource'))\n\
                   .map(e => ({ name: e.name, transfer: e.transferSize,\n\
                                encoded: e.encodedBodySize, decoded: e.decodedBodySize }));\n\
                 return { interactive: m.startTime, dcl: nav.domContentLoadedEventEnd, files };",
                vec![],
            )
            .await;
        if !value.is_null() {
            break value;
        }
        if Instant::now() > deadline {
            bail!("the Call button was not enabled within {PAGE_LOAD_TIMEOUT:?} of opening {url}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    if let Some(id) = installed.get("identifier") {
        // Later pages of this browser load without the mark.
        let _ = person
            .devtools(
                "Page.removeScriptToEvaluateOnNewDocument",
                json!({ "identifier": id }),
            )
            .await;
    }
    let number = |v: &Value, key: &str| v.get(key).and_then(Value::as_f64).unwrap_or(0.0);
    let transfers = figures
        .get("files")
        .and_then(Value::as_array)
        .map(|files| {
            files
                .iter()
                .map(|file| Transfer {
                    name: file_name(file.get("name").and_then(Value::as_str).unwrap_or("")),
                    transfer: number(file, "transfer") as u64,
                    encoded: number(file, "encoded") as u64,
                    decoded: number(file, "decoded") as u64,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(FirstVisit {
        interactive_ms: number(&figures, "interactive"),
        dom_content_loaded_ms: number(&figures, "dcl"),
        transfers,
    })
}

/// The last path segment of a URL (`/` for a page at a directory).
fn file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let path = path.split_once("://").map_or(path, |(_, rest)| rest);
    let path = path.split_once('/').map_or("", |(_, rest)| rest);
    match path.rsplit('/').next() {
        Some("") | None => format!("/{path}"),
        Some(name) => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_the_last_segment() {
        assert_eq!(
            file_name("http://127.0.0.1:80/visavis-client-abc_bg.wasm"),
            "visavis-client-abc_bg.wasm"
        );
        assert_eq!(file_name("http://127.0.0.1:80/main.css?x=1"), "main.css");
        assert_eq!(file_name("http://127.0.0.1:80/"), "/");
        assert_eq!(file_name("http://127.0.0.1:80/r/room"), "room");
    }
}
