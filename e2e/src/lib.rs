//! Shared helpers for the browser end-to-end tests: the app under test, the WebDriver process,
//! one browser session per simulated person, page helpers that poll page state, and diagnostics
//! (screenshots and browser console logs) when a test fails.
//!
//! A test is written as
//!
//! ```text
//! #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
//! async fn something_works() {
//!     run_browser_test(|ctx| async move {
//!         let alice = ctx.person("alice").await;
//!         alice.open("/r/some-room").await;
//!         // ...
//!     })
//!     .await;
//! }
//! ```
//!
//! Tests that need more than the plain app use [`run_browser_test_with`]: a setup step (run once
//! the test's turn has come) returns [`AppOptions`] (extra server flags, e.g. the built-in TURN
//! relay) and whatever the body needs, such as a coturn process from [`turn::Coturn`]. People
//! whose pages are watched ([`Person::watch_peer_connections`]) let the test read `getStats()`
//! itself, independently of what the app displays.
//!
//! Every wait polls the page (about every 100 ms) until a condition holds or a timeout passes;
//! nothing waits by sleeping a fixed time. Browser tests run one at a time within a process
//! (see [`TestContext::start`]), because each one starts several browsers and the machines that
//! run them are small.
//!
//! The harness is split by responsibility; everything is re-exported here, so tests name it as
//! `visavis_e2e::Person`, `visavis_e2e::TestContext`, ...:
//!
//! - [`browser`]: launching browsers and their WebDriver servers;
//! - [`app`]: running the visavis server under test (coturn runs from [`turn`]);
//! - [`context`]: a test's world (the app, the drivers, the people) and its diagnostics;
//! - [`person`]: a person and their page: opening it, clicking, typing, reading;
//! - [`wait`]: waiting on page state, and the timeouts;
//! - [`turn`]: TURN: coturn, STUN probes, relay ports and allocations;
//! - [`cluster`]: cluster mode: Redis, nodes as child processes, HAProxy in front;
//! - [`measure`]: what a test measures itself: video samples, tracks, `getStats()` pairs;
//! - [`media_flow`]: what a call sends and receives, and what the video sender was asked;
//! - [`netns`]: a degraded network for one browser (a namespace, a veth pair, loss and a rate limit);
//! - [`floor`], [`setup_steps`], [`first_visit`]: `measure_setup`'s in-page floor of call set-up,
//!   the app's per-step performance marks, and a first visit's bytes and time to interactive;
//! - [`flows`]: room names and links, and two people getting into a call;
//! - [`paths`]: where the workspace, the client build and the diagnostics are.

pub mod app;
pub mod browser;
pub mod cluster;
pub mod context;
pub mod first_visit;
pub mod floor;
pub mod flows;
pub mod measure;
pub mod media_flow;
pub mod netns;
pub mod paths;
pub mod person;
pub mod setup_steps;
pub mod turn;
pub mod turn_transports;
pub mod wait;

pub use app::{AppOptions, SharedLog, TestApp};
pub use browser::{BrowserKind, BrowserOptions, DriverProcess};
pub use context::{run_browser_test, run_browser_test_for, run_browser_test_with, TestContext};
pub use flows::{
    call_between, connect_pair, connect_pair_at, relay_room_path, room_path, unique_room,
};
pub use measure::{
    is_playing, is_playing_in, CandidateInfo, HangUpReport, SelectedPair, VideoSample,
};
pub use media_flow::{median, MediaReading};
pub use paths::{dist_dir, screenshot_dir, target_dir, workspace_root};
pub use person::{CheckRow, CheckRows, Person, CHECK_ROWS};
pub use wait::{CONNECT_TIMEOUT, PAGE_LOAD_TIMEOUT, STEP_TIMEOUT, TEST_TIMEOUT, VIDEO_TIMEOUT};
