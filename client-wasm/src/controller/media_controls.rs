//! The in-call controls: muting the microphone, turning the camera off, and sharing the screen
//! in place of the camera.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use leptos::logging::warn;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;
use web_sys::{Event, MediaStream, MediaStreamTrack, MediaStreamTrackState};

use crate::media::{self};
use crate::peer::{self, Call};
use visavis_client_core::call::Trigger;
use visavis_client_core::chat::Frame;
use visavis_client_core::controls::{self};

use super::Inner;

/// A screen being shared in place of the camera, with the handler that notices when the
/// browser's own "stop sharing" ends it.
pub(super) struct ScreenShare {
    track: MediaStreamTrack,
    on_ended: Option<Closure<dyn FnMut(Event)>>,
}

impl ScreenShare {
    /// Uninstalls the handler, drops it and stops the screen capture.
    pub(super) fn stop(&mut self) {
        if let Some(handler) = self.on_ended.take() {
            self.track.set_onended(None);
            drop(handler);
        }
        self.track.stop();
    }
}

impl Drop for ScreenShare {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Screen sharing's part of the controller's state (one field of `Inner`): the share, if
/// any, a switch between camera and screen under way, and which share is the latest.
#[derive(Default)]
pub(super) struct ScreenState {
    /// The screen being shared, if any.
    pub(super) share: RefCell<Option<ScreenShare>>,
    /// A switch between camera and screen is under way (further presses are ignored).
    pub(super) switching: Cell<bool>,
    /// Bumped for each screen share, so a late `ended` of an earlier one is ignored.
    generation: Cell<u64>,
}

impl Inner {
    pub(super) fn camera_stream(&self) -> Option<MediaStream> {
        self.media.borrow().as_ref().and_then(|m| m.stream.clone())
    }

    pub(super) fn toggle_mic(&self) {
        let vm = self.vm;
        if !vm.has_audio.get_untracked() {
            return;
        }
        let on = !vm.mic_on.get_untracked();
        vm.mic_on.set(on);
        if let Some(stream) = self.camera_stream() {
            media::set_enabled(&stream, "audio", on);
        }
        self.send_media_state();
    }

    pub(super) fn toggle_camera(&self) {
        let vm = self.vm;
        if !vm.has_video.get_untracked() {
            return;
        }
        let on = !vm.camera_on.get_untracked();
        vm.camera_on.set(on);
        if let Some(stream) = self.camera_stream() {
            media::set_enabled(&stream, "video", on);
        }
        // "Stop video" while sharing stops the pictures the other side gets: the screen's.
        if let Some(share) = self.screen.share.borrow().as_ref() {
            share.track.set_enabled(on);
        }
        self.send_media_state();
    }

    /// Tells the other side whether our microphone and camera are on, if the chat channel is
    /// open (it is told again when the channel opens).
    pub(super) fn send_media_state(&self) {
        let vm = self.vm;
        if !vm.chat_open.get_untracked() {
            return;
        }
        let sent = controls::sent_media(
            vm.has_audio.get_untracked(),
            vm.mic_on.get_untracked(),
            vm.has_video.get_untracked(),
            vm.camera_on.get_untracked(),
        );
        let frame = Frame::MediaState {
            audio: sent.audio,
            video: sent.video,
        };
        if let Some(call) = self.call.borrow().as_ref() {
            if let Err(err) = call.send_chat(&frame.to_json()) {
                warn!("controls: could not send the media state: {err}");
            }
        }
    }

    pub(super) fn toggle_screen(self: &Rc<Self>) {
        if self.screen.switching.get() {
            return;
        }
        if self.screen.share.borrow().is_some() {
            self.stop_sharing();
        } else {
            self.start_sharing();
        }
    }

    /// Asks for the screen and, once given, sends it in place of the camera.
    pub(super) fn start_sharing(self: &Rc<Self>) {
        let vm = self.vm;
        if !vm.can_share.get_untracked() || self.call.borrow().is_none() {
            return;
        }
        self.screen.switching.set(true);
        let weak = Rc::downgrade(self);
        let attempt = self.attempt.get();
        spawn_local(async move {
            let opened = media::open_screen().await;
            let current = weak
                .upgrade()
                .filter(|inner| inner.attempt.get() == attempt);
            let Some(inner) = current else {
                if let Ok(stream) = &opened {
                    media::stop_tracks(stream);
                }
                return;
            };
            let stream = match opened {
                Ok(stream) => stream,
                Err(err) => {
                    inner.screen.switching.set(false);
                    warn!("controls: the screen could not be shared: {err}");
                    inner.apply(Trigger::LocalError(
                        "Your screen could not be shared (cancelled or refused).".into(),
                    ));
                    return;
                }
            };
            let track = media::tracks_of(&stream, "video").into_iter().next();
            let sender = inner.call.borrow().as_ref().and_then(Call::video_sender);
            let (Some(track), Some(sender)) = (track, sender) else {
                media::stop_tracks(&stream);
                inner.screen.switching.set(false);
                warn!("controls: no screen track or no video sender");
                return;
            };
            track.set_enabled(vm.camera_on.get_untracked());
            let replaced = peer::replace_track(&sender, &track).await;
            if inner.attempt.get() != attempt {
                track.stop();
                return;
            }
            if let Err(err) = replaced {
                track.stop();
                inner.screen.switching.set(false);
                warn!("controls: {err}");
                inner.apply(Trigger::LocalError(
                    "Your screen could not be shared.".into(),
                ));
                return;
            }
            inner.screen_started(track);
        });
    }

    /// The screen is being sent: shows it (un-mirrored, with our microphone, so the local
    /// stream still holds every track we send) and watches for the browser ending it.
    pub(super) fn screen_started(self: &Rc<Self>, track: MediaStreamTrack) {
        let vm = self.vm;
        let generation = self.screen.generation.get() + 1;
        self.screen.generation.set(generation);
        let weak = Rc::downgrade(self);
        let attempt = self.attempt.get();
        let on_ended = Closure::<dyn FnMut(Event)>::new(move |_: Event| {
            let weak = weak.clone();
            spawn_local(async move {
                if let Some(inner) = weak.upgrade() {
                    if inner.attempt.get() == attempt && inner.screen.generation.get() == generation
                    {
                        inner.stop_sharing();
                    }
                }
            });
        });
        track.set_onended(Some(on_ended.as_ref().unchecked_ref()));
        match MediaStream::new() {
            Ok(preview) => {
                preview.add_track(&track);
                if let Some(camera) = self.camera_stream() {
                    for audio in media::tracks_of(&camera, "audio") {
                        preview.add_track(&audio);
                    }
                }
                vm.local_stream.set(Some(preview));
            }
            Err(err) => warn!("controls: could not show the screen: {err:?}"),
        }
        vm.local_mirrored.set(false);
        vm.sharing.set(true);
        *self.screen.share.borrow_mut() = Some(ScreenShare {
            track,
            on_ended: Some(on_ended),
        });
        self.screen.switching.set(false);
    }

    /// Stops the screen share and sends the camera again (reopening it if its track ended).
    pub(super) fn stop_sharing(self: &Rc<Self>) {
        let share = self.screen.share.borrow_mut().take();
        let Some(mut share) = share else {
            return;
        };
        share.stop();
        drop(share);
        let vm = self.vm;
        vm.sharing.set(false);
        let camera = self.camera_stream();
        let mirrored = self.call_picture_mirrored();
        vm.local_stream.set(camera.clone());
        vm.local_mirrored.set(mirrored);
        let Some(camera) = camera else {
            return;
        };
        let live = media::tracks_of(&camera, "video")
            .into_iter()
            .find(|track| track.ready_state() == MediaStreamTrackState::Live);
        self.screen.switching.set(true);
        let weak = Rc::downgrade(self);
        let attempt = self.attempt.get();
        // The camera the person picked, if its track has to be opened again.
        let chosen = vm.devices.camera.get_untracked();
        spawn_local(async move {
            let (track, fresh) = match live {
                Some(track) => (track, false),
                None => match media::reopen_camera(chosen.as_deref()).await {
                    Ok(stream) => match media::tracks_of(&stream, "video").into_iter().next() {
                        Some(track) => (track, true),
                        None => {
                            media::stop_tracks(&stream);
                            warn!("controls: the reopened camera has no video track");
                            if let Some(inner) = weak.upgrade() {
                                inner.screen.switching.set(false);
                            }
                            return;
                        }
                    },
                    Err(err) => {
                        warn!("controls: the camera could not be reopened: {err}");
                        if let Some(inner) = weak.upgrade() {
                            inner.screen.switching.set(false);
                        }
                        return;
                    }
                },
            };
            let current = weak
                .upgrade()
                .filter(|inner| inner.attempt.get() == attempt);
            let Some(inner) = current else {
                if fresh {
                    track.stop();
                }
                return;
            };
            if fresh {
                for old in media::tracks_of(&camera, "video") {
                    camera.remove_track(&old);
                }
                camera.add_track(&track);
            }
            track.set_enabled(vm.camera_on.get_untracked());
            let sender = inner.call.borrow().as_ref().and_then(Call::video_sender);
            if let Some(sender) = sender {
                if let Err(err) = peer::replace_track(&sender, &track).await {
                    warn!("controls: {err}");
                }
            }
            if let Some(inner) = weak.upgrade() {
                if inner.attempt.get() == attempt {
                    inner.screen.switching.set(false);
                    inner.send_media_state();
                }
            }
        });
    }
}
