//! A test's world: the app, the WebDriver servers and the people, started for one browser test
//! at a time per process, and torn down (with diagnostics if it failed) when the test ends.

mod diagnostics;

use std::any::Any;
use std::future::Future;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use fantoccini::wd::TimeoutConfiguration;
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::Value;
use tokio::sync::{Mutex, Semaphore, SemaphorePermit};

use crate::app::{AppOptions, SharedLog, TestApp};
use crate::browser::{BrowserKind, BrowserOptions, DriverProcess};
use crate::paths::dist_dir;
use crate::person::Person;
use crate::wait::{PAGE_LOAD_TIMEOUT, TEST_TIMEOUT};

/// Browser tests in one process run one at a time: each starts two or three browsers.
static BROWSER_TEST_SLOTS: Semaphore = Semaphore::const_new(1);

struct SessionRecord {
    name: String,
    browser: BrowserKind,
    client: Client,
    /// The browser's main process, as its WebDriver server reported it, if it did.
    browser_pid: Option<u32>,
    _profile: tempfile::TempDir,
}

struct ContextInner {
    test_name: String,
    browser: BrowserKind,
    app: TestApp,
    driver: DriverProcess,
    /// Drivers for browsers other than `browser`, started when a person first needs one (see
    /// [`TestContext::person_in`]).
    other_drivers: Mutex<Vec<DriverProcess>>,
    sessions: Mutex<Vec<SessionRecord>>,
    log_sources: Vec<(String, SharedLog)>,
    _slot: SemaphorePermit<'static>,
}

impl Drop for ContextInner {
    /// Browsers whose sessions were not closed (the test's process is failing) would outlive
    /// their WebDriver server: end them by their process id.
    fn drop(&mut self) {
        for session in self.sessions.get_mut().drain(..) {
            if let Some(pid) = session.browser_pid {
                let _ = Command::new("kill")
                    .arg(pid.to_string())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

/// Waits until no other browser test of this process runs.
async fn browser_test_slot() -> anyhow::Result<SemaphorePermit<'static>> {
    BROWSER_TEST_SLOTS
        .acquire()
        .await
        .context("the browser-test semaphore was closed")
}

/// Everything one browser test runs against. Cheap to clone.
#[derive(Clone)]
pub struct TestContext {
    inner: Arc<ContextInner>,
}

impl TestContext {
    /// Waits for this process's browser-test slot, then starts the app and the WebDriver server.
    pub async fn start(test_name: &str) -> anyhow::Result<TestContext> {
        TestContext::start_with(test_name, AppOptions::default()).await
    }

    /// Like [`TestContext::start`], with the app started with `options`.
    pub async fn start_with(test_name: &str, options: AppOptions) -> anyhow::Result<TestContext> {
        BrowserKind::from_env().require_installed();
        dist_dir();
        let slot = browser_test_slot().await?;
        TestContext::start_in_slot(test_name, options, slot).await
    }

    async fn start_in_slot(
        test_name: &str,
        options: AppOptions,
        slot: SemaphorePermit<'static>,
    ) -> anyhow::Result<TestContext> {
        let browser = BrowserKind::from_env();
        browser.require_installed();
        dist_dir();
        let app = TestApp::start_with(&options).await?;
        let driver = DriverProcess::start(browser).await?;
        Ok(TestContext {
            inner: Arc::new(ContextInner {
                test_name: test_name.to_owned(),
                browser,
                app,
                driver,
                other_drivers: Mutex::new(Vec::new()),
                sessions: Mutex::new(Vec::new()),
                log_sources: options.log_sources,
                _slot: slot,
            }),
        })
    }

    /// The app under test.
    pub fn app(&self) -> &TestApp {
        &self.inner.app
    }

    /// The name of the running test (used to name screenshots).
    pub fn test_name(&self) -> &str {
        &self.inner.test_name
    }

    /// Starts a new browser session with its own fresh profile, as a separate person.
    pub async fn person(&self, name: &str) -> Person {
        self.person_with_browser(name, &BrowserOptions::default())
            .await
    }

    /// Like [`TestContext::person`], with extra arguments or preferences for this person's
    /// browser (e.g. to restrict its networking).
    pub async fn person_with_browser(&self, name: &str, options: &BrowserOptions) -> Person {
        self.person_in_with_browser(self.inner.browser, name, options)
            .await
    }

    /// Like [`TestContext::person`], in a browser of `kind`, whatever the test's default
    /// browser is. The first person of a kind other than the default starts that kind's
    /// WebDriver server; it stops with the context.
    pub async fn person_in(&self, kind: BrowserKind, name: &str) -> Person {
        self.person_in_with_browser(kind, name, &BrowserOptions::default())
            .await
    }

    /// Like [`TestContext::person_in`], with extra arguments or preferences for the browser.
    pub async fn person_in_with_browser(
        &self,
        kind: BrowserKind,
        name: &str,
        options: &BrowserOptions,
    ) -> Person {
        match self.try_person(kind, name, options).await {
            Ok(person) => person,
            Err(error) => panic!(
                "could not start a {} browser for {name}: {error:#}",
                kind.name()
            ),
        }
    }

    /// The URL of the WebDriver server for `kind`, starting it if this is its first person.
    async fn driver_url(&self, kind: BrowserKind) -> anyhow::Result<String> {
        if kind == self.inner.driver.kind() {
            return Ok(self.inner.driver.url());
        }
        let mut others = self.inner.other_drivers.lock().await;
        if let Some(driver) = others.iter().find(|driver| driver.kind() == kind) {
            return Ok(driver.url());
        }
        let driver = DriverProcess::start(kind).await?;
        let url = driver.url();
        others.push(driver);
        Ok(url)
    }

    /// Like [`TestContext::person_with_browser`], in a Chromium started by the WebDriver server
    /// at `driver_url` rather than the context's own: one running in a network namespace (see
    /// [`crate::netns`]). The browser is closed with the context's others.
    pub async fn person_on_driver(
        &self,
        name: &str,
        driver_url: &str,
        options: &BrowserOptions,
    ) -> Person {
        match self
            .open_session(BrowserKind::Chromium, driver_url, name, options)
            .await
        {
            Ok(person) => person,
            Err(error) => panic!("could not start a browser for {name} at {driver_url}: {error:#}"),
        }
    }

    async fn try_person(
        &self,
        browser: BrowserKind,
        name: &str,
        options: &BrowserOptions,
    ) -> anyhow::Result<Person> {
        let driver_url = self.driver_url(browser).await?;
        self.open_session(browser, &driver_url, name, options).await
    }

    async fn open_session(
        &self,
        browser: BrowserKind,
        driver_url: &str,
        name: &str,
        options: &BrowserOptions,
    ) -> anyhow::Result<Person> {
        let profile = tempfile::Builder::new()
            .prefix(&format!("visavis-e2e-{}-", browser.name()))
            .tempdir()
            .context("creating a browser profile directory")?;
        // The driver listens on plain HTTP on loopback, so the client needs no TLS stack at all
        // (which also keeps a second crypto library out of the build).
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(browser.capabilities_with(profile.path(), options))
            .connect(driver_url)
            .await
            .with_context(|| format!("opening a {} session", browser.name()))?;
        client
            .update_timeouts(TimeoutConfiguration::new(
                Some(Duration::from_secs(60)),
                Some(PAGE_LOAD_TIMEOUT),
                Some(Duration::ZERO),
            ))
            .await
            .context("setting the session timeouts")?;
        let browser_pid = client
            .capabilities()
            .and_then(|caps| {
                caps.get("goog:processID")
                    .or_else(|| caps.get("moz:processID"))
            })
            .and_then(Value::as_u64)
            .and_then(|pid| u32::try_from(pid).ok());
        self.inner.sessions.lock().await.push(SessionRecord {
            name: name.to_owned(),
            browser,
            client: client.clone(),
            browser_pid,
            _profile: profile,
        });
        Ok(Person {
            name: name.to_owned(),
            client,
            base_url: self.inner.app.base_url(),
            browser,
        })
    }

    /// Ends every browser session (so the browsers exit). The WebDriver server and the app stop
    /// when the last clone of the context is dropped.
    pub async fn close_browsers(&self) {
        let sessions: Vec<SessionRecord> = self.inner.sessions.lock().await.drain(..).collect();
        for session in sessions {
            let closing = tokio::time::timeout(Duration::from_secs(20), session.client.close());
            match closing.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => eprintln!("closing {}'s browser failed: {error}", session.name),
                Err(_) => eprintln!("closing {}'s browser timed out", session.name),
            }
        }
    }
}

/// The running test's name: libtest names the test's thread after it.
fn current_test_name() -> String {
    std::thread::current()
        .name()
        .filter(|name| *name != "main")
        .unwrap_or("browser-test")
        .to_owned()
}

/// Runs one browser test: starts the app and a WebDriver server (one test at a time per
/// process), runs `body`, and if it panics or overruns [`TEST_TIMEOUT`], saves screenshots and
/// console logs of every browser before failing. Browsers are always closed.
///
/// Call it from the test function itself (not from a spawned task), so the test's name is
/// known.
pub async fn run_browser_test<F, Fut>(body: F)
where
    F: FnOnce(TestContext) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    run_browser_test_with(
        || async { Ok((AppOptions::default(), ())) },
        |ctx, ()| body(ctx),
    )
    .await;
}

/// Like [`run_browser_test`], for tests that need more than the plain app: once this test's
/// turn has come, `setup` starts whatever it needs (e.g. a TURN server) and returns the app's
/// options and what the body needs (`T`, dropped when the body ends, e.g. to kill a process).
pub async fn run_browser_test_with<S, SFut, T, F, Fut>(setup: S, body: F)
where
    S: FnOnce() -> SFut,
    SFut: Future<Output = anyhow::Result<(AppOptions, T)>>,
    T: Send + 'static,
    F: FnOnce(TestContext, T) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    run_browser_test_for(TEST_TIMEOUT, setup, body).await;
}

/// Like [`run_browser_test_with`], for a test that measures over several cycles and needs
/// longer than [`TEST_TIMEOUT`]: it fails after `timeout` instead.
pub async fn run_browser_test_for<S, SFut, T, F, Fut>(timeout: Duration, setup: S, body: F)
where
    S: FnOnce() -> SFut,
    SFut: Future<Output = anyhow::Result<(AppOptions, T)>>,
    T: Send + 'static,
    F: FnOnce(TestContext, T) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let test_name = current_test_name();
    BrowserKind::from_env().require_installed();
    dist_dir();
    let slot = match browser_test_slot().await {
        Ok(slot) => slot,
        Err(error) => panic!("could not set up the browser test {test_name}: {error:#}"),
    };
    let (options, extra) = match setup().await {
        Ok(prepared) => prepared,
        Err(error) => panic!("could not prepare the browser test {test_name}: {error:#}"),
    };
    let ctx = match TestContext::start_in_slot(&test_name, options, slot).await {
        Ok(ctx) => ctx,
        Err(error) => panic!("could not set up the browser test {test_name}: {error:#}"),
    };
    let outcome = tokio::spawn(tokio::time::timeout(timeout, body(ctx.clone(), extra))).await;
    let failure: Option<Box<dyn Any + Send>> = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(_elapsed)) => Some(Box::new(format!(
            "{test_name} did not finish within {timeout:?}"
        ))),
        Err(join_error) if join_error.is_panic() => Some(join_error.into_panic()),
        Err(join_error) => Some(Box::new(format!("{test_name} was cancelled: {join_error}"))),
    };
    if failure.is_some() {
        ctx.save_diagnostics().await;
    }
    ctx.close_browsers().await;
    ctx.app().stop().await;
    drop(ctx);
    if let Some(payload) = failure {
        if let Some(message) = payload.downcast_ref::<String>() {
            eprintln!("browser test failed: {message}");
        }
        std::panic::resume_unwind(payload);
    }
}
