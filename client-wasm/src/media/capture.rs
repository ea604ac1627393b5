//! Local media: opens the camera and microphone (the devices the person picked, if any), falls
//! back to screen sharing and then to receive-only, and stops tracks; opens one chosen device
//! for the preview and for switching; for the check page, opens the camera or the microphone
//! alone. Talks to `navigator.mediaDevices` only; no DOM elements.

use leptos::logging::warn;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    ConstrainDomStringParameters, ConstrainLongRange, DisplayMediaStreamConstraints, MediaDevices,
    MediaStream, MediaStreamConstraints, MediaStreamTrack, MediaTrackConstraints,
};

use crate::browser::js_error;
use visavis_client_core::connectivity::{DeviceError, NO_MEDIA_DEVICES};
pub use visavis_client_core::devices::MediaSource;

/// The local media of one call.
#[derive(Debug, Clone)]
pub struct LocalMedia {
    /// The stream to send and show, if anything could be opened.
    pub stream: Option<MediaStream>,
    /// Where it comes from.
    pub source: MediaSource,
}

impl LocalMedia {
    /// Stops every track, which turns the camera light off.
    pub fn stop(&self) {
        if let Some(stream) = &self.stream {
            stop_tracks(stream);
        }
    }
}

/// Stops every track of `stream`.
pub fn stop_tracks(stream: &MediaStream) {
    for track in stream.get_tracks().iter() {
        if let Ok(track) = track.dyn_into::<MediaStreamTrack>() {
            track.stop();
        }
    }
}

/// The tracks of `stream` of one kind (`"audio"` or `"video"`).
pub fn tracks_of(stream: &MediaStream, kind: &str) -> Vec<MediaStreamTrack> {
    let tracks = match kind {
        "audio" => stream.get_audio_tracks(),
        _ => stream.get_video_tracks(),
    };
    tracks
        .iter()
        .filter_map(|track| track.dyn_into::<MediaStreamTrack>().ok())
        .collect()
}

/// Turns every track of one kind of `stream` on or off (`enabled`): a disabled track stays
/// open but sends silence or black frames.
pub fn set_enabled(stream: &MediaStream, kind: &str, enabled: bool) {
    for track in tracks_of(stream, kind) {
        track.set_enabled(enabled);
    }
}

/// Opens the screen (or a window) for sharing during a call, video only.
pub async fn open_screen() -> Result<MediaStream, DeviceError> {
    let devices = media_devices().ok_or_else(no_media_devices)?;
    screen(&devices).await
}

/// Which device a track should come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick<'a> {
    /// The browser's default.
    Default,
    /// This device if it is there, else the default one (a saved choice that may be
    /// unplugged). Asked for exactly, then again without it: browsers take an `ideal` device
    /// id as a mere hint, and Chromium ignores it.
    Prefer(&'a str),
    /// This device or nothing (the person just picked it).
    Exactly(&'a str),
}

impl<'a> Pick<'a> {
    /// Prefers the device `id`, if any.
    pub fn prefer(id: Option<&'a str>) -> Pick<'a> {
        id.map_or(Pick::Default, Pick::Prefer)
    }

    fn apply(self, constraints: &MediaTrackConstraints) {
        let (Pick::Prefer(id) | Pick::Exactly(id)) = self else {
            return;
        };
        let wanted = ConstrainDomStringParameters::new();
        wanted.set_exact_str(id);
        constraints.set_device_id_constrain_dom_string_parameters(&wanted);
    }

    /// What to ask for when this pick's device is missing: the default, for a preference.
    fn fallback(self) -> Option<Pick<'static>> {
        match self {
            Pick::Prefer(_) => Some(Pick::Default),
            Pick::Default | Pick::Exactly(_) => None,
        }
    }
}

/// Whether opening failed because the asked-for device is not there (unplugged, or an id
/// saved by another browser profile).
fn device_missing(err: &DeviceError) -> bool {
    matches!(
        err.name.as_deref(),
        Some("OverconstrainedError" | "NotFoundError")
    )
}

/// The camera and microphone a call should open: the person's choices (`None`: the default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceWish {
    /// The camera's device id.
    pub camera: Option<String>,
    /// The microphone's device id.
    pub microphone: Option<String>,
}

/// Opens local media, trying in order: camera and microphone (preferring the devices of
/// `wish`); screen (plus the microphone if it opens on its own); microphone alone; nothing.
/// Never fails: the worst case is a receive-only call.
pub async fn open(wish: &DeviceWish) -> LocalMedia {
    let Some(devices) = media_devices() else {
        warn!("media: navigator.mediaDevices is missing (is the page served over https?)");
        return LocalMedia {
            stream: None,
            source: MediaSource::ReceiveOnly,
        };
    };
    match camera_and_microphone(&devices, wish).await {
        Ok(stream) => {
            return LocalMedia {
                stream: Some(stream),
                source: MediaSource::Camera,
            }
        }
        Err(err) => warn!("media: camera and microphone failed: {err}"),
    }
    // The screen is asked for before the microphone: browsers only allow screen capture
    // shortly after the click, so it must not wait behind another permission prompt.
    let screen = screen(&devices)
        .await
        .map_err(|err| warn!("media: screen sharing failed: {err}"));
    let microphone = microphone_only(&devices, Pick::prefer(wish.microphone.as_deref()))
        .await
        .map_err(|err| warn!("media: microphone alone failed: {err}"));
    without_camera(screen, microphone)
}

/// The call's media when the camera could not be opened but `microphone` (the pre-join
/// preview's) is: the screen with that microphone, or the microphone alone.
pub async fn open_without_camera(microphone: MediaStream) -> LocalMedia {
    let screen = match media_devices() {
        Some(devices) => screen(&devices)
            .await
            .map_err(|err| warn!("media: screen sharing failed: {err}")),
        None => Err(()),
    };
    without_camera(screen, Ok(microphone))
}

/// Puts the fallbacks together: the screen (with the microphone's tracks, if any), else the
/// microphone alone, else nothing.
fn without_camera(
    screen: Result<MediaStream, ()>,
    microphone: Result<MediaStream, ()>,
) -> LocalMedia {
    match (screen, microphone) {
        (Ok(screen), microphone) => {
            if let Ok(mic) = microphone {
                for track in mic.get_audio_tracks().iter() {
                    if let Ok(track) = track.dyn_into::<MediaStreamTrack>() {
                        screen.add_track(&track);
                    }
                }
            }
            LocalMedia {
                stream: Some(screen),
                source: MediaSource::Screen,
            }
        }
        (Err(()), Ok(mic)) => LocalMedia {
            stream: Some(mic),
            source: MediaSource::MicrophoneOnly,
        },
        (Err(()), Err(())) => LocalMedia {
            stream: None,
            source: MediaSource::ReceiveOnly,
        },
    }
}

/// Opens the camera alone (for the check page), or says why it could not be opened.
pub async fn open_camera_only() -> Result<MediaStream, DeviceError> {
    let devices = media_devices().ok_or_else(no_media_devices)?;
    let constraints = MediaStreamConstraints::new();
    constraints.set_video_bool(true);
    constraints.set_audio_bool(false);
    await_stream(devices.get_user_media_with_constraints(&constraints)).await
}

/// Opens the microphone alone (for the check page), or says why it could not be opened.
pub async fn open_microphone_only() -> Result<MediaStream, DeviceError> {
    let devices = media_devices().ok_or_else(no_media_devices)?;
    microphone_only(&devices, Pick::Default).await
}

/// Opens the camera again (`camera`, if it is still there), video only, with the call's usual
/// size: after a screen share, when the camera's track had ended.
pub async fn reopen_camera(camera: Option<&str>) -> Result<MediaStream, DeviceError> {
    open_device(true, Pick::prefer(camera)).await
}

/// Opens the camera facing `mode` exactly (`"user"` or `"environment"`), video only, with the
/// call's usual size: the other camera of a phone, for a flip.
pub async fn open_camera_facing(mode: &str) -> Result<MediaStream, DeviceError> {
    let devices = media_devices().ok_or_else(no_media_devices)?;
    let camera = camera_constraints();
    let wanted = ConstrainDomStringParameters::new();
    wanted.set_exact_str(mode);
    camera.set_facing_mode_constrain_dom_string_parameters(&wanted);
    let constraints = MediaStreamConstraints::new();
    constraints.set_video_media_track_constraints(&camera);
    constraints.set_audio_bool(false);
    await_stream(devices.get_user_media_with_constraints(&constraints)).await
}

/// Opens one device (video only for a camera, audio only for a microphone), with the call's
/// usual settings. For the pre-join preview and for switching devices.
pub async fn open_device(video: bool, pick: Pick<'_>) -> Result<MediaStream, DeviceError> {
    let devices = media_devices().ok_or_else(no_media_devices)?;
    if video {
        let opened = camera_from(&devices, pick).await;
        match opened {
            Err(err) if device_missing(&err) => match pick.fallback() {
                Some(fallback) => camera_from(&devices, fallback).await,
                None => Err(err),
            },
            opened => opened,
        }
    } else {
        microphone_only(&devices, pick).await
    }
}

/// Opens the camera and the microphone together, preferring the devices of `wish` (one
/// permission prompt for both). For the pre-join preview.
pub async fn open_camera_and_microphone(wish: &DeviceWish) -> Result<MediaStream, DeviceError> {
    let devices = media_devices().ok_or_else(no_media_devices)?;
    camera_and_microphone(&devices, wish).await
}

fn no_media_devices() -> DeviceError {
    DeviceError {
        name: Some(NO_MEDIA_DEVICES.into()),
        detail: "navigator.mediaDevices is missing (the page is not served over https)".into(),
    }
}

/// `navigator.mediaDevices`, if the page may use devices (a secure context).
pub fn media_devices() -> Option<MediaDevices> {
    let devices = web_sys::window()?.navigator().media_devices().ok()?;
    // In an insecure context the property is simply undefined.
    if devices.is_undefined() || devices.is_null() {
        return None;
    }
    Some(devices)
}

/// The audio processing the person chose (speech filters on by default, or music mode).
fn voice_constraints() -> MediaTrackConstraints {
    super::audio_processing::voice_constraints()
}

/// The camera size every call asks for.
fn camera_constraints() -> MediaTrackConstraints {
    let video = MediaTrackConstraints::new();
    let width = ConstrainLongRange::new();
    width.set_ideal(1280);
    let height = ConstrainLongRange::new();
    height.set_ideal(720);
    video.set_width_constrain_long_range(&width);
    video.set_height_constrain_long_range(&height);
    video
}

/// The camera and microphone of `wish`; if one of them is gone, the default ones.
async fn camera_and_microphone(
    devices: &MediaDevices,
    wish: &DeviceWish,
) -> Result<MediaStream, DeviceError> {
    let camera = Pick::prefer(wish.camera.as_deref());
    let microphone = Pick::prefer(wish.microphone.as_deref());
    match camera_and_microphone_from(devices, camera, microphone).await {
        Err(err)
            if device_missing(&err) && (camera, microphone) != (Pick::Default, Pick::Default) =>
        {
            warn!("media: a chosen device is gone ({err}); opening the default ones");
            camera_and_microphone_from(devices, Pick::Default, Pick::Default).await
        }
        opened => opened,
    }
}

async fn camera_and_microphone_from(
    devices: &MediaDevices,
    camera: Pick<'_>,
    microphone: Pick<'_>,
) -> Result<MediaStream, DeviceError> {
    let video = camera_constraints();
    camera.apply(&video);
    let audio = voice_constraints();
    microphone.apply(&audio);
    let constraints = MediaStreamConstraints::new();
    constraints.set_video_media_track_constraints(&video);
    constraints.set_audio_media_track_constraints(&audio);
    await_stream(devices.get_user_media_with_constraints(&constraints)).await
}

async fn microphone_only(
    devices: &MediaDevices,
    pick: Pick<'_>,
) -> Result<MediaStream, DeviceError> {
    match microphone_from(devices, pick).await {
        Err(err) if device_missing(&err) => match pick.fallback() {
            Some(fallback) => microphone_from(devices, fallback).await,
            None => Err(err),
        },
        opened => opened,
    }
}

/// The microphone with the chosen processing required exactly, else (a device that cannot do
/// it) preferred.
async fn microphone_from(
    devices: &MediaDevices,
    pick: Pick<'_>,
) -> Result<MediaStream, DeviceError> {
    let open = |audio: MediaTrackConstraints| {
        pick.apply(&audio);
        let constraints = MediaStreamConstraints::new();
        constraints.set_audio_media_track_constraints(&audio);
        constraints.set_video_bool(false);
        await_stream(devices.get_user_media_with_constraints(&constraints))
    };
    match open(super::audio_processing::exact_voice_constraints()).await {
        Err(err) if err.name.as_deref() == Some("OverconstrainedError") => {
            open(voice_constraints()).await
        }
        opened => opened,
    }
}

async fn camera_from(devices: &MediaDevices, pick: Pick<'_>) -> Result<MediaStream, DeviceError> {
    let constraints = MediaStreamConstraints::new();
    let camera = camera_constraints();
    pick.apply(&camera);
    constraints.set_video_media_track_constraints(&camera);
    constraints.set_audio_bool(false);
    await_stream(devices.get_user_media_with_constraints(&constraints)).await
}

async fn screen(devices: &MediaDevices) -> Result<MediaStream, DeviceError> {
    let constraints = DisplayMediaStreamConstraints::new();
    constraints.set_video_bool(true);
    constraints.set_audio_bool(false);
    await_stream(devices.get_display_media_with_constraints(&constraints)).await
}

/// Awaits a `getUserMedia`/`getDisplayMedia` promise, whether the call itself threw or the
/// promise rejected.
async fn await_stream(
    promise: Result<js_sys::Promise, JsValue>,
) -> Result<MediaStream, DeviceError> {
    let promise = promise.map_err(|err| device_error(&err))?;
    let value = JsFuture::from(promise)
        .await
        .map_err(|err| device_error(&err))?;
    value.dyn_into::<MediaStream>().map_err(|_| DeviceError {
        name: None,
        detail: "the browser returned something that is not a stream".into(),
    })
}

/// Keeps the exception's name, which tells refused, missing and busy devices apart.
fn device_error(err: &JsValue) -> DeviceError {
    DeviceError {
        name: js_error::error_name(err),
        detail: js_error::describe(err),
    }
}
