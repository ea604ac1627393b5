//! Turning a thrown JavaScript value (a `DOMException`, an `Error`, a string…) into a short
//! readable text for logs and the status line.

use js_sys::Reflect;
use wasm_bindgen::JsValue;

/// Reads a string property of a JS value, if it is an object that has one.
fn string_property(value: &JsValue, name: &str) -> Option<String> {
    if !value.is_object() {
        return None;
    }
    Reflect::get(value, &JsValue::from_str(name))
        .ok()
        .and_then(|v| v.as_string())
        .filter(|s| !s.is_empty())
}

/// The error's `name` (for example `NotAllowedError`), if it has one.
pub fn error_name(value: &JsValue) -> Option<String> {
    string_property(value, "name")
}

/// A one-line description: `name: message`, the message alone, or a fallback.
pub fn describe(value: &JsValue) -> String {
    if let Some(text) = value.as_string() {
        return text;
    }
    match (error_name(value), string_property(value, "message")) {
        (Some(name), Some(message)) => format!("{name}: {message}"),
        (None, Some(message)) => message,
        (Some(name), None) => name,
        (None, None) => "unknown error".into(),
    }
}
