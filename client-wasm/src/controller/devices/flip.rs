//! The front/back camera flip of a phone, and the local picture's mirroring that follows the
//! camera's facing. The flip is offered only where the cameras include a front and a back one
//! (`visavis_client_core::devices::flip_offered`). It stops the old camera *before* opening the
//! other, since many Android phones cannot have both open, then puts the new track on the video
//! sender (`replaceTrack`, no renegotiation) and in the local stream, as a device switch does.

use std::rc::Rc;

use leptos::logging::warn;
use leptos::prelude::*;
use wasm_bindgen_futures::spawn_local;

use crate::media::{self, facing, MediaSource};
use visavis_client_core::devices::{self, DeviceKind};

use super::switching::{install_track, Scope};
use super::Inner;

impl Inner {
    /// Whether the call's local picture is mirrored now: the camera's, if it faces the person.
    pub(in crate::controller) fn call_picture_mirrored(&self) -> bool {
        let media = self.media.borrow();
        media.as_ref().is_some_and(|m| {
            devices::preview_mirrored(m.source, facing::facing_of(m.stream.as_ref()))
        })
    }

    /// Finds out whether this device has a front and a back camera, and offers the flip if so.
    pub(in crate::controller) fn offer_flip(self: &Rc<Self>) {
        let attempt = self.attempt.get();
        let weak = Rc::downgrade(self);
        spawn_local(async move {
            let cameras = facing::camera_facts().await;
            let Some(inner) = weak.upgrade() else {
                return;
            };
            let camera = inner
                .media
                .borrow()
                .as_ref()
                .is_some_and(|m| m.source == MediaSource::Camera);
            if inner.attempt.get() == attempt {
                inner
                    .vm
                    .can_flip
                    .set(camera && devices::flip_offered(&cameras));
            }
        });
    }

    /// The person pressed the flip button: the other camera of front and back.
    pub(in crate::controller) fn flip_camera(self: &Rc<Self>) {
        if !self.vm.can_flip.get_untracked() || self.screen.switching.get() {
            return;
        }
        // Not while the screen is shared: the sender carries the screen.
        if self.screen.share.borrow().is_some() {
            return;
        }
        let Some((scope @ Scope::Call(_), stream)) = self.switch_target(DeviceKind::Camera) else {
            return;
        };
        let current = facing::facing_of(Some(&stream));
        let next = current.flipped();
        let Some(mode) = next.as_mode() else {
            return;
        };
        // First let go of the camera in use: a phone may refuse to open the other one while
        // it is held. The local tile shows nothing for the moment this takes.
        for old in media::tracks_of(&stream, "video") {
            old.stop();
        }
        let serial = self.begin_switch(DeviceKind::Camera);
        let weak = Rc::downgrade(self);
        spawn_local(async move {
            let opened = match media::open_camera_facing(mode).await {
                Ok(opened) => Ok(opened),
                Err(err) => {
                    warn!("devices: could not open the {mode} camera: {err}; reopening a camera");
                    // The default camera again, so the picture is not left dark.
                    media::reopen_camera(None).await
                }
            };
            let current_switch = weak
                .upgrade()
                .filter(|inner| inner.switch_current(DeviceKind::Camera, serial, scope));
            let Some(inner) = current_switch else {
                if let Ok(opened) = &opened {
                    media::stop_tracks(opened);
                }
                return;
            };
            let track = match opened {
                Ok(opened) => media::tracks_of(&opened, "video").into_iter().next(),
                Err(err) => {
                    warn!("devices: the flip failed: {err}");
                    inner.switch_failed(DeviceKind::Camera, serial, err.name.as_deref());
                    return;
                }
            };
            let Some(track) = track else {
                inner.switch_failed(DeviceKind::Camera, serial, None);
                return;
            };
            drop(inner);
            install_track(
                weak.clone(),
                DeviceKind::Camera,
                serial,
                scope,
                stream,
                track,
            )
            .await;
            if let Some(inner) = weak.upgrade() {
                // The stream shown is the same object, now with the new camera's track.
                let mirrored = inner.call_picture_mirrored();
                inner.vm.local_mirrored.set(mirrored);
            }
        });
    }
}
