//! Adapting the call to the network, the browser side: once a second the stats loop hands
//! over what the reading says about the link; the rules of `visavis_client_core::adapt` pick
//! the video level and the signal bars, and this module applies the level to the video sender
//! (`setParameters`, only when it changes), tells the other side over the chat channel, and
//! runs audio-only mode (the video encoding inactive both ways, no renegotiation).

use std::cell::RefCell;
use std::rc::Rc;

use leptos::logging::{log, warn};
use leptos::prelude::*;
use wasm_bindgen_futures::spawn_local;

use crate::peer::send_params::{self, SendParameters};
use crate::peer::Call;
use visavis_client_core::adapt::{self, Adapter, LinkSample, QualityMeter, SendLevel};
use visavis_client_core::chat::Frame;

use super::Inner;

/// The adaptation's part of the controller's state (one field of `Inner`).
#[derive(Default)]
pub(super) struct NetworkState {
    inner: RefCell<Adaptation>,
}

#[derive(Default)]
struct Adaptation {
    adapter: Adapter,
    meter: QualityMeter,
    /// What the video sender was last given, and on which peer connection (`call_serial`).
    applied: Option<(u64, SendParameters)>,
    /// A `setParameters` is under way.
    applying: bool,
    /// The last failure, logged once rather than every second.
    last_error: Option<String>,
    /// What the other side was last told of our level and bars.
    told_level: Option<Frame>,
    told_score: Option<u8>,
    /// We told the other side our camera is paused.
    camera_paused: bool,
}

impl NetworkState {
    /// Forgets the call: a new one starts at full quality.
    pub(super) fn reset(&self) {
        *self.inner.borrow_mut() = Adaptation::default();
    }

    /// Whether we told the other side our camera is paused.
    pub(super) fn camera_paused(&self) -> bool {
        self.inner.borrow().camera_paused
    }

    pub(super) fn set_camera_paused(&self, paused: bool) {
        self.inner.borrow_mut().camera_paused = paused;
    }
}

impl Inner {
    /// One second of the link: steps the video level, updates our signal bars, tells the
    /// other side what changed and applies the level.
    pub(super) fn adapt_to(self: &Rc<Self>, sample: &LinkSample) {
        let (step, reading) = {
            let mut state = self.network.inner.borrow_mut();
            (state.adapter.observe(sample), state.meter.push(sample))
        };
        let model = self.vm.network;
        if step.changed {
            // Console only: what the adaptation did and why, for whoever looks into a call.
            let why = step
                .reason
                .map(|reason| format!(" (last stepped down for {})", reason.words()))
                .unwrap_or_default();
            log!("network: video now at {}{why}", step.level.label());
        }
        if model.send_level.get_untracked() != step.level {
            model.send_level.set(step.level);
        }
        if model.suggest_audio_only.get_untracked() != step.suggest_audio_only {
            model.suggest_audio_only.set(step.suggest_audio_only);
        }
        if model
            .local_quality
            .with_untracked(|shown| shown != &reading)
        {
            model.local_quality.set(reading);
        }
        self.tell_network(false);
        self.apply_send_parameters();
    }

    /// Tells the other side our video level and signal bars if they changed (or, with
    /// `again`, because the chat channel has just opened: then audio-only mode and a paused
    /// camera too).
    pub(super) fn tell_network(&self, again: bool) {
        let vm = self.vm;
        if !vm.chat_open.get_untracked() {
            return;
        }
        let mut frames = Vec::new();
        {
            let mut state = self.network.inner.borrow_mut();
            let level = Frame::VideoQuality {
                level: state.adapter.level(),
                reason: (state.adapter.level() != SendLevel::Full)
                    .then(|| state.adapter.reason())
                    .flatten(),
            };
            if again || state.told_level.as_ref() != Some(&level) {
                state.told_level = Some(level.clone());
                frames.push(level);
            }
            let score = vm
                .network
                .local_quality
                .with_untracked(|q| q.as_ref().map(|q| q.score));
            if let Some(score) = score.filter(|s| again || state.told_score != Some(*s)) {
                state.told_score = Some(score);
                frames.push(Frame::NetworkQuality { score });
            }
            if again && vm.network.audio_only.get_untracked() {
                frames.push(Frame::AudioOnly { on: true });
            }
            if again && state.camera_paused {
                frames.push(Frame::CameraPaused { paused: true });
            }
        }
        for frame in frames {
            self.send_control(&frame);
        }
    }

    /// Sends one control message on the chat channel; one that is lost is sent again when the
    /// channel reopens (as the current state), so a failure is only logged.
    pub(super) fn send_control(&self, frame: &Frame) {
        if let Some(call) = self.call.borrow().as_ref() {
            if let Err(err) = call.send_chat(&frame.to_json()) {
                warn!("network: could not send a control message: {err}");
            }
        }
    }

    /// What the video sender should do now.
    fn wanted_parameters(&self) -> SendParameters {
        let vm = self.vm;
        SendParameters {
            encoding: self.network.inner.borrow().adapter.level().encoding(),
            active: !vm.network.audio_only.get_untracked(),
            degradation: adapt::degradation_preference(vm.sharing.get_untracked()),
        }
    }

    /// Gives the video sender the wanted parameters unless it already has them (on this peer
    /// connection). One `setParameters` at a time; a change meanwhile is applied after it.
    pub(super) fn apply_send_parameters(self: &Rc<Self>) {
        let serial = self.call_serial.get();
        let wanted = self.wanted_parameters();
        {
            let state = self.network.inner.borrow();
            if state.applying || state.applied == Some((serial, wanted)) {
                return;
            }
        }
        let Some(sender) = self.call.borrow().as_ref().and_then(Call::video_sender) else {
            return;
        };
        self.network.inner.borrow_mut().applying = true;
        let weak = Rc::downgrade(self);
        let attempt = self.attempt.get();
        spawn_local(async move {
            let result = send_params::apply(&sender, wanted).await;
            let Some(inner) = weak.upgrade() else {
                return;
            };
            if inner.attempt.get() != attempt {
                return;
            }
            {
                let mut state = inner.network.inner.borrow_mut();
                state.applying = false;
                match result {
                    Ok(()) => {
                        state.applied = Some((serial, wanted));
                        state.last_error = None;
                    }
                    Err(err) => {
                        if state.last_error.as_ref() != Some(&err) {
                            warn!("network: {err}");
                        }
                        state.last_error = Some(err);
                        return;
                    }
                }
            }
            // Something changed while the browser was applying: apply that too.
            inner.apply_send_parameters();
        });
    }

    /// The person pressed Audio only (or Turn video back on): the whole call drops its video
    /// or takes it back, and the other side is told so it does the same.
    pub(super) fn toggle_audio_only(self: &Rc<Self>) {
        if self.call.borrow().is_none() {
            return;
        }
        let model = self.vm.network;
        let on = !model.audio_only.get_untracked();
        model.audio_only.set(on);
        model.suggest_audio_only.set(false);
        self.send_control(&Frame::AudioOnly { on });
        self.apply_send_parameters();
    }

    /// The other side turned audio-only mode on or off: so do we, without telling it back.
    pub(super) fn remote_audio_only(self: &Rc<Self>, on: bool) {
        let model = self.vm.network;
        if model.audio_only.get_untracked() != on {
            model.audio_only.set(on);
        }
        if on {
            model.suggest_audio_only.set(false);
        }
        self.apply_send_parameters();
    }
}
