//! Sending and receiving chat messages (and the other side's media state) on the chat channel,
//! with acknowledgements, so that a message is delivered exactly once across outages.

use leptos::logging::warn;
use leptos::prelude::*;

use std::rc::Rc;

use crate::browser;
use visavis_client_core::adapt;
use visavis_client_core::call::Trigger;
use visavis_client_core::chat::{self, Author, ChatLine, Frame};

use super::{local_clock_time, Inner};

/// The longest message id accepted from the other side; longer ones are cut.
const MAX_MESSAGE_ID_CHARS: usize = 64;

impl Inner {
    /// Sends the draft. The message is shown at once and kept in the outbox until the other
    /// side acknowledges it; if the chat channel is down now, it goes when it reopens.
    pub(super) fn send_chat(&self) {
        let vm = self.vm;
        let Some(text) = chat::prepare_outgoing(&vm.chat_draft.get_untracked()) else {
            return;
        };
        if self.call.borrow().is_none() {
            // The draft is kept so the person can send it in the next call.
            self.apply(Trigger::LocalError(
                "Your message could not be sent: there is no call.".into(),
            ));
            return;
        }
        let id = self.next_message_id();
        let sent_at_ms = browser::now_ms();
        let frame = Frame::Chat {
            id: id.clone(),
            text: text.clone(),
            sent_at_ms,
        }
        .to_json();
        vm.chat_log.update(|log| {
            log.push(ChatLine {
                author: Author::You,
                id: id.clone(),
                text,
                time: local_clock_time(sent_at_ms),
            });
        });
        vm.chat_draft.set(String::new());
        vm.chat_unsent.update(|unsent| {
            unsent.insert(id.clone());
        });
        let dropped = self.outbox.borrow_mut().push(id, frame.clone());
        if let Some(dropped) = dropped {
            warn!("chat: too many messages waiting; {dropped} will not be sent again");
        }
        if vm.chat_open.get_untracked() {
            self.send_chat_frame(&frame);
        }
    }

    /// Sends every message still waiting for its acknowledgement, oldest first: the chat
    /// channel has just opened (a new connection, or the same one after an outage).
    pub(super) fn flush_outbox(&self) {
        let frames: Vec<String> = self
            .outbox
            .borrow()
            .waiting()
            .iter()
            .map(|waiting| waiting.frame.clone())
            .collect();
        for frame in frames {
            self.send_chat_frame(&frame);
        }
    }

    /// Sends one frame on the chat channel; a failure is logged, since the outbox sends the
    /// message again when the channel reopens.
    fn send_chat_frame(&self, frame: &str) {
        let result = match self.call.borrow().as_ref() {
            Some(call) => call.send_chat(frame),
            None => Err("there is no call".into()),
        };
        if let Err(err) = result {
            warn!("chat: not sent now, kept for later: {err}");
        }
    }

    pub(super) fn next_message_id(&self) -> String {
        match browser::random_bytes::<8>() {
            Some(bytes) => chat::message_id(&bytes),
            None => {
                let n = self.chat_counter.get() + 1;
                self.chat_counter.set(n);
                format!("n{n}")
            }
        }
    }

    pub(super) fn chat_received(self: &Rc<Self>, raw: &str) {
        match Frame::from_json(raw) {
            Ok(Some(Frame::Chat { id, text, .. })) => {
                // Acknowledged even when it is a duplicate: the first acknowledgement may be
                // the one that got lost.
                self.send_chat_frame(&Frame::ChatAck { id: id.clone() }.to_json());
                let line = ChatLine {
                    author: Author::Them,
                    id: id.chars().take(MAX_MESSAGE_ID_CHARS).collect(),
                    text: text.chars().take(chat::MAX_CHAT_CHARS).collect(),
                    // Our own clock: the other device's may be off.
                    time: local_clock_time(browser::now_ms()),
                };
                self.vm.chat_log.update(|log| {
                    log.push(line);
                });
            }
            Ok(Some(Frame::ChatAck { id })) => {
                if self.outbox.borrow_mut().acknowledge(&id) {
                    self.vm.chat_unsent.update(|unsent| {
                        unsent.remove(&id);
                    });
                }
            }
            Ok(Some(Frame::MediaState { audio, video })) => {
                self.vm.remote_audio.set(audio);
                self.vm.remote_video.set(video);
            }
            Ok(Some(Frame::VideoQuality { level, reason })) => {
                self.vm.network.remote_level.set((level, reason));
            }
            Ok(Some(Frame::NetworkQuality { score })) => {
                let score = score.min(adapt::MAX_BARS);
                self.vm.network.remote_quality.set(Some(score));
            }
            Ok(Some(Frame::AudioOnly { on })) => self.remote_audio_only(on),
            Ok(Some(Frame::CameraPaused { paused })) => {
                self.vm.network.remote_camera_paused.set(paused);
            }
            Ok(None) => {}
            Err(err) => warn!("chat: ignored a malformed message: {err}"),
        }
    }
}
