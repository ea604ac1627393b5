//! The call while the page is hidden: the audio goes on, but a phone's browser may pause the
//! camera (mute its track) or stop it (end the track). The other side is told the camera is
//! paused, and when the page is visible again the camera resumes — reopened, and sent in
//! place of the ended track, if the browser stopped it.
//!
//! A `visibilitychange` listener, installed for the call and dropped with it, reacts at once;
//! the stats loop checks once a second too, since a browser may stop the camera a moment after
//! the page was hidden.

use std::rc::Rc;

use leptos::logging::warn;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;
use web_sys::{Event, MediaStreamTrackState};

use crate::media;
use crate::peer::{self, Call};
use visavis_client_core::adapt::{self, CameraAction, CameraTrack};
use visavis_client_core::chat::Frame;

use super::Inner;

/// The call's `visibilitychange` listener; removed and dropped with it.
pub(super) struct VisibilityWatch {
    on_change: Closure<dyn FnMut(Event)>,
}

impl Drop for VisibilityWatch {
    fn drop(&mut self) {
        if let Some(document) = web_sys::window().and_then(|w| w.document()) {
            let _ = document.remove_event_listener_with_callback(
                "visibilitychange",
                self.on_change.as_ref().unchecked_ref(),
            );
        }
    }
}

/// Whether the page is hidden (in the background, or the screen is off).
fn page_hidden() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .is_some_and(|document| document.hidden())
}

impl Inner {
    /// Starts watching the page's visibility for the call that is starting.
    pub(super) fn watch_visibility(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        let attempt = self.attempt.get();
        let on_change = Closure::<dyn FnMut(Event)>::new(move |_: Event| {
            let weak = weak.clone();
            spawn_local(async move {
                if let Some(inner) = weak.upgrade().filter(|i| i.attempt.get() == attempt) {
                    inner.check_camera_pause();
                }
            });
        });
        let Some(document) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        if let Err(err) = document.add_event_listener_with_callback(
            "visibilitychange",
            on_change.as_ref().unchecked_ref(),
        ) {
            warn!("background: cannot watch the page's visibility: {err:?}");
            return;
        }
        *self.visibility.borrow_mut() = Some(VisibilityWatch { on_change });
    }

    /// Tells the other side when the hidden page's camera was paused, and resumes it once the
    /// page is visible again.
    pub(super) fn check_camera_pause(self: &Rc<Self>) {
        // A shared screen is not the camera, and a screen share is not paused by hiding.
        if self.screen.share.borrow().is_some() {
            return;
        }
        let Some(camera) = self.camera_stream() else {
            return;
        };
        let track = media::tracks_of(&camera, "video").into_iter().next();
        let Some(track) = track else {
            return;
        };
        let state = CameraTrack {
            ended: track.ready_state() == MediaStreamTrackState::Ended,
            muted: track.muted(),
        };
        match adapt::camera_action(page_hidden(), state, self.network.camera_paused()) {
            CameraAction::Keep => {}
            CameraAction::Pause => {
                self.network.set_camera_paused(true);
                self.send_control(&Frame::CameraPaused { paused: true });
            }
            CameraAction::Resume => self.camera_resumed(),
            CameraAction::Reacquire => self.reacquire_camera(),
        }
    }

    fn camera_resumed(&self) {
        self.network.set_camera_paused(false);
        self.send_control(&Frame::CameraPaused { paused: false });
    }

    /// Opens the camera again after the browser stopped it, and sends the new track in place
    /// of the ended one.
    fn reacquire_camera(self: &Rc<Self>) {
        let vm = self.vm;
        if self.screen.switching.get() {
            return;
        }
        self.screen.switching.set(true);
        let chosen = vm.devices.camera.get_untracked();
        let weak = Rc::downgrade(self);
        let attempt = self.attempt.get();
        spawn_local(async move {
            let opened = media::reopen_camera(chosen.as_deref()).await;
            let current = weak.upgrade().filter(|i| i.attempt.get() == attempt);
            let Some(inner) = current else {
                if let Ok(stream) = &opened {
                    media::stop_tracks(stream);
                }
                return;
            };
            inner.screen.switching.set(false);
            let stream = match opened {
                Ok(stream) => stream,
                Err(err) => {
                    warn!("background: the camera could not be reopened: {err}");
                    return;
                }
            };
            let (Some(track), Some(camera)) = (
                media::tracks_of(&stream, "video").into_iter().next(),
                inner.camera_stream(),
            ) else {
                media::stop_tracks(&stream);
                return;
            };
            for old in media::tracks_of(&camera, "video") {
                old.stop();
                camera.remove_track(&old);
            }
            camera.add_track(&track);
            track.set_enabled(vm.camera_on.get_untracked());
            // The video element shows the stream again with its new track.
            vm.local_stream.set(Some(camera));
            let sender = inner.call.borrow().as_ref().and_then(Call::video_sender);
            if let Some(sender) = sender {
                if let Err(err) = peer::replace_track(&sender, &track).await {
                    warn!("background: {err}");
                }
            }
            if let Some(inner) = weak.upgrade().filter(|i| i.attempt.get() == attempt) {
                inner.camera_resumed();
            }
        });
    }
}
