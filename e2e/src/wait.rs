//! Waiting and assertions: every wait polls the page (about every [`POLL_INTERVAL`]) until a
//! condition holds or a timeout passes, and a timeout panics with what the page showed last.
//! Nothing here sleeps a fixed time to let something happen.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::measure::{is_playing_in, SelectedPair, VideoSample};
use crate::person::{CheckRows, Person};

/// How long a page may take to load and start the app (the WASM module is compiled on load,
/// which is slow with several browsers on two cores).
pub const PAGE_LOAD_TIMEOUT: Duration = Duration::from_secs(60);
/// How long two people may take to get from clicking Call to `connected`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a remote video may take to show decoded, moving frames once connected.
pub const VIDEO_TIMEOUT: Duration = Duration::from_secs(30);
/// How long anything else the page does in response to a click may take.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(20);
/// The upper bound for one whole browser test, diagnostics aside.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(360);

/// How often page state is polled.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(100);

impl Person {
    /// Waits until the element with this id exists and is enabled, as a person waits for a
    /// greyed-out control before using it.
    pub async fn wait_for_enabled(&self, id: &str) {
        let literal = json!(id).to_string();
        self.wait_until(
            &format!(
                "document.getElementById({literal}) !== null \
                 && !document.getElementById({literal}).disabled"
            ),
            STEP_TIMEOUT,
            &format!("#{id} to be enabled"),
        )
        .await;
    }

    /// Polls `js_expression` (a JavaScript expression) about every 100 ms until it is truthy;
    /// panics after `timeout` with `description` and the last call state.
    pub async fn wait_until(&self, js_expression: &str, timeout: Duration, description: &str) {
        let script = format!("return !!({js_expression});");
        let deadline = Instant::now() + timeout;
        loop {
            let last_error = match self.client.execute(&script, vec![]).await {
                Ok(Value::Bool(true)) => return,
                Ok(_) => None,
                Err(error) => Some(error.to_string()),
            };
            if Instant::now() >= deadline {
                let state = self.call_state().await;
                let status = self.status_text().await;
                panic!(
                    "{}: timed out after {timeout:?} waiting for {description}\n\
                     last call state: {state}\nstatus line: {status:?}\n\
                     condition: {js_expression}{}",
                    self.name,
                    last_error
                        .map(|e| format!("\nlast script error: {e}"))
                        .unwrap_or_default()
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Waits until the call state is `expected`.
    pub async fn wait_for_call_state(&self, expected: &str, timeout: Duration) {
        let literal = json!(expected).to_string();
        self.wait_until(
            &format!("document.body.dataset.callState === {literal}"),
            timeout,
            &format!("call state {expected:?}"),
        )
        .await;
    }

    /// Waits until the video element `id` plays: its `videoWidth` is above 0 and its decoded
    /// frame count grew between two polls (in headless Firefox, which counts no frames: its
    /// `currentTime` advanced between two polls).
    pub async fn wait_for_video_playing(&self, id: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut previous: Option<VideoSample> = None;
        let mut last: Option<VideoSample> = None;
        loop {
            let sample = self.video_sample(id).await;
            if let Some(now) = sample {
                if is_playing_in(self.browser, previous, now) {
                    return;
                }
                previous = Some(now);
            }
            last = sample.or(last);
            if Instant::now() >= deadline {
                let progress = if self.browser.counts_video_frames() {
                    "growing totalVideoFrames"
                } else {
                    "advancing currentTime"
                };
                panic!(
                    "{} ({}): #{id} did not play within {timeout:?} (videoWidth > 0 and \
                     {progress}); last sample: {last:?}; call state: {}; status: {:?}",
                    self.name,
                    self.browser.name(),
                    self.call_state().await,
                    self.status_text().await
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Waits until the remote video plays (see [`Person::wait_for_video_playing`]).
    pub async fn remote_video_playing(&self) {
        self.wait_for_video_playing("remoteVideo", VIDEO_TIMEOUT)
            .await;
    }

    /// Waits until the local video shows the camera (`videoWidth > 0`).
    pub async fn local_video_showing(&self) {
        self.wait_until(
            "document.getElementById('localVideo') !== null \
             && document.getElementById('localVideo').videoWidth > 0",
            STEP_TIMEOUT,
            "the local video to show the camera (localVideo.videoWidth > 0)",
        )
        .await;
    }

    /// Waits until the chat log's text contains `text`.
    pub async fn wait_for_chat_text(&self, text: &str) {
        let literal = json!(text).to_string();
        self.wait_until(
            &format!(
                "document.getElementById('dataChannelOutput') !== null \
                 && document.getElementById('dataChannelOutput').textContent.includes({literal})"
            ),
            STEP_TIMEOUT,
            &format!("the chat log to show {text:?}"),
        )
        .await;
    }

    /// Polls [`Person::selected_pair`] until there is a pair that has received bytes; panics
    /// after `timeout` with the last answer.
    pub async fn wait_for_selected_pair(&self, timeout: Duration) -> SelectedPair {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.selected_pair().await {
                Ok(pair) if pair.bytes_received > 0 => return pair,
                Ok(pair) => format!("{pair:?}"),
                Err(error) => error,
            };
            if Instant::now() >= deadline {
                panic!(
                    "{}: no selected candidate pair with received bytes within {timeout:?}; \
                     last: {last}; call state: {}; status: {:?}",
                    self.name,
                    self.call_state().await,
                    self.status_text().await
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Polls `#mediaPath` for up to [`STEP_TIMEOUT`] until the page reports a path; `None` if
    /// it never does (e.g. a client without the element).
    pub async fn wait_for_media_path_report(&self) -> Option<String> {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let path = self.media_path().await;
            if path.is_some() || Instant::now() >= deadline {
                return path;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Waits until `#mediaPath` says `expected` (`direct` or `relay`).
    pub async fn wait_for_media_path(&self, expected: &str) {
        let literal = json!(expected).to_string();
        self.wait_until(
            &format!(
                "document.getElementById('mediaPath') !== null \
                 && document.getElementById('mediaPath').dataset.path === {literal}"
            ),
            STEP_TIMEOUT,
            &format!("#mediaPath[data-path={expected}]"),
        )
        .await;
    }

    /// Waits until the `/check` page says `data-check-state="done"`, then returns its rows.
    pub async fn wait_for_check_done(&self, timeout: Duration) -> CheckRows {
        self.wait_until(
            "document.body.dataset.checkState === 'done'",
            timeout,
            "the connectivity check to finish (data-check-state=done)",
        )
        .await;
        self.check_rows().await
    }
}
