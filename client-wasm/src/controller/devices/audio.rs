//! The microphone's sound processing, changed by the person in the settings: the speech
//! filters (noise suppression, automatic gain) and music mode. Applied to the live microphone
//! with `applyConstraints`; where the browser keeps the old processing anyway (Chromium does),
//! the same microphone is closed, opened again with the new processing and swapped in, like a
//! device switch (`replaceTrack`, no renegotiation): a moment of silence for the other person.

use std::rc::Rc;

use leptos::logging::warn;
use leptos::prelude::*;
use wasm_bindgen_futures::spawn_local;

use crate::media::{audio_processing, device_access};
use visavis_client_core::devices::{AudioChoice, DeviceKind};

use super::Inner;

impl Inner {
    /// Makes `choice` the microphone's processing, now and for microphones opened later.
    pub(in crate::controller) fn set_audio_choice(self: &Rc<Self>, choice: AudioChoice) {
        audio_processing::set_choice(choice);
        self.vm.audio_choice.set(choice);
        let Some(track) = self.track_in_use(DeviceKind::Microphone) else {
            return;
        };
        let processing = choice.processing();
        let weak = Rc::downgrade(self);
        spawn_local(async move {
            let applied = audio_processing::apply(&track, processing).await;
            let Some(inner) = weak.upgrade() else {
                return;
            };
            if audio_processing::choice() != choice {
                // A newer choice is on its way.
                return;
            }
            if applied.is_ok() && audio_processing::runs_with(&track, processing) {
                return;
            }
            if let Err(err) = applied {
                warn!("devices: the microphone refused the new processing: {err}");
            }
            let Some(id) = device_access::device_id(&track) else {
                warn!("devices: cannot reopen a microphone without a device id");
                return;
            };
            // Let go of the old track first: Chromium will not open the same microphone with
            // other processing while it is open (and then gives none at all).
            track.stop();
            inner.switch_device(DeviceKind::Microphone, id);
        });
    }
}
