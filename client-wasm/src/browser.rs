//! Small helpers around the browser's window-level services the controller needs: the page
//! address, `history`, `crypto`, the clock and `navigator.clipboard`. No DOM elements.

use wasm_bindgen_futures::JsFuture;
use web_sys::Window;

use crate::js_error;

fn window() -> Option<Window> {
    web_sys::window()
}

/// The page's path (`location.pathname`), or `/` if it cannot be read.
pub fn path() -> String {
    window()
        .and_then(|w| w.location().pathname().ok())
        .unwrap_or_else(|| "/".into())
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
