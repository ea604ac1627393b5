//! The pre-join preview: opening it with the chosen devices, closing it, and handing its
//! stream (or the promise of it) to the call when Call is pressed, so the camera opens once.

use std::rc::Rc;

use js_sys::Promise;
use leptos::logging::warn;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, spawn_local, JsFuture};
use web_sys::MediaStream;

use crate::browser::js_error;
use crate::media::device_access::{self};
use crate::media::{self, DeviceWish, LocalMedia, MediaSource};
use visavis_client_core::connectivity::DeviceError;
use visavis_client_core::devices::{self, PreviewState};

use super::Inner;

/// What Call starts from, taken from the pre-join screen.
enum Handover {
    /// The live preview.
    Preview(MediaStream),
    /// The preview, still opening.
    Opening(Promise),
    /// No preview (turned off, or it failed): the call opens the chosen devices itself.
    Nothing,
}

/// The local media a call takes over from the pre-join screen; [`CallMedia::open`] turns it
/// into the call's media.
pub(in crate::controller) struct CallMedia {
    handover: Handover,
    wish: DeviceWish,
    inner: std::rc::Weak<Inner>,
    attempt: u64,
}

impl CallMedia {
    /// The call's media: the preview's stream if it had a camera; with only a microphone, the
    /// screen (or nothing) beside that microphone; without a preview, the chosen devices with
    /// the usual fallbacks (`media::open`). Never fails.
    pub(in crate::controller) async fn open(self) -> LocalMedia {
        let media = match self.handover {
            Handover::Preview(stream) => from_preview(stream).await,
            Handover::Opening(promise) => match settle(promise).await {
                Ok(stream) => from_preview(stream).await,
                Err(err) => {
                    warn!("devices: the preview failed as the call started: {err}");
                    media::open(&self.wish).await
                }
            },
            Handover::Nothing => media::open(&self.wish).await,
        };
        if let Some(inner) = self.inner.upgrade() {
            if inner.attempt.get() == self.attempt {
                inner.call_media_ready(&media);
            }
        }
        media
    }
}

/// The call's media made from the preview's stream.
async fn from_preview(stream: MediaStream) -> LocalMedia {
    if media::tracks_of(&stream, "video").is_empty() {
        media::open_without_camera(stream).await
    } else {
        LocalMedia {
            stream: Some(stream),
            source: MediaSource::Camera,
        }
    }
}

/// Awaits a preview promise (made by `open_preview`).
async fn settle(promise: Promise) -> Result<MediaStream, DeviceError> {
    match JsFuture::from(promise).await {
        Ok(value) => value.dyn_into::<MediaStream>().map_err(|_| DeviceError {
            name: None,
            detail: "the preview produced something that is not a stream".into(),
        }),
        Err(err) => Err(DeviceError {
            name: js_error::error_name(&err),
            detail: js_error::describe(&err),
        }),
    }
}

/// A device error as a JavaScript `Error` with the same `name`, to reject a promise with.
fn error_value(err: DeviceError) -> JsValue {
    let error = js_sys::Error::new(&err.detail);
    if let Some(name) = &err.name {
        error.set_name(name);
    }
    error.into()
}

/// Lets go of a preview nobody wants any more: its camera is stopped as soon as it opens.
fn abandon(promise: Promise) {
    spawn_local(async move {
        if let Ok(stream) = settle(promise).await {
            media::stop_tracks(&stream);
        }
    });
}

impl Inner {
    /// Opens the preview with the chosen devices, replacing any earlier one.
    pub(super) fn open_preview(self: &Rc<Self>) {
        self.close_preview();
        let wish = self.wish();
        let generation = {
            let mut state = self.devices.borrow_mut();
            state.generation += 1;
            state.generation
        };
        // A promise rather than a Rust future: both the preview and a Call pressed meanwhile
        // can await it, and the stream is opened only once.
        let promise = future_to_promise(async move {
            device_access::open_preview(&wish)
                .await
                .map(JsValue::from)
                .map_err(error_value)
        });
        self.devices.borrow_mut().opening = Some((generation, promise.clone()));
        self.vm.devices.preview_state.set(PreviewState::Opening);
        let weak = Rc::downgrade(self);
        spawn_local(async move {
            let result = settle(promise).await;
            let Some(inner) = weak.upgrade() else {
                if let Ok(stream) = &result {
                    media::stop_tracks(stream);
                }
                return;
            };
            let ours = {
                let mut state = inner.devices.borrow_mut();
                let ours = state
                    .opening
                    .as_ref()
                    .is_some_and(|(opened, _)| *opened == generation);
                if ours {
                    state.opening = None;
                }
                ours
            };
            // Otherwise a call took it over, or it was abandoned: its new owner has it.
            if !ours {
                return;
            }
            match result {
                Ok(stream) => inner.preview_opened(stream),
                Err(err) => {
                    warn!("devices: the preview could not be opened: {err}");
                    inner.vm.devices.preview_state.set(PreviewState::Failed(
                        devices::preview_problem(err.name.as_deref()),
                    ));
                    inner.refresh_devices();
                }
            }
        });
    }

    pub(super) fn preview_opened(self: &Rc<Self>, stream: MediaStream) {
        let model = self.vm.devices;
        let video = !media::tracks_of(&stream, "video").is_empty();
        let audio = !media::tracks_of(&stream, "audio").is_empty();
        // `Clone::clone`, not `stream.clone()`: that would call the JavaScript
        // `MediaStream.clone()` and make a second stream with copies of the tracks.
        self.devices.borrow_mut().preview = Some(Clone::clone(&stream));
        model.preview_mirrored.set(devices::preview_mirrored(
            MediaSource::Camera,
            media::facing::facing_of(Some(&stream)),
        ));
        model.preview.set(Some(Clone::clone(&stream)));
        model.preview_state.set(PreviewState::live(video, audio));
        self.start_meter(&stream);
        // Access was just allowed: the names and ids are there now.
        self.refresh_devices();
    }

    /// Turns the preview off: stops its tracks (or abandons the opening) and its meter.
    pub(super) fn close_preview(&self) {
        let (preview, opening) = {
            let mut state = self.devices.borrow_mut();
            state.generation += 1;
            (state.preview.take(), state.opening.take())
        };
        if let Some(stream) = preview {
            media::stop_tracks(&stream);
        }
        if let Some((_, promise)) = opening {
            abandon(promise);
        }
        self.stop_meter();
        let model = self.vm.devices;
        model.preview.set(None);
        model.preview_state.set(PreviewState::Off);
    }

    // ----- the call -------------------------------------------------------------------------

    /// Call was pressed (or a reloaded page takes its seat back): the call takes the local
    /// media over from the pre-join screen. Call it after the teardown that starts an attempt.
    pub(in crate::controller) fn claim_call_media(self: &Rc<Self>) -> CallMedia {
        let (preview, opening) = {
            let mut state = self.devices.borrow_mut();
            state.in_call = true;
            state.generation += 1;
            (state.preview.take(), state.opening.take())
        };
        let handover = match (preview, opening) {
            (Some(stream), _) => Handover::Preview(stream),
            (None, Some((_, promise))) => Handover::Opening(promise),
            (None, None) => Handover::Nothing,
        };
        let model = self.vm.devices;
        // The local tile shows the stream from now on; the meter keeps measuring it.
        model.preview.set(None);
        model.preview_state.set(PreviewState::Off);
        if let Some(meter) = self.devices.borrow().meter.as_ref() {
            // Call is a click: a meter the browser kept suspended may run now.
            meter.wake();
        }
        CallMedia {
            handover,
            wish: self.wish(),
            inner: Rc::downgrade(self),
            attempt: self.attempt.get(),
        }
    }

    /// The call's media is known: measure its microphone and show its devices in the pickers.
    pub(super) fn call_media_ready(self: &Rc<Self>, media: &LocalMedia) {
        let Some(stream) = media.stream.as_ref() else {
            self.stop_meter();
            return;
        };
        if self.devices.borrow().meter.is_none() {
            self.start_meter(stream);
        }
        self.refresh_devices();
    }

    /// The call is over (called by the teardown): stops the meter, and leaves the preview off
    /// until the person turns it on. The tracks themselves are stopped by the teardown.
    pub(in crate::controller) fn devices_after_call(&self) {
        let was_in_call = {
            let mut state = self.devices.borrow_mut();
            for serial in &mut state.switch_serial {
                *serial += 1;
            }
            state.switch_pending = [false; 2];
            std::mem::replace(&mut state.in_call, false)
        };
        let model = self.vm.devices;
        model.switching.set(false);
        if was_in_call {
            self.stop_meter();
            model.preview_state.set(PreviewState::Off);
        }
    }
}
