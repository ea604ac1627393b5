//! Small helpers around the browser's window-level services the controller needs: the page
//! address, `history`, `crypto`, the clocks, timers and `navigator.clipboard`, and listeners on
//! the window and document, and the screen wake lock. No DOM elements.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::Window;

pub mod js_error;
mod listener;
pub mod timeline;
pub mod wake_lock;

pub use listener::{page_visible, PageListener};

fn window() -> Option<Window> {
    web_sys::window()
}

/// The page's path (`location.pathname`), or `/` if it cannot be read.
pub fn path() -> String {
    window()
        .and_then(|w| w.location().pathname().ok())
        .unwrap_or_else(|| "/".into())
}

/// The page's query string (`location.search`, with its leading `?`), or empty.
pub fn search() -> String {
    window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default()
}

/// The page's origin, such as `https://talk.example.org`.
pub fn origin() -> String {
    window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default()
}

/// The `(protocol, host)` of the page, as `location` gives them.
pub fn protocol_and_host() -> Option<(String, String)> {
    let location = window()?.location();
    Some((location.protocol().ok()?, location.host().ok()?))
}

/// Replaces the address bar's path without reloading or adding a history entry.
pub fn replace_path(path: &str) -> Result<(), String> {
    let history = window()
        .ok_or("no window")?
        .history()
        .map_err(|err| js_error::describe(&err))?;
    history
        .replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(path))
        .map_err(|err| js_error::describe(&err))
}

/// `N` bytes from the browser's cryptographic random generator, or `None` if it is unavailable.
pub fn random_bytes<const N: usize>() -> Option<[u8; N]> {
    let crypto = window()?.crypto().ok()?;
    let mut bytes = [0u8; N];
    crypto.get_random_values_with_u8_array(&mut bytes).ok()?;
    Some(bytes)
}

/// The current time in milliseconds since the Unix epoch.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// A monotonic clock in milliseconds (`performance.now()`), for measuring durations that a
/// wall-clock change must not distort. Falls back to the wall clock without `performance`.
pub fn monotonic_ms() -> f64 {
    window()
        .and_then(|w| w.performance())
        .map_or_else(now_ms, |p| p.now())
}

/// Resolves after `ms` milliseconds. The timer calls the promise's own `resolve` function, so
/// no Rust closure has to outlive this call; if no timer can be set, it resolves at once
/// rather than never.
pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let scheduled = window().is_some_and(|w| {
            w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
                .is_ok()
        });
        if !scheduled {
            let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
        }
    });
    // The promise never rejects.
    let _ = JsFuture::from(promise).await;
}

/// A repeating timer (`setInterval`) that owns its closure and clears itself when dropped.
pub struct Interval {
    handle: i32,
    // Kept alive as long as the timer may call it; cleared before it is dropped.
    _callback: Closure<dyn FnMut()>,
}

impl Interval {
    /// Calls `tick` every `ms` milliseconds until the returned value is dropped. `None` if the
    /// browser refused the timer.
    pub fn new(ms: i32, tick: impl FnMut() + 'static) -> Option<Interval> {
        let callback = Closure::<dyn FnMut()>::new(tick);
        let handle = window()?
            .set_interval_with_callback_and_timeout_and_arguments_0(
                callback.as_ref().unchecked_ref(),
                ms,
            )
            .ok()?;
        Some(Interval {
            handle,
            _callback: callback,
        })
    }
}

impl Drop for Interval {
    fn drop(&mut self) {
        if let Some(w) = window() {
            w.clear_interval_with_handle(self.handle);
        }
    }
}

/// The local zone's offset east of UTC, in minutes, at the instant `epoch_ms`.
pub fn utc_offset_minutes(epoch_ms: f64) -> i32 {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(epoch_ms));
    // getTimezoneOffset is UTC minus local, so the sign is flipped. Offsets are whole minutes
    // well inside i32.
    -(date.get_timezone_offset() as i32)
}

/// Copies `text` to the clipboard.
pub async fn copy_to_clipboard(text: &str) -> Result<(), String> {
    let clipboard = window().ok_or("no window")?.navigator().clipboard();
    // Without a secure context the property is undefined.
    if clipboard.is_undefined() {
        return Err("the clipboard is not available on this page".into());
    }
    JsFuture::from(clipboard.write_text(text))
        .await
        .map(drop)
        .map_err(|err| js_error::describe(&err))
}

/// The tab's `sessionStorage`, if the browser allows it (private modes may not).
fn session_storage() -> Option<web_sys::Storage> {
    window()?.session_storage().ok().flatten()
}

/// Reads `key` from `sessionStorage`.
pub fn session_get(key: &str) -> Option<String> {
    session_storage()?.get_item(key).ok().flatten()
}

/// Writes `key` to `sessionStorage`; a failure (storage full or denied) only costs the
/// reload-rejoin feature, so it is returned for logging.
pub fn session_set(key: &str, value: &str) -> Result<(), String> {
    session_storage()
        .ok_or("sessionStorage is unavailable")?
        .set_item(key, value)
        .map_err(|err| js_error::describe(&err))
}

/// Removes `key` from `sessionStorage`.
pub fn session_remove(key: &str) {
    if let Some(storage) = session_storage() {
        // Nothing to do if it fails: the entry is then replaced or ignored at the next load.
        let _ = storage.remove_item(key);
    }
}

/// A uniformly distributed number in `[0, 1)`, for jitter (not for secrets).
pub fn random_unit() -> f64 {
    js_sys::Math::random()
}
