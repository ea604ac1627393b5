//! The video sender's encoding parameters: the bitrate cap, the down-scaling, the frame-rate
//! cap, whether the encoding is sent at all, and the degradation preference, set with
//! `RTCRtpSender.getParameters()` / `setParameters()` — no renegotiation. Through
//! `js_sys::Reflect`, since web-sys' typed parameters lag behind the fields browsers take.

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::RtcRtpSender;

use crate::browser::js_error;
use visavis_client_core::adapt::Encoding;

/// What the video sender is asked to do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SendParameters {
    /// The first encoding's limits.
    pub encoding: Encoding,
    /// Whether the encoding is sent (`false` in audio-only mode).
    pub active: bool,
    /// `degradationPreference`: `balanced` for a camera, `maintain-resolution` for a screen.
    pub degradation: &'static str,
}

/// Applies `wanted` to `sender`'s first encoding. A browser that refuses the degradation
/// preference (older ones reject what they do not implement) still gets the limits: the
/// parameters are set again without it.
pub async fn apply(sender: &RtcRtpSender, wanted: SendParameters) -> Result<(), String> {
    match set(sender, wanted, true).await {
        Ok(()) => Ok(()),
        Err(_) => set(sender, wanted, false).await.map_err(|err| failed(&err)),
    }
}

async fn set(
    sender: &RtcRtpSender,
    wanted: SendParameters,
    preference: bool,
) -> Result<(), JsValue> {
    let promise = set_parameters(sender, wanted, preference)?;
    JsFuture::from(promise).await.map(drop)
}

fn failed(err: &JsValue) -> String {
    format!(
        "could not set the video sender's parameters: {}",
        js_error::describe(err)
    )
}

/// Reads the sender's parameters, changes the first encoding and hands them back.
fn set_parameters(
    sender: &RtcRtpSender,
    wanted: SendParameters,
    preference: bool,
) -> Result<Promise, JsValue> {
    let method = |name: &str| -> Result<Function, JsValue> {
        Reflect::get(sender, &JsValue::from_str(name))?.dyn_into::<Function>()
    };
    let parameters = method("getParameters")?.call0(sender)?;
    let encodings = Reflect::get(&parameters, &JsValue::from_str("encodings"))?;
    let encodings: Array = if encodings.is_instance_of::<Array>() {
        encodings.unchecked_into()
    } else {
        let fresh = Array::new();
        Reflect::set(&parameters, &JsValue::from_str("encodings"), &fresh)?;
        fresh
    };
    // Before the first negotiation a sender may have no encoding yet; one is all we send.
    if encodings.length() == 0 {
        encodings.push(&Object::new());
    }
    let first = encodings.get(0);
    let set = |name: &str, value: Option<f64>| -> Result<(), JsValue> {
        let key = JsValue::from_str(name);
        match value {
            Some(value) => Reflect::set(&first, &key, &JsValue::from_f64(value)).map(drop),
            // No cap: the field must be absent, not zero.
            None => Reflect::delete_property(first.unchecked_ref::<Object>(), &key).map(drop),
        }
    };
    let encoding = wanted.encoding;
    set("maxBitrate", encoding.max_bitrate_bps.map(f64::from))?;
    set("scaleResolutionDownBy", Some(encoding.scale_down_by))?;
    set("maxFramerate", encoding.max_framerate)?;
    Reflect::set(
        &first,
        &JsValue::from_str("active"),
        &JsValue::from_bool(wanted.active),
    )?;
    if preference {
        Reflect::set(
            &parameters,
            &JsValue::from_str("degradationPreference"),
            &JsValue::from_str(wanted.degradation),
        )?;
    }
    method("setParameters")?
        .call1(sender, &parameters)?
        .dyn_into::<Promise>()
}
