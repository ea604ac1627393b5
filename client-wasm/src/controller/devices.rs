//! The person's devices: the pre-join preview, the pickers' lists (kept current through
//! `devicechange`), the microphone level meter, and switching a camera or microphone by
//! replacing the track on its sender, without renegotiation.
//!
//! The preview opens when the call page shows. Pressing Call hands its stream to the call (or
//! the promise of it, while it is still opening), so the camera is opened once and the browser
//! asks once. After a call the preview stays off until the person turns it on: the camera light
//! must not come back by itself after hanging up.

use std::rc::Rc;

use js_sys::Promise;
use leptos::logging::warn;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, spawn_local, JsFuture};
use web_sys::{MediaStream, MediaStreamTrack, MediaStreamTrackState};

use crate::call;
use crate::device_access::{self, DeviceWatch};
use crate::devices::{self, DeviceKind, DeviceLists, PreviewState};
use crate::diagnosis::DeviceError;
use crate::js_error;
use crate::level_meter::LevelMeter;
use crate::media::{self, DeviceWish, LocalMedia, MediaSource};
use crate::state::Trigger;

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

/// Where a device switch lands: the call of this attempt, or the preview of this generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Call(u64),
    Preview(u64),
}

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
pub(super) struct CallMedia {
    handover: Handover,
    wish: DeviceWish,
    inner: std::rc::Weak<Inner>,
    attempt: u64,
}

impl CallMedia {
    /// The call's media: the preview's stream if it had a camera; with only a microphone, the
    /// screen (or nothing) beside that microphone; without a preview, the chosen devices with
    /// the usual fallbacks (`media::open`). Never fails.
    pub(super) async fn open(self) -> LocalMedia {
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

    fn start_devices(self: &Rc<Self>) {
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

    fn toggle_preview(self: &Rc<Self>) {
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
    fn wish(&self) -> DeviceWish {
        let model = self.vm.devices;
        DeviceWish {
            camera: model.camera.get_untracked(),
            microphone: model.microphone.get_untracked(),
        }
    }

    /// Opens the preview with the chosen devices, replacing any earlier one.
    fn open_preview(self: &Rc<Self>) {
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

    fn preview_opened(self: &Rc<Self>, stream: MediaStream) {
        let model = self.vm.devices;
        let video = !media::tracks_of(&stream, "video").is_empty();
        let audio = !media::tracks_of(&stream, "audio").is_empty();
        // `Clone::clone`, not `stream.clone()`: that would call the JavaScript
        // `MediaStream.clone()` and make a second stream with copies of the tracks.
        self.devices.borrow_mut().preview = Some(Clone::clone(&stream));
        model.preview.set(Some(Clone::clone(&stream)));
        model.preview_state.set(PreviewState::live(video, audio));
        self.start_meter(&stream);
        // Access was just allowed: the names and ids are there now.
        self.refresh_devices();
    }

    /// Turns the preview off: stops its tracks (or abandons the opening) and its meter.
    fn close_preview(&self) {
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
    pub(super) fn claim_call_media(self: &Rc<Self>) -> CallMedia {
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
    fn call_media_ready(self: &Rc<Self>, media: &LocalMedia) {
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
    pub(super) fn devices_after_call(&self) {
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

    // ----- the level meter ------------------------------------------------------------------

    fn start_meter(&self, stream: &MediaStream) {
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

    fn stop_meter(&self) {
        let meter = self.devices.borrow_mut().meter.take();
        drop(meter);
        self.vm.devices.mic_level.set(None);
    }

    // ----- lists ----------------------------------------------------------------------------

    /// Lists the devices again and publishes them.
    fn refresh_devices(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        spawn_local(async move {
            let lists = device_access::enumerate().await;
            if let Some(inner) = weak.upgrade() {
                match lists {
                    Ok(lists) => inner.publish_lists(&lists),
                    Err(err) => warn!("devices: could not list the devices: {err}"),
                }
            }
        });
    }

    /// Shows the lists, each picker on the device in use, else the chosen, saved or default
    /// one. An empty list (access not allowed yet) leaves the choice alone.
    fn publish_lists(&self, lists: &DeviceLists) {
        let model = self.vm.devices;
        for kind in DeviceKind::ALL {
            let options = lists.of(kind);
            if model
                .options(kind)
                .with_untracked(|old| old.as_slice() != options)
            {
                model.options(kind).set(options.to_vec());
            }
            if options.is_empty() {
                continue;
            }
            let listed = |id: &String| options.iter().any(|option| &option.id == id);
            let preferred = self
                .device_in_use(kind)
                .filter(listed)
                .or_else(|| model.chosen(kind).get_untracked().filter(listed))
                .or_else(|| device_access::saved(kind));
            let chosen = if kind == DeviceKind::Speaker {
                // Nothing picked: the system's default, without calling `setSinkId` at all.
                preferred.filter(|id| listed(id))
            } else {
                devices::choose(preferred.as_deref(), options)
            };
            if model.chosen(kind).get_untracked() != chosen {
                model.chosen(kind).set(chosen);
            }
        }
    }

    /// The local stream a switch of `kind` would change, and where it lives. In a call only a
    /// kind the call already sends can be switched (a new kind would need renegotiation), and
    /// a camera only if the call's picture is a camera (not the screen shared in its place).
    fn switch_target(&self, kind: DeviceKind) -> Option<(Scope, MediaStream)> {
        let track_kind = kind.track_kind()?;
        let state = self.devices.borrow();
        if !state.in_call {
            return Some((Scope::Preview(state.generation), state.preview.clone()?));
        }
        let media = self.media.borrow();
        let media = media.as_ref()?;
        let stream = media.stream.clone()?;
        if kind == DeviceKind::Camera && media.source != MediaSource::Camera {
            return None;
        }
        if media::tracks_of(&stream, track_kind).is_empty() {
            return None;
        }
        Some((Scope::Call(self.attempt.get()), stream))
    }

    /// The track of `kind` in the local stream (preview or call), if any (it may have ended).
    fn track_in_use(&self, kind: DeviceKind) -> Option<MediaStreamTrack> {
        let (_, stream) = self.switch_target(kind)?;
        media::tracks_of(&stream, kind.track_kind()?)
            .into_iter()
            .next()
    }

    fn device_in_use(&self, kind: DeviceKind) -> Option<String> {
        self.track_in_use(kind)
            .and_then(|track| device_access::device_id(&track))
    }

    /// A device was plugged in or out: list again, and if a camera or microphone in use is
    /// gone, switch to the saved or default one.
    async fn devices_changed(self: Rc<Self>) {
        let lists = match device_access::enumerate().await {
            Ok(lists) => lists,
            Err(err) => {
                warn!("devices: could not list the devices: {err}");
                return;
            }
        };
        for kind in [DeviceKind::Camera, DeviceKind::Microphone] {
            let Some(track) = self.track_in_use(kind) else {
                continue;
            };
            let in_use = device_access::device_id(&track);
            let ended = track.ready_state() == MediaStreamTrackState::Ended;
            let saved = device_access::saved(kind);
            let replacement =
                devices::replacement(in_use.as_deref(), ended, saved.as_deref(), lists.of(kind));
            if let Some(id) = replacement {
                warn!(
                    "devices: the {} in use is gone; switching to another",
                    kind.noun().to_lowercase()
                );
                self.vm.devices.chosen(kind).set(Some(id.clone()));
                self.switch_device(kind, id);
            }
        }
        self.publish_lists(&lists);
    }

    // ----- picking and switching ------------------------------------------------------------

    fn choose_device(self: &Rc<Self>, kind: DeviceKind, id: String) {
        let model = self.vm.devices;
        if id.is_empty() {
            return;
        }
        device_access::save(kind, &id);
        let unchanged = model.chosen(kind).get_untracked().as_deref() == Some(id.as_str());
        if !unchanged {
            model.chosen(kind).set(Some(id.clone()));
        }
        if let Some(meter) = self.devices.borrow().meter.as_ref() {
            meter.wake();
        }
        if kind == DeviceKind::Speaker {
            // The remote video follows the signal.
            return;
        }
        if self.device_in_use(kind).as_deref() == Some(id.as_str()) {
            return;
        }
        let (in_call, opening) = {
            let state = self.devices.borrow();
            (state.in_call, state.opening.is_some())
        };
        let failed = matches!(
            self.vm.devices.preview_state.get_untracked(),
            PreviewState::Failed(_)
        );
        if !in_call && (opening || failed) {
            // Not open yet, or it failed (perhaps because of the other device): open it again,
            // with this device.
            self.open_preview();
            return;
        }
        let has_kind = self.track_in_use(kind).is_some();
        if !in_call && !has_kind && self.devices.borrow().preview.is_some() {
            // The preview lacks this kind (it failed before): try the whole preview again.
            self.open_preview();
            return;
        }
        // Without a preview or a switchable call track, the choice waits for the next opening.
        self.switch_device(kind, id);
    }

    /// Opens the device `id` of `kind` and puts its track in place of the current one: on the
    /// call's sender (`replaceTrack`, no renegotiation) and in the local stream. The old track
    /// is stopped once nothing uses it.
    fn switch_device(self: &Rc<Self>, kind: DeviceKind, id: String) {
        let Some((scope, stream)) = self.switch_target(kind) else {
            return;
        };
        if kind == DeviceKind::Camera && self.switching.get() {
            // The screen share is being started or stopped and owns the video sender now.
            self.restore_choice(kind);
            return;
        }
        let serial = {
            let mut state = self.devices.borrow_mut();
            let slot = slot(kind);
            state.switch_serial[slot] += 1;
            state.switch_pending[slot] = true;
            state.switch_serial[slot]
        };
        self.vm.devices.switching.set(true);
        let weak = Rc::downgrade(self);
        spawn_local(async move {
            let opened = device_access::open_track(kind, &id).await;
            let current = weak
                .upgrade()
                .filter(|inner| inner.switch_current(kind, serial, scope));
            let Some(inner) = current else {
                if let Ok(track) = &opened {
                    track.stop();
                }
                return;
            };
            match opened {
                Ok(track) => {
                    drop(inner);
                    install_track(weak, kind, serial, scope, stream, track).await;
                }
                Err(err) => {
                    warn!("devices: could not open the {kind:?} {id}: {err}");
                    inner.switch_failed(kind, serial, err.name.as_deref());
                }
            }
        });
    }

    /// Whether a switch is still wanted: the latest of its kind, and its preview or call is
    /// still the current one.
    fn switch_current(&self, kind: DeviceKind, serial: u64, scope: Scope) -> bool {
        let state = self.devices.borrow();
        if state.switch_serial[slot(kind)] != serial {
            return false;
        }
        match scope {
            Scope::Call(attempt) => state.in_call && self.attempt.get() == attempt,
            Scope::Preview(generation) => {
                !state.in_call && state.generation == generation && state.preview.is_some()
            }
        }
    }

    fn switch_done(&self, kind: DeviceKind, serial: u64) {
        let busy = {
            let mut state = self.devices.borrow_mut();
            let slot = slot(kind);
            if state.switch_serial[slot] == serial {
                state.switch_pending[slot] = false;
            }
            state.switch_pending.iter().any(|pending| *pending)
        };
        self.vm.devices.switching.set(busy);
    }

    fn switch_failed(&self, kind: DeviceKind, serial: u64, error_name: Option<&str>) {
        self.switch_done(kind, serial);
        self.restore_choice(kind);
        self.apply(Trigger::LocalError(devices::switch_problem(
            kind, error_name,
        )));
    }

    /// Puts the picker back on the device in use.
    fn restore_choice(&self, kind: DeviceKind) {
        if let Some(id) = self.device_in_use(kind) {
            self.vm.devices.chosen(kind).set(Some(id));
        }
    }
}

/// The second half of a switch, once the new track is open: sends it, swaps it into the local
/// stream, and stops the old one.
async fn install_track(
    weak: std::rc::Weak<Inner>,
    kind: DeviceKind,
    serial: u64,
    scope: Scope,
    stream: MediaStream,
    track: MediaStreamTrack,
) {
    let Some(inner) = weak.upgrade() else {
        track.stop();
        return;
    };
    let video = kind == DeviceKind::Camera;
    let vm = inner.vm;
    if let Scope::Call(_) = scope {
        // Muted stays muted, a stopped camera stays stopped.
        track.set_enabled(if video {
            vm.camera_on.get_untracked()
        } else {
            vm.mic_on.get_untracked()
        });
    }
    // While the screen is shared, the video sender sends the screen: the new camera waits in
    // the local stream, where going back to the camera picks it up.
    let sharing = video && inner.screen.borrow().is_some();
    let sender = if sharing {
        None
    } else {
        inner.call.borrow().as_ref().and_then(|call| {
            if video {
                call.video_sender()
            } else {
                call.audio_sender()
            }
        })
    };
    drop(inner);
    if let Some(sender) = sender {
        let replaced = call::replace_track(&sender, &track).await;
        let current = weak
            .upgrade()
            .filter(|inner| inner.switch_current(kind, serial, scope));
        let Some(inner) = current else {
            track.stop();
            return;
        };
        if let Err(err) = replaced {
            warn!("devices: {err}");
            track.stop();
            inner.switch_failed(kind, serial, None);
            return;
        }
    }
    let Some(inner) = weak.upgrade() else {
        track.stop();
        return;
    };
    let track_kind = if video { "video" } else { "audio" };
    let old = media::tracks_of(&stream, track_kind);
    for old in &old {
        stream.remove_track(old);
    }
    stream.add_track(&track);
    if !video {
        // While sharing, the local tile shows a stream of the screen and our microphone.
        if let Some(shown) = vm.local_stream.get_untracked().filter(|s| s != &stream) {
            for old in media::tracks_of(&shown, "audio") {
                shown.remove_track(&old);
            }
            shown.add_track(&track);
        }
    }
    // Only now is the old device unused.
    for old in old {
        old.stop();
    }
    if !video {
        // The meter was measuring the old microphone.
        inner.start_meter(&stream);
    }
    let chosen = device_access::device_id(&track);
    if chosen.is_some() {
        vm.devices.chosen(kind).set(chosen);
    }
    inner.switch_done(kind, serial);
    if let Scope::Call(_) = scope {
        inner.send_media_state();
    }
    if let Scope::Preview(_) = scope {
        let model = vm.devices;
        let has = |kind: &str| !media::tracks_of(&stream, kind).is_empty();
        model
            .preview_state
            .set(PreviewState::live(has("video"), has("audio")));
    }
}
