//! The pickers' lists, kept current through `devicechange`, and switching a camera or
//! microphone: in a call by replacing the track on its sender (no renegotiation), before one
//! by reopening the preview; a device that goes away is replaced by the next best.

use std::rc::Rc;

use leptos::logging::warn;
use leptos::prelude::*;
use wasm_bindgen_futures::spawn_local;
use web_sys::{MediaStream, MediaStreamTrack, MediaStreamTrackState};

use crate::media::device_access::{self};
use crate::media::{self, MediaSource};
use crate::peer;
use visavis_client_core::call::Trigger;
use visavis_client_core::devices::{self, DeviceKind, DeviceLists, PreviewState};

use super::slot;
use super::Inner;

/// Where a device switch lands: the call of this attempt, or the preview of this generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    Call(u64),
    Preview(u64),
}

impl Inner {
    // ----- lists ----------------------------------------------------------------------------

    /// Lists the devices again and publishes them.
    pub(super) fn refresh_devices(self: &Rc<Self>) {
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
    pub(super) fn publish_lists(&self, lists: &DeviceLists) {
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
    pub(super) fn switch_target(&self, kind: DeviceKind) -> Option<(Scope, MediaStream)> {
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
    pub(super) fn track_in_use(&self, kind: DeviceKind) -> Option<MediaStreamTrack> {
        let (_, stream) = self.switch_target(kind)?;
        media::tracks_of(&stream, kind.track_kind()?)
            .into_iter()
            .next()
    }

    pub(super) fn device_in_use(&self, kind: DeviceKind) -> Option<String> {
        self.track_in_use(kind)
            .and_then(|track| device_access::device_id(&track))
    }

    /// A device was plugged in or out: list again, and if a camera or microphone in use is
    /// gone, switch to the saved or default one.
    pub(super) async fn devices_changed(self: Rc<Self>) {
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

    pub(super) fn choose_device(self: &Rc<Self>, kind: DeviceKind, id: String) {
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
    pub(super) fn switch_device(self: &Rc<Self>, kind: DeviceKind, id: String) {
        let Some((scope, stream)) = self.switch_target(kind) else {
            return;
        };
        if kind == DeviceKind::Camera && self.screen.switching.get() {
            // The screen share is being started or stopped and owns the video sender now.
            self.restore_choice(kind);
            return;
        }
        let serial = self.begin_switch(kind);
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

    /// Starts a switch of `kind`: only the latest one lands. Returns its serial.
    pub(super) fn begin_switch(&self, kind: DeviceKind) -> u64 {
        let serial = {
            let mut state = self.devices.borrow_mut();
            let slot = slot(kind);
            state.switch_serial[slot] += 1;
            state.switch_pending[slot] = true;
            state.switch_serial[slot]
        };
        self.vm.devices.switching.set(true);
        serial
    }

    /// Whether a switch is still wanted: the latest of its kind, and its preview or call is
    /// still the current one.
    pub(super) fn switch_current(&self, kind: DeviceKind, serial: u64, scope: Scope) -> bool {
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

    pub(super) fn switch_done(&self, kind: DeviceKind, serial: u64) {
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

    pub(super) fn switch_failed(&self, kind: DeviceKind, serial: u64, error_name: Option<&str>) {
        self.switch_done(kind, serial);
        self.restore_choice(kind);
        self.apply(Trigger::LocalError(devices::switch_problem(
            kind, error_name,
        )));
    }

    /// Puts the picker back on the device in use.
    pub(super) fn restore_choice(&self, kind: DeviceKind) {
        if let Some(id) = self.device_in_use(kind) {
            self.vm.devices.chosen(kind).set(Some(id));
        }
    }
}

/// The second half of a switch, once the new track is open: sends it, swaps it into the local
/// stream, and stops the old one.
pub(super) async fn install_track(
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
    let sharing = video && inner.screen.share.borrow().is_some();
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
        let replaced = peer::replace_track(&sender, &track).await;
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
