//! The check's probe: a throw-away peer connection with one data channel, made only to gather
//! local candidates against the given ICE servers and report each one (and the errors). The
//! check runs one with every server, and one per relay transport with only that transport's
//! URLs.

use std::rc::Rc;

use visavis_shared::IceServer;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{RtcDataChannel, RtcPeerConnection, RtcPeerConnectionIceEvent};

use crate::browser::js_error;
use crate::peer::ice::{self, IceDiagnostics, IceSignal};
use visavis_client_core::connectivity::CandidateType;
use visavis_client_core::link::IcePolicy;

/// What the probe reports.
#[derive(Debug, Clone)]
pub(super) enum ProbeEvent {
    /// A local candidate of this kind was gathered, with its `relayProtocol` where the
    /// browser gives one (relay candidates only).
    Candidate(CandidateType, Option<String>),
    /// The end-of-candidates marker (a `null` candidate).
    EndOfCandidates,
    /// A candidate error or the end of gathering.
    Ice(IceSignal),
}

/// A peer connection made only to gather local candidates. It never connects to anything.
pub(super) struct Probe {
    pub(super) pc: RtcPeerConnection,
    /// The data channel gives the offer a section to gather candidates for, without asking
    /// for the camera.
    channel: RtcDataChannel,
    on_candidate: Option<Closure<dyn FnMut(RtcPeerConnectionIceEvent)>>,
    diagnostics: IceDiagnostics,
}

impl Probe {
    pub(super) fn start(
        servers: &[IceServer],
        policy: IcePolicy,
        report: Rc<dyn Fn(ProbeEvent)>,
    ) -> Result<Probe, String> {
        let pc = RtcPeerConnection::new_with_configuration(&ice::configuration(servers, policy))
            .map_err(|err| {
                format!(
                    "could not create a peer connection: {}",
                    js_error::describe(&err)
                )
            })?;
        let channel = pc.create_data_channel("check");
        let on_candidate_report = report.clone();
        let on_candidate = Closure::<dyn FnMut(RtcPeerConnectionIceEvent)>::new(
            move |event: RtcPeerConnectionIceEvent| match event.candidate() {
                Some(candidate) => {
                    if let Some(kind) = CandidateType::from_candidate_line(&candidate.candidate()) {
                        // Not in web-sys's binding of RTCIceCandidate, and not in every browser.
                        let relay_protocol =
                            js_sys::Reflect::get(&candidate, &"relayProtocol".into())
                                .ok()
                                .and_then(|value| value.as_string());
                        on_candidate_report(ProbeEvent::Candidate(kind, relay_protocol));
                    }
                }
                None => on_candidate_report(ProbeEvent::EndOfCandidates),
            },
        );
        pc.set_onicecandidate(Some(on_candidate.as_ref().unchecked_ref()));
        let diagnostics =
            IceDiagnostics::install(&pc, Rc::new(move |signal| report(ProbeEvent::Ice(signal))));
        Ok(Probe {
            pc,
            channel,
            on_candidate: Some(on_candidate),
            diagnostics,
        })
    }

    /// Uninstalls the handlers, drops their closures, and closes the channel and connection.
    pub(super) fn close(&mut self) {
        if let Some(on_candidate) = self.on_candidate.take() {
            self.pc.set_onicecandidate(None);
            drop(on_candidate);
        }
        self.diagnostics.uninstall();
        self.channel.close();
        self.pc.close();
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.close();
    }
}

/// Creates an offer and sets it as the local description, which starts gathering.
pub(super) async fn make_offer(pc: &RtcPeerConnection) -> Result<(), String> {
    let offer = JsFuture::from(pc.create_offer())
        .await
        .map_err(|err| format!("could not create an offer: {}", js_error::describe(&err)))?;
    let sdp = js_sys::Reflect::get(&offer, &"sdp".into())
        .ok()
        .and_then(|sdp| sdp.as_string())
        .ok_or("the browser produced an offer without SDP")?;
    let description = web_sys::RtcSessionDescriptionInit::new(web_sys::RtcSdpType::Offer);
    description.set_sdp(&sdp);
    JsFuture::from(pc.set_local_description(&description))
        .await
        .map(drop)
        .map_err(|err| {
            format!(
                "could not set the local description: {}",
                js_error::describe(&err)
            )
        })
}
