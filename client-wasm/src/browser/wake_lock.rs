//! The screen wake lock (`navigator.wakeLock.request("screen")`), read by reflection since
//! web-sys has it only as an unstable API. No DOM elements.

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// Why no lock was granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WakeLockError {
    /// The browser has no `navigator.wakeLock`.
    Unsupported,
    /// The request was refused (e.g. `NotAllowedError`), with the browser's reason.
    Refused(String),
}

/// A held lock (a `WakeLockSentinel`). Dropping it does not release it: call `release`.
pub struct WakeSentinel {
    sentinel: JsValue,
}

impl WakeSentinel {
    /// Whether the browser let go of it by itself (the page was hidden).
    pub fn released(&self) -> bool {
        js_sys::Reflect::get(&self.sentinel, &"released".into())
            .ok()
            .and_then(|value| value.as_bool())
            .unwrap_or(true)
    }

    /// Lets go of the lock. The browser's promise only confirms it; nothing waits for it.
    pub fn release(&self) {
        if let Ok(release) = js_sys::Reflect::get(&self.sentinel, &"release".into()) {
            if let Ok(release) = release.dyn_into::<js_sys::Function>() {
                // A failure means it was already released.
                let _ = release.call0(&self.sentinel);
            }
        }
    }
}

/// Asks for a screen wake lock.
pub async fn request_screen() -> Result<WakeSentinel, WakeLockError> {
    let navigator = web_sys::window()
        .ok_or(WakeLockError::Unsupported)?
        .navigator();
    let wake_lock = js_sys::Reflect::get(&navigator, &"wakeLock".into())
        .ok()
        .filter(|value| !value.is_undefined() && !value.is_null())
        .ok_or(WakeLockError::Unsupported)?;
    let request = js_sys::Reflect::get(&wake_lock, &"request".into())
        .ok()
        .and_then(|value| value.dyn_into::<js_sys::Function>().ok())
        .ok_or(WakeLockError::Unsupported)?;
    let promise = request
        .call1(&wake_lock, &"screen".into())
        .map_err(|err| WakeLockError::Refused(super::js_error::describe(&err)))?
        .dyn_into::<js_sys::Promise>()
        .map_err(|_| WakeLockError::Refused("request() gave no promise".into()))?;
    let sentinel = JsFuture::from(promise)
        .await
        .map_err(|err| WakeLockError::Refused(super::js_error::describe(&err)))?;
    Ok(WakeSentinel { sentinel })
}
