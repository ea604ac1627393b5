//! A person: one browser session with its own profile, and what they do on the page — open it,
//! click, type, read what it says — each step waiting for the page as a person would.

use std::path::Path;

use fantoccini::{Client, Locator};
use serde_json::{json, Value};

use crate::browser::{BrowserKind, ChromedriverCommand};
use crate::wait::PAGE_LOAD_TIMEOUT;

/// The rows of the `/check` page, in page order. `checkTurnTls` is there only when the server
/// offers its relay over TLS (`<missing>` otherwise).
pub const CHECK_ROWS: [&str; 8] = [
    "checkHost",
    "checkSrflx",
    "checkRelay",
    "checkTurnUdp",
    "checkTurnTcp",
    "checkTurnTls",
    "checkCamera",
    "checkMicrophone",
];

/// One row of the `/check` page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRow {
    /// The row's element id, e.g. `checkRelay`.
    pub id: String,
    /// Its `data-result`: `pending`, `ok`, `fail` or `skipped` (`<missing>` without the row).
    pub result: String,
    /// What the row says.
    pub text: String,
}

/// The rows of the `/check` page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRows(pub Vec<CheckRow>);

impl CheckRows {
    /// The `data-result` of the row `id`, or `<missing>`.
    pub fn result(&self, id: &str) -> &str {
        self.0
            .iter()
            .find(|row| row.id == id)
            .map_or("<missing>", |row| row.result.as_str())
    }
}

/// One simulated person: a browser session with its own profile.
#[derive(Clone)]
pub struct Person {
    pub(crate) name: String,
    pub(crate) client: Client,
    pub(crate) base_url: String,
    pub(crate) browser: BrowserKind,
}

impl Person {
    /// The person's name in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Opens pages from `base_url` (e.g. a load balancer in front of several nodes) instead
    /// of the test's app.
    pub fn use_base_url(&mut self, base_url: &str) {
        self.base_url = base_url.to_owned();
    }

    /// The underlying WebDriver client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Navigates to `page_path` (e.g. `/r/room`) of the app and waits until the app has
    /// rendered its call controls and published a call state.
    pub async fn open(&self, page_path: &str) {
        let url = format!("{}{}", self.base_url, page_path);
        if let Err(error) = self.client.goto(&url).await {
            panic!("{} could not open {url}: {error}", self.name);
        }
        self.wait_until(
            "document.getElementById('callButton') !== null \
             && document.getElementById('roomName') !== null \
             && typeof document.body.dataset.callState === 'string'",
            PAGE_LOAD_TIMEOUT,
            &format!("the app to render on {url}"),
        )
        .await;
    }

    /// Clicks the element with this id, once it is enabled.
    pub async fn click(&self, id: &str) {
        self.wait_for_enabled(id).await;
        let element = self.find(id).await;
        if let Err(error) = element.click().await {
            panic!(
                "{} could not click #{id}: {error} (call state: {})",
                self.name,
                self.call_state().await
            );
        }
    }

    /// Replaces the content of the input with this id by `text`, typed key by key, once the
    /// input is enabled.
    pub async fn type_into(&self, id: &str, text: &str) {
        self.wait_for_enabled(id).await;
        let element = self.find(id).await;
        if let Err(error) = element.clear().await {
            panic!("{} could not clear #{id}: {error}", self.name);
        }
        if let Err(error) = element.send_keys(text).await {
            panic!("{} could not type into #{id}: {error}", self.name);
        }
    }

    /// Presses Enter in the element with this id, once it is enabled.
    pub async fn press_enter(&self, id: &str) {
        self.wait_for_enabled(id).await;
        let element = self.find(id).await;
        let enter = fantoccini::key::Key::Enter.to_string();
        if let Err(error) = element.send_keys(&enter).await {
            panic!("{} could not press Enter in #{id}: {error}", self.name);
        }
    }

    async fn find(&self, id: &str) -> fantoccini::elements::Element {
        match self.client.find(Locator::Id(id)).await {
            Ok(element) => element,
            Err(error) => panic!(
                "{} has no element #{id}: {error} (call state: {})",
                self.name,
                self.call_state().await
            ),
        }
    }

    /// Runs a script (a function body, `return` gives the result) in the page.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        match self.client.execute(script, args).await {
            Ok(value) => value,
            Err(error) => panic!("{}: script failed: {error}\nscript: {script}", self.name),
        }
    }

    /// `document.body.dataset.callState`, or `<unset>` / `<unreadable: ...>`.
    pub async fn call_state(&self) -> String {
        let read = self
            .client
            .execute(
                "return document.body ? document.body.dataset.callState ?? null : null;",
                vec![],
            )
            .await;
        match read {
            Ok(Value::String(state)) => state,
            Ok(Value::Null) => "<unset>".to_owned(),
            Ok(other) => format!("<unexpected: {other}>"),
            Err(error) => format!("<unreadable: {error}>"),
        }
    }

    /// The `textContent` of the element with this id (empty if there is none).
    pub async fn text_of(&self, id: &str) -> String {
        let value = self
            .execute(
                "const e = document.getElementById(arguments[0]); return e ? e.textContent : '';",
                vec![json!(id)],
            )
            .await;
        value.as_str().unwrap_or_default().to_owned()
    }

    /// The text of the status line (`#status`), or `<none>`.
    pub async fn status_text(&self) -> String {
        let read = self
            .client
            .execute(
                "const e = document.getElementById('status'); return e ? e.textContent : null;",
                vec![],
            )
            .await;
        match read {
            Ok(Value::String(text)) => text,
            Ok(_) => "<none>".to_owned(),
            Err(error) => format!("<unreadable: {error}>"),
        }
    }

    /// Sends a chat message by typing it and clicking the send button.
    pub async fn send_chat(&self, text: &str) {
        self.type_into("dataChannelInput", text).await;
        self.click("sendButton").await;
    }

    /// Sends a chat message by typing it and pressing Enter.
    pub async fn send_chat_with_enter(&self, text: &str) {
        self.type_into("dataChannelInput", text).await;
        self.press_enter("dataChannelInput").await;
    }

    /// Navigates to `page_path` and waits until `ready_js` (a JavaScript expression) holds.
    pub async fn open_page(&self, page_path: &str, ready_js: &str, description: &str) {
        let url = format!("{}{}", self.base_url, page_path);
        if let Err(error) = self.client.goto(&url).await {
            panic!("{} could not open {url}: {error}", self.name);
        }
        self.wait_until(
            ready_js,
            PAGE_LOAD_TIMEOUT,
            &format!("{description} on {url}"),
        )
        .await;
    }

    /// Opens `/check` and waits until it has rendered its rows and published its state.
    pub async fn open_check(&self) {
        self.open_page(
            "/check",
            "document.getElementById('checkRelay') !== null \
             && typeof document.body.dataset.checkState === 'string'",
            "the connectivity check to render",
        )
        .await;
    }

    /// The `/check` page's sentence on the relay transports (`#checkTurnSummary`), or `None`
    /// while the page has not concluded.
    pub async fn check_turn_summary(&self) -> Option<String> {
        let value = self
            .execute(
                "const e = document.getElementById('checkTurnSummary');\n\
                 return e && e.dataset.ready === 'true' ? e.textContent.trim() : null;",
                vec![],
            )
            .await;
        value.as_str().map(str::to_owned)
    }

    /// Each `/check` row's `data-result` and text, in [`CHECK_ROWS`] order.
    pub async fn check_rows(&self) -> CheckRows {
        let value = self
            .execute(
                "return arguments[0].map((id) => {\n\
                     const e = document.getElementById(id);\n\
                     return [id, e ? (e.dataset.result ?? '<unset>') : '<missing>',\n\
                             e ? e.textContent.trim() : ''];\n\
                 });",
                vec![json!(CHECK_ROWS)],
            )
            .await;
        let text = |row: &Value, i: usize| row[i].as_str().unwrap_or_default().to_owned();
        CheckRows(
            value
                .as_array()
                .map(|rows| {
                    rows.iter()
                        .map(|row| CheckRow {
                            id: text(row, 0),
                            result: text(row, 1),
                            text: text(row, 2),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        )
    }

    /// A one-line description of the page: URL, call state, status line.
    pub async fn describe(&self) -> String {
        let url = match self.client.current_url().await {
            Ok(url) => url.to_string(),
            Err(error) => format!("<unknown url: {error}>"),
        };
        format!(
            "{url} call state: {} status: {:?}",
            self.call_state().await,
            self.status_text().await
        )
    }

    /// The browser console messages since the last call (best effort; empty if the browser
    /// cannot give them).
    pub async fn console_log(&self) -> Vec<String> {
        match self.browser {
            BrowserKind::Chromium => match self
                .client
                .issue_cmd(ChromedriverCommand::browser_log())
                .await
            {
                Ok(Value::Array(entries)) => entries
                    .iter()
                    .map(|entry| {
                        format!(
                            "[{}] {}",
                            entry["level"].as_str().unwrap_or("?"),
                            entry["message"].as_str().unwrap_or_default()
                        )
                    })
                    .collect(),
                Ok(other) => vec![format!("(unexpected log answer: {other})")],
                Err(error) => vec![format!("(could not read the console log: {error})")],
            },
            BrowserKind::Firefox => vec![
                "(geckodriver has no console-log endpoint: Firefox's console messages are in \
                 the firefoxdriver.log saved next to this file)"
                    .to_owned(),
            ],
        }
    }

    /// Saves a screenshot of the page to `path` (best effort).
    pub async fn save_screenshot(&self, path: &Path) -> anyhow::Result<()> {
        let bytes = self.client.screenshot().await?;
        std::fs::write(path, bytes)?;
        Ok(())
    }

    /// Runs one Chrome DevTools Protocol command in this person's browser (Chromium only).
    pub async fn devtools(
        &self,
        method: &'static str,
        params: Value,
    ) -> Result<Value, fantoccini::error::CmdError> {
        self.client
            .issue_cmd(ChromedriverCommand::devtools(method, params))
            .await
    }
}
