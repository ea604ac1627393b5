//! The person's devices: the pre-join preview, the pickers' lists (kept current through
//! `devicechange`), the microphone level meter, and switching a camera or microphone by
//! replacing the track on its sender, without renegotiation.
//!
//! The preview opens when the call page shows. Pressing Call hands its stream to the call (or
//! the promise of it, while it is still opening), so the camera is opened once and the browser
//! asks once. After a call the preview stays off until the person turns it on: the camera light
//! must not come back by itself after hanging up.
//!
//! [`preview`] opens and closes the preview and hands it to a call; [`switching`] keeps the
//! pickers' lists current and switches devices; [`flip`] flips between a phone's front and back
//! cameras and mirrors the picture of a front one only; [`audio`] changes the microphone's sound
//! processing (speech filters, music mode). This module holds their shared state, the
//! controller's device methods, and the level meter.

mod audio;
mod flip;
mod preview;
mod switching;

use std::rc::Rc;

use js_sys::Promise;
use leptos::logging::warn;
use leptos::prelude::*;
use wasm_bindgen_futures::spawn_local;
use web_sys::MediaStream;

use crate::media::device_access::{self, DeviceWatch};
use crate::media::level_meter::LevelMeter;
use crate::media::{self, DeviceWish};
use visavis_client_core::devices::{AudioChoice, DeviceKind};

use super::{Controller, Inner};

/// The device side of the controller's state (one field of `Inner`).
#[derive(Default)]
pub(super) struct DeviceState {
    /// The preview's stream while on the pre-join screen. Stopped when the preview is turned
    /// off; handed to the call when Call is pressed.
    preview: Option<MediaStream>,
    /// The preview being opened: its generation and the promise of its stream.
    opening: Option<(u64, Promise)>,
    /// Bumped whenever the preview is opened, closed or handed to a call, so that a late
    /// result of an earlier one is not shown.
    generation: u64,
    /// From Call until the teardown: the local stream belongs to the call.
    in_call: bool,
    /// The level meter on the local stream's microphone.
    meter: Option<LevelMeter>,
    /// The `devicechange` listener.
    watch: Option<DeviceWatch>,
    /// Per kind (camera, microphone): bumped for each switch, so that only the latest pick
    /// lands, and for each teardown.
    switch_serial: [u64; 2],
    /// Per kind: a switch is under way.
    switch_pending: [bool; 2],
}

/// The index of a camera or microphone in the per-kind arrays (speakers are never switched
/// here: the remote video follows the choice by itself).
fn slot(kind: DeviceKind) -> usize {
    match kind {
        DeviceKind::Camera => 0,
        DeviceKind::Microphone | DeviceKind::Speaker => 1,
    }
}

impl Controller {
    /// Loads the saved device choices, lists the devices, follows `devicechange` and opens the
    /// pre-join preview. Called once, when the call page shows.
    pub fn start_devices(&self) {
        self.inner.start_devices();
    }

    /// The person pressed Turn on / Turn off camera on the pre-join screen.
    pub fn toggle_preview(&self) {
        self.inner.toggle_preview();
    }

    /// The person picked a device in one of the pickers.
    pub fn choose_device(&self, kind: DeviceKind, id: String) {
        self.inner.choose_device(kind, id);
    }

    /// The person turned the speech filters (noise suppression, automatic gain) on or off.
    pub fn set_voice_cleanup(&self, on: bool) {
        let choice = self.inner.vm.audio_choice.get_untracked();
        self.inner.set_audio_choice(AudioChoice {
            voice_cleanup: on,
            ..choice
        });
    }

    /// The person turned music mode on or off.
    pub fn set_music_mode(&self, on: bool) {
        let choice = self.inner.vm.audio_choice.get_untracked();
        self.inner.set_audio_choice(AudioChoice {
            music: on,
            ..choice
        });
    }

    /// The person pressed the flip button: the other of the front and back cameras.
    pub fn flip_camera(&self) {
        self.inner.flip_camera();
    }

    /// The person clicked or typed somewhere: a level meter whose audio context the browser
    /// kept suspended (no click yet when it was made) may run now.
    pub fn wake_audio(&self) {
        if let Some(meter) = self.inner.devices.borrow().meter.as_ref() {
            meter.wake();
        }
    }
}

impl Inner {
    // ----- start and the pre-join preview ---------------------------------------------------

    pub(super) fn start_devices(self: &Rc<Self>) {
        let model = self.vm.devices;
        model.sink_supported.set(device_access::sink_supported());
        for kind in DeviceKind::ALL {
            model.chosen(kind).set(device_access::saved(kind));
        }
        let weak = Rc::downgrade(self);
        let watch = DeviceWatch::install(move || {
            let weak = weak.clone();
            // Deferred, like every browser event here (see the controller's module comment).
            spawn_local(async move {
                if let Some(inner) = weak.upgrade() {
                    inner.devices_changed().await;
                }
            });
        });
        self.devices.borrow_mut().watch = watch;
        self.refresh_devices();
        let idle = !self.vm.starting.get_untracked()
            && self.vm.call_state.get_untracked().can_start()
            && !self.devices.borrow().in_call;
        if idle {
            self.open_preview();
        }
    }

    pub(super) fn toggle_preview(self: &Rc<Self>) {
        if self.devices.borrow().in_call {
            return;
        }
        if self.vm.devices.preview_state.get_untracked().is_on() {
            self.close_preview();
        } else {
            self.open_preview();
        }
    }

    /// The devices the person chose, for opening them.
    pub(super) fn wish(&self) -> DeviceWish {
        let model = self.vm.devices;
        DeviceWish {
            camera: model.camera.get_untracked(),
            microphone: model.microphone.get_untracked(),
        }
    }

    // ----- the level meter ------------------------------------------------------------------

    pub(super) fn start_meter(&self, stream: &MediaStream) {
        self.stop_meter();
        if media::tracks_of(stream, "audio").is_empty() {
            return;
        }
        let level = self.vm.devices.mic_level;
        let meter = LevelMeter::start(stream, move |value| {
            if level.try_get_untracked() != Some(Some(value)) {
                // The page may be gone already; then there is nothing to show it on.
                let _ = level.try_set(Some(value));
            }
        });
        match meter {
            Ok(meter) => {
                level.set(Some(0));
                self.devices.borrow_mut().meter = Some(meter);
            }
            // The microphone works; only the meter is missing.
            Err(err) => warn!("devices: no microphone level: {err}"),
        }
    }

    pub(super) fn stop_meter(&self) {
        let meter = self.devices.borrow_mut().meter.take();
        drop(meter);
        self.vm.devices.mic_level.set(None);
    }
}
