//! Which way the browser says a camera faces: a live track's `facingMode` setting, and what
//! the listed cameras report (labels, `getCapabilities().facingMode`) for offering a flip. The
//! rules that use them are in `visavis_client_core::devices::facing`. No DOM elements.

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{MediaDeviceInfo, MediaStream};

use crate::media;
use visavis_client_core::devices::{CameraFacts, Facing};

/// Which way the camera of `stream`'s first video track faces (unknown without one, or when
/// the browser does not say, as with most desktop webcams).
pub fn facing_of(stream: Option<&MediaStream>) -> Facing {
    let mode = stream
        .and_then(|stream| media::tracks_of(stream, "video").into_iter().next())
        .and_then(|track| track.get_settings().get_facing_mode());
    Facing::from_mode(mode.as_deref())
}

/// What the listed cameras tell about their facing. Empty if the list cannot be read.
pub async fn camera_facts() -> Vec<CameraFacts> {
    let Some(devices) = media::media_devices() else {
        return Vec::new();
    };
    let Ok(promise) = devices.enumerate_devices() else {
        return Vec::new();
    };
    let Ok(list) = JsFuture::from(promise).await else {
        return Vec::new();
    };
    js_sys::Array::from(&list)
        .iter()
        .filter_map(|entry| entry.dyn_into::<MediaDeviceInfo>().ok())
        .filter(|info| info.kind() == web_sys::MediaDeviceKind::Videoinput)
        .map(|info| CameraFacts {
            label: info.label(),
            facing_modes: capability_modes(&info),
        })
        .collect()
}

/// `getCapabilities().facingMode` of a camera (an `InputDeviceInfo`), read by reflection:
/// Firefox has no `getCapabilities` on devices, and then there is nothing to read.
fn capability_modes(info: &MediaDeviceInfo) -> Vec<String> {
    let Ok(method) = js_sys::Reflect::get(info, &"getCapabilities".into()) else {
        return Vec::new();
    };
    let Ok(method) = method.dyn_into::<js_sys::Function>() else {
        return Vec::new();
    };
    let Ok(capabilities) = method.call0(info) else {
        return Vec::new();
    };
    js_sys::Reflect::get(&capabilities, &"facingMode".into())
        .ok()
        .filter(js_sys::Array::is_array)
        .map(|modes| {
            js_sys::Array::from(&modes)
                .iter()
                .filter_map(|mode| mode.as_string())
                .collect()
        })
        .unwrap_or_default()
}
