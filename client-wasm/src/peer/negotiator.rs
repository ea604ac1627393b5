//! The asynchronous side of a call: offers and answers under the perfect-negotiation rules
//! (see `visavis_client_core::call::negotiation`), ICE restarts, remote candidates and the
//! stats. No DOM access.

use std::cell::RefCell;
use std::rc::Rc;

use leptos::logging::warn;
use visavis_shared::IceCandidate;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{
    MediaStreamTrack, RtcIceCandidateInit, RtcPeerConnection, RtcRtpSender, RtcSdpType,
    RtcSessionDescriptionInit, RtcSignalingState,
};

use crate::browser::js_error;
use crate::peer::ice::{self};
use visavis_client_core::call::with_opus_fec;
use visavis_client_core::call::CandidateBuffer;
use visavis_client_core::call::{Decision, Incoming, PerfectNegotiation};
use visavis_client_core::stats::Stat;

// `RTCPeerConnection` methods the web-sys version in use does not bind.
#[wasm_bindgen]
extern "C" {
    /// The same JavaScript object as an `RtcPeerConnection`, seen through the extra methods.
    type PeerConnectionExtras;

    /// `setLocalDescription()` without arguments: the browser creates the right description
    /// (offer or answer) for the current state, which perfect negotiation relies on.
    #[wasm_bindgen(method, js_name = setLocalDescription)]
    fn set_local_description_implicit(this: &PeerConnectionExtras) -> js_sys::Promise;

    /// `restartIce()`: the next offer gathers new ICE credentials and candidates.
    #[wasm_bindgen(method, js_name = restartIce)]
    fn restart_ice(this: &PeerConnectionExtras);
}

/// The extra methods of `pc`.
fn extras(pc: &RtcPeerConnection) -> &PeerConnectionExtras {
    pc.unchecked_ref()
}

/// Converts a wire candidate to the dictionary `addIceCandidate` takes.
fn candidate_init(candidate: &IceCandidate) -> RtcIceCandidateInit {
    let init = RtcIceCandidateInit::new(&candidate.candidate);
    init.set_sdp_mid(candidate.sdp_mid.as_deref());
    init.set_sdp_m_line_index(candidate.sdp_m_line_index);
    if let Some(fragment) = &candidate.username_fragment {
        // web-sys has no setter for this member; set it as a plain property.
        if js_sys::Reflect::set(&init, &"usernameFragment".into(), &fragment.into()).is_err() {
            warn!("call: could not set usernameFragment on a candidate");
        }
    }
    init
}

/// A description this side produced, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalDescription {
    /// An offer, sent as `invite`.
    Offer(String),
    /// An answer, sent as `ok`.
    Answer(String),
}

/// The asynchronous side of a call: offers and answers under the perfect negotiation rules,
/// ICE restarts, and remote candidates. Cheap to clone; each step's errors come back as plain
/// text naming the step.
#[derive(Clone)]
pub struct Negotiator {
    pub(super) pc: RtcPeerConnection,
    pub(super) candidates: Rc<RefCell<CandidateBuffer<IceCandidate>>>,
    pub(super) negotiation: Rc<RefCell<PerfectNegotiation>>,
}

impl Negotiator {
    /// `negotiationneeded` fired: makes an offer and sets it as the local description, unless
    /// this side must wait for the other's first offer or is already making one. Returns what
    /// to send (normally an offer; an answer if an offer of the other side arrived meanwhile).
    pub async fn make_offer(&self) -> Result<Option<LocalDescription>, String> {
        if !self.negotiation.borrow().wants_offer() {
            return Ok(None);
        }
        self.negotiation.borrow_mut().offer_started();
        let result = JsFuture::from(extras(&self.pc).set_local_description_implicit()).await;
        self.negotiation.borrow_mut().offer_finished();
        result.map_err(|err| failed("make an offer", &err))?;
        Ok(self.current_local())
    }

    /// Handles the other side's offer: applies it (giving way if we are polite and had an
    /// offer of our own out), then answers. `Ok(None)` when the offer collided with ours and
    /// we are the side that ignores it.
    pub async fn receive_offer(&self, sdp: &str) -> Result<Option<String>, String> {
        let stable = self.pc.signaling_state() == RtcSignalingState::Stable;
        let decision = self
            .negotiation
            .borrow_mut()
            .incoming(Incoming::Offer, stable);
        if decision == Decision::Ignore {
            leptos::logging::log!("call: ignored a colliding offer (we are the impolite side)");
            return Ok(None);
        }
        let applied = self.set_remote(RtcSdpType::Offer, sdp).await;
        self.negotiation.borrow_mut().applied(Incoming::Offer);
        let queued = applied?;
        // The answer is asked for first and the candidates that came with the offer are added
        // behind it (the connection runs its operations in order): the answer is what the
        // other side is waiting for.
        let answering = JsFuture::from(extras(&self.pc).set_local_description_implicit());
        self.add_in_background(queued);
        answering
            .await
            .map_err(|err| failed("answer the offer", &err))?;
        match self.current_local() {
            Some(LocalDescription::Answer(sdp)) => Ok(Some(sdp)),
            _ => Err("the browser did not produce an answer".into()),
        }
    }

    /// Handles the other side's answer. One that answers nothing (our offer was rolled back,
    /// or it is a late duplicate) is dropped rather than treated as a failure.
    pub async fn receive_answer(&self, sdp: &str) -> Result<(), String> {
        if self.pc.signaling_state() != RtcSignalingState::HaveLocalOffer {
            warn!("call: ignored an answer: no offer of ours is waiting for one");
            return Ok(());
        }
        self.negotiation
            .borrow_mut()
            .incoming(Incoming::Answer, false);
        let applied = self.set_remote(RtcSdpType::Answer, sdp).await;
        self.negotiation.borrow_mut().applied(Incoming::Answer);
        self.add_in_background(applied?);
        Ok(())
    }

    /// Asks for an ICE restart: the browser fires `negotiationneeded`, and the next offer
    /// carries new ICE credentials.
    pub fn restart_ice(&self) {
        extras(&self.pc).restart_ice();
    }

    /// Our offer that still waits for its answer, if any: to send again when the other side
    /// comes back, since the first copy may have been lost with the server.
    pub fn unanswered_offer(&self) -> Option<String> {
        if self.pc.signaling_state() != RtcSignalingState::HaveLocalOffer {
            return None;
        }
        match self.current_local() {
            Some(LocalDescription::Offer(sdp)) => Some(sdp),
            _ => None,
        }
    }

    /// Reads the peer connection's statistics.
    pub async fn stats(&self) -> Result<Vec<Stat>, String> {
        ice::read_stats(&self.pc).await
    }

    /// Adds a candidate from the other side now if the remote description is set, or keeps it
    /// until it is. `None` (end of candidates) needs no action: browsers infer it.
    pub fn add_remote_candidate(&self, candidate: Option<IceCandidate>) {
        let Some(candidate) = candidate else {
            return;
        };
        let ready = self.candidates.borrow_mut().offer(candidate);
        if let Some(candidate) = ready {
            let this = self.clone();
            spawn_local(async move { this.add_now(&candidate).await });
        }
    }

    /// The current local description, as something to send.
    fn current_local(&self) -> Option<LocalDescription> {
        let description = self.pc.local_description()?;
        let sdp = description.sdp();
        match description.type_() {
            RtcSdpType::Offer => Some(LocalDescription::Offer(sdp)),
            RtcSdpType::Answer => Some(LocalDescription::Answer(sdp)),
            _ => None,
        }
    }

    /// Applies the other side's description; returns the candidates that waited for it, to
    /// be added next.
    async fn set_remote(&self, kind: RtcSdpType, sdp: &str) -> Result<Vec<IceCandidate>, String> {
        let description = RtcSessionDescriptionInit::new(kind);
        // Our encoder sends Opus with in-band FEC; see `call::opus` for why munging the remote
        // description is safe with perfect negotiation.
        description.set_sdp(&with_opus_fec(sdp));
        JsFuture::from(self.pc.set_remote_description(&description))
            .await
            .map_err(|err| failed("apply the other side's description", &err))?;
        // Taken out in one go, before any await, so a candidate arriving meanwhile cannot be
        // both buffered and skipped.
        Ok(self.candidates.borrow_mut().mark_ready())
    }

    /// Adds the candidates that waited for the remote description, in order, without holding
    /// up the caller.
    fn add_in_background(&self, queued: Vec<IceCandidate>) {
        if queued.is_empty() {
            return;
        }
        let this = self.clone();
        spawn_local(async move {
            for candidate in queued {
                this.add_now(&candidate).await;
            }
        });
    }

    async fn add_now(&self, candidate: &IceCandidate) {
        let init = candidate_init(candidate);
        let added = self
            .pc
            .add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init));
        if let Err(err) = JsFuture::from(added).await {
            // The candidates of an offer we ignored in a collision are expected to fail.
            if self.negotiation.borrow().ignoring_offer() {
                return;
            }
            // One bad candidate does not doom the call; others may still work.
            warn!(
                "call: a remote ICE candidate was refused: {}",
                js_error::describe(&err)
            );
        }
    }
}

/// Makes `sender` send `track` instead of its current one, without renegotiation (the
/// screen replacing the camera, and back).
pub async fn replace_track(sender: &RtcRtpSender, track: &MediaStreamTrack) -> Result<(), String> {
    JsFuture::from(sender.replace_track(Some(track)))
        .await
        .map(drop)
        .map_err(|err| failed("switch the video track", &err))
}

fn failed(step: &str, err: &JsValue) -> String {
    format!("could not {step}: {}", js_error::describe(err))
}
