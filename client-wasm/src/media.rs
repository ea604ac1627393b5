//! Local media: opens the camera and microphone, falls back to screen sharing and then to
//! receive-only, and stops tracks; for the check page, opens the camera or the microphone
//! alone. Talks to `navigator.mediaDevices` only; no DOM elements.

use leptos::logging::warn;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    ConstrainLongRange, DisplayMediaStreamConstraints, MediaDevices, MediaStream,
    MediaStreamConstraints, MediaStreamTrack, MediaTrackConstraints,
};

use crate::diagnosis::{DeviceError, NO_MEDIA_DEVICES};
use crate::js_error;

/// Where the local picture and sound come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaSource {
    /// Camera and microphone, as intended.
    Camera,
    /// The camera could not be opened; the screen is shared instead (with the microphone if
    /// it could be opened on its own).
    Screen,
    /// Neither camera nor screen: only the microphone is sent.
    MicrophoneOnly,
    /// Nothing could be opened: we only receive.
    ReceiveOnly,
}

impl MediaSource {
    /// A sentence for the status line explaining a fallback; `None` when all is as intended.
    pub fn note(self) -> Option<&'static str> {
        match self {
            MediaSource::Camera => None,
            MediaSource::Screen => {
                Some("Your camera could not be opened, so your screen is shared instead.")
            }
            MediaSource::MicrophoneOnly => {
                Some("Your camera could not be opened: the other person will only hear you.")
            }
            MediaSource::ReceiveOnly => Some(
                "No camera, screen or microphone could be opened: you can see and hear the other \
                 person, but they cannot see or hear you.",
            ),
        }
    }

    /// Whether the local picture is a camera image, which is shown mirrored like a mirror.
    /// A shared screen must not be mirrored, or its text would read backwards.
    pub fn is_mirrored(self) -> bool {
        self == MediaSource::Camera
    }
}

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

/// Opens the camera again, video only, with the call's usual size.
pub async fn reopen_camera() -> Result<MediaStream, DeviceError> {
    let devices = media_devices().ok_or_else(no_media_devices)?;
    let constraints = MediaStreamConstraints::new();
    constraints.set_video_media_track_constraints(&camera_constraints());
    constraints.set_audio_bool(false);
    await_stream(devices.get_user_media_with_constraints(&constraints)).await
}

/// Opens local media, trying in order: camera and microphone; screen (plus the microphone if
/// it opens on its own); microphone alone; nothing. Never fails: the worst case is a receive-only call.
pub async fn open() -> LocalMedia {
    let Some(devices) = media_devices() else {
        warn!("media: navigator.mediaDevices is missing (is the page served over https?)");
        return LocalMedia {
            stream: None,
            source: MediaSource::ReceiveOnly,
        };
    };
    match camera_and_microphone(&devices).await {
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
    let microphone = microphone_only(&devices)
        .await
        .map_err(|err| warn!("media: microphone alone failed: {err}"));
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
    microphone_only(&devices).await
}

fn no_media_devices() -> DeviceError {
    DeviceError {
        name: Some(NO_MEDIA_DEVICES.into()),
        detail: "navigator.mediaDevices is missing (the page is not served over https)".into(),
    }
}

fn media_devices() -> Option<MediaDevices> {
    let devices = web_sys::window()?.navigator().media_devices().ok()?;
    // In an insecure context the property is simply undefined.
    if devices.is_undefined() || devices.is_null() {
        return None;
    }
    Some(devices)
}

/// The audio processing every call wants.
fn voice_constraints() -> MediaTrackConstraints {
    let audio = MediaTrackConstraints::new();
    audio.set_echo_cancellation_bool(true);
    audio.set_noise_suppression_bool(true);
    audio.set_auto_gain_control_bool(true);
    audio
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

async fn camera_and_microphone(devices: &MediaDevices) -> Result<MediaStream, DeviceError> {
    let video = camera_constraints();
    let constraints = MediaStreamConstraints::new();
    constraints.set_video_media_track_constraints(&video);
    constraints.set_audio_media_track_constraints(&voice_constraints());
    await_stream(devices.get_user_media_with_constraints(&constraints)).await
}

async fn microphone_only(devices: &MediaDevices) -> Result<MediaStream, DeviceError> {
    let constraints = MediaStreamConstraints::new();
    constraints.set_audio_media_track_constraints(&voice_constraints());
    constraints.set_video_bool(false);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_camera_is_mirrored() {
        assert!(MediaSource::Camera.is_mirrored());
        assert!(!MediaSource::Screen.is_mirrored());
        assert!(!MediaSource::MicrophoneOnly.is_mirrored());
        assert!(!MediaSource::ReceiveOnly.is_mirrored());
    }

    #[test]
    fn every_fallback_is_explained_and_the_normal_case_is_not() {
        assert_eq!(MediaSource::Camera.note(), None);
        for source in [
            MediaSource::Screen,
            MediaSource::MicrophoneOnly,
            MediaSource::ReceiveOnly,
        ] {
            assert!(source.note().is_some_and(|n| !n.is_empty()));
        }
    }
}
