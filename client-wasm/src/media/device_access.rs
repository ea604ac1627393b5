//! The browser's side of choosing devices: listing cameras, microphones and speakers, opening
//! the pre-join preview, reading which device a track comes from, hearing about plugged and
//! unplugged devices (`devicechange`), remembering choices in `localStorage`, and whether the
//! browser can route sound to a chosen speaker (`setSinkId`). No DOM elements.

use leptos::logging::warn;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Event, MediaDeviceInfo, MediaDevices, MediaStream, MediaStreamTrack};

use crate::browser::js_error;
use crate::media::{self, DeviceWish, Pick};
use visavis_client_core::connectivity::DeviceError;
use visavis_client_core::devices::{DeviceKind, DeviceLists, RawDevice};

/// Lists the devices. Before the person allowed access, browsers hide ids and names, and the
/// lists come out empty or with numbered names.
pub async fn enumerate() -> Result<DeviceLists, String> {
    let devices = media::media_devices().ok_or("navigator.mediaDevices is missing")?;
    let promise = devices
        .enumerate_devices()
        .map_err(|err| js_error::describe(&err))?;
    let list = JsFuture::from(promise)
        .await
        .map_err(|err| js_error::describe(&err))?;
    let list = js_sys::Array::from(&list);
    let raw = list
        .iter()
        .filter_map(|entry| entry.dyn_into::<MediaDeviceInfo>().ok())
        .map(|info| RawDevice {
            kind: kind_name(&info),
            id: info.device_id(),
            label: info.label(),
        });
    Ok(DeviceLists::from_raw(raw))
}

/// `MediaDeviceInfo.kind` as the browser spells it.
fn kind_name(info: &MediaDeviceInfo) -> String {
    // Read as a string: an enum from web-sys would turn kinds it does not know into `__Invalid`.
    js_sys::Reflect::get(info, &"kind".into())
        .ok()
        .and_then(|kind| kind.as_string())
        .unwrap_or_default()
}

/// Opens the pre-join preview: the camera and the microphone of `wish` (or others, if those
/// are gone); failing that, the microphone alone, so the level meter still shows. Returns why
/// the camera and microphone failed if nothing opened.
pub async fn open_preview(wish: &DeviceWish) -> Result<MediaStream, DeviceError> {
    let both = match media::open_camera_and_microphone(wish).await {
        Ok(stream) => return Ok(stream),
        Err(err) => err,
    };
    warn!("devices: the preview's camera and microphone failed: {both}");
    match media::open_device(false, Pick::prefer(wish.microphone.as_deref())).await {
        Ok(stream) => Ok(stream),
        Err(err) => {
            warn!("devices: the preview's microphone alone failed: {err}");
            Err(both)
        }
    }
}

/// Opens exactly the device `id` of `kind` (a camera or a microphone) and returns its track.
pub async fn open_track(kind: DeviceKind, id: &str) -> Result<MediaStreamTrack, DeviceError> {
    let video = kind == DeviceKind::Camera;
    let stream = media::open_device(video, Pick::Exactly(id)).await?;
    let track_kind = if video { "video" } else { "audio" };
    let mut tracks = media::tracks_of(&stream, track_kind).into_iter();
    let first = tracks.next();
    // Anything else the browser added is not wanted.
    for extra in tracks {
        extra.stop();
    }
    first.ok_or_else(|| DeviceError {
        name: None,
        detail: format!("the browser opened no {track_kind} track"),
    })
}

/// The id of the device a track comes from, if the browser says.
pub fn device_id(track: &MediaStreamTrack) -> Option<String> {
    track
        .get_settings()
        .get_device_id()
        .filter(|id| !id.is_empty())
}

/// Whether media elements can play to a chosen speaker (`HTMLMediaElement.setSinkId`; missing
/// in some browsers, Firefox ESR among them depending on its version and settings).
pub fn sink_supported() -> bool {
    let global = js_sys::global();
    js_sys::Reflect::get(&global, &"HTMLMediaElement".into())
        .ok()
        .filter(|class| class.is_function())
        .and_then(|class| js_sys::Reflect::get(&class, &"prototype".into()).ok())
        .and_then(|prototype| js_sys::Reflect::get(&prototype, &"setSinkId".into()).ok())
        .is_some_and(|method| method.is_function())
}

fn local_storage() -> Option<web_sys::Storage> {
    // Storage may be refused (privacy settings, some private modes): choices then last for
    // the page only.
    web_sys::window()?.local_storage().ok().flatten()
}

/// The device of `kind` the person picked on an earlier visit, if any.
pub fn saved(kind: DeviceKind) -> Option<String> {
    local_storage()?
        .get_item(kind.storage_key())
        .ok()
        .flatten()
        .filter(|id| !id.is_empty())
}

/// Remembers the person's pick for the next visit.
pub fn save(kind: DeviceKind, id: &str) {
    let Some(storage) = local_storage() else {
        return;
    };
    if let Err(err) = storage.set_item(kind.storage_key(), id) {
        warn!(
            "devices: could not remember the {}: {}",
            kind.noun().to_lowercase(),
            js_error::describe(&err)
        );
    }
}

/// Listens for `devicechange` (a device plugged in or out, or access granted). The handler
/// lives here, next to `navigator.mediaDevices`, and is removed when this is dropped.
pub struct DeviceWatch {
    devices: MediaDevices,
    handler: Option<Closure<dyn FnMut(Event)>>,
}

impl DeviceWatch {
    /// Calls `on_change` on every `devicechange`; `None` without `navigator.mediaDevices`.
    pub fn install(on_change: impl FnMut() + 'static) -> Option<DeviceWatch> {
        let devices = media::media_devices()?;
        let mut on_change = on_change;
        let handler = Closure::<dyn FnMut(Event)>::new(move |_: Event| on_change());
        devices.set_ondevicechange(Some(handler.as_ref().unchecked_ref()));
        Some(DeviceWatch {
            devices,
            handler: Some(handler),
        })
    }
}

impl Drop for DeviceWatch {
    fn drop(&mut self) {
        if let Some(handler) = self.handler.take() {
            self.devices.set_ondevicechange(None);
            drop(handler);
        }
    }
}
