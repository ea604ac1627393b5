//! The call itself: one `RTCPeerConnection` with the local tracks, the `chat` and `file` data
//! channels, perfect negotiation (either side may renegotiate at any time, see
//! `negotiation.rs`), ICE restarts and the remote candidate buffer. It reports what happens
//! upward through a callback and knows nothing about the page (no DOM access).
//!
//! Both data channels are pre-negotiated (`negotiated: true` with fixed ids) and created by
//! both sides, so whichever side makes the first offer, both get the same channels without
//! waiting for `ondatachannel`.
//!
//! It also forwards what the connectivity diagnosis needs (candidate errors, the end of
//! gathering), takes fresh ICE servers when TURN credentials are renewed, and reads the stats
//! the call report is made from.
//!
//! Ownership rule: every `Closure` lives in the struct next to the object it is installed on,
//! and `close()` uninstalls the handler before dropping the closure. Nothing is leaked with
//! `Closure::forget`.

use std::cell::RefCell;
use std::rc::Rc;

use leptos::logging::warn;
use visavis_shared::{IceCandidate, IceServer};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{
    Event, MediaStream, MediaStreamTrack, RtcDataChannelInit, RtcIceCandidate, RtcIceCandidateInit,
    RtcPeerConnection, RtcPeerConnectionIceEvent, RtcPeerConnectionState, RtcRtpSender,
    RtcRtpTransceiverDirection, RtcRtpTransceiverInit, RtcSdpType, RtcSessionDescriptionInit,
    RtcSignalingState, RtcTrackEvent,
};

use crate::candidates::CandidateBuffer;
use crate::datachannel::{ChannelEvent, ChatChannel, CHAT_LABEL};
use crate::diagnosis::IceErrorReport;
use crate::file_channel::{FileChannel, FileEvent, FileSender, FILE_LABEL};
use crate::ice::{self, IceDiagnostics, IceSignal};
use crate::js_error;
use crate::link::IcePolicy;
use crate::negotiation::{Decision, Incoming, PerfectNegotiation};
use crate::state::LinkState;
use crate::stats::Stat;

/// Which side of the call we are on, as the server decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// First in the room: makes the first offer, and is the impolite side in negotiation.
    Caller,
    /// Second in the room: answers the first offer, and is the polite side.
    Callee,
}

impl Role {
    /// Whether this side gives way when both sides offer at once.
    pub fn polite(self) -> bool {
        self == Role::Callee
    }
}

/// The stream ids of the pre-negotiated data channels; both sides must use the same.
const CHAT_CHANNEL_ID: u16 = 0;
const FILE_CHANNEL_ID: u16 = 1;

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

/// What the call reports to its owner.
#[derive(Debug, Clone)]
pub enum PeerEvent {
    /// A local ICE candidate to send to the other side; `None` marks the end of candidates.
    LocalCandidate(Option<IceCandidate>),
    /// The stream of the other person's tracks (reported again each time a track is added).
    RemoteStream(MediaStream),
    /// The peer connection's `connectionState` changed.
    Link(LinkState),
    /// Something happened on the chat channel.
    Chat(ChannelEvent),
    /// Something happened on the file channel.
    File(FileEvent),
    /// The browser could not use a STUN or TURN server.
    IceError(IceErrorReport),
    /// Local candidate gathering is complete.
    GatheringComplete,
    /// The browser wants an offer made (a track or channel added, an ICE restart).
    NegotiationNeeded,
}

/// The peer connection's handlers, kept next to it.
struct PeerHandlers {
    on_ice_candidate: Closure<dyn FnMut(RtcPeerConnectionIceEvent)>,
    on_track: Closure<dyn FnMut(RtcTrackEvent)>,
    on_connection_state: Closure<dyn FnMut(Event)>,
    on_negotiation_needed: Closure<dyn FnMut(Event)>,
}

impl PeerHandlers {
    fn install(&self, pc: &RtcPeerConnection) {
        pc.set_onicecandidate(Some(self.on_ice_candidate.as_ref().unchecked_ref()));
        pc.set_ontrack(Some(self.on_track.as_ref().unchecked_ref()));
        pc.set_onconnectionstatechange(Some(self.on_connection_state.as_ref().unchecked_ref()));
        pc.set_onnegotiationneeded(Some(self.on_negotiation_needed.as_ref().unchecked_ref()));
    }

    fn uninstall(pc: &RtcPeerConnection) {
        pc.set_onicecandidate(None);
        pc.set_ontrack(None);
        pc.set_onconnectionstatechange(None);
        pc.set_onnegotiationneeded(None);
    }
}

/// One call with one other person.
pub struct Call {
    pc: RtcPeerConnection,
    /// Kept so that a configuration update cannot silently drop a forced relay.
    policy: IcePolicy,
    candidates: Rc<RefCell<CandidateBuffer<IceCandidate>>>,
    negotiation: Rc<RefCell<PerfectNegotiation>>,
    chat: Option<ChatChannel>,
    file: Option<FileChannel>,
    handlers: Option<PeerHandlers>,
    diagnostics: Option<IceDiagnostics>,
}

impl Call {
    /// Creates the peer connection with `ice_servers` and `policy`, adds the tracks of `local`
    /// (if any) and the `chat` and `file` data channels. `opener` is the side that makes the
    /// first offer (the other waits for it); `role` decides politeness.
    pub fn new(
        role: Role,
        opener: bool,
        ice_servers: &[IceServer],
        policy: IcePolicy,
        local: Option<&MediaStream>,
        on_event: Rc<dyn Fn(PeerEvent)>,
    ) -> Result<Call, String> {
        let pc =
            RtcPeerConnection::new_with_configuration(&ice::configuration(ice_servers, policy))
                .map_err(|err| {
                    format!(
                        "could not create the peer connection: {}",
                        js_error::describe(&err)
                    )
                })?;
        let handlers = make_handlers(&pc, &on_event);
        handlers.install(&pc);
        let report = on_event.clone();
        let diagnostics = IceDiagnostics::install(
            &pc,
            Rc::new(move |signal| {
                report(match signal {
                    IceSignal::Error(error) => PeerEvent::IceError(error),
                    IceSignal::GatheringComplete => PeerEvent::GatheringComplete,
                })
            }),
        );

        let mut call = Call {
            pc,
            policy,
            candidates: Rc::new(RefCell::new(CandidateBuffer::new())),
            negotiation: Rc::new(RefCell::new(PerfectNegotiation::new(role.polite(), opener))),
            chat: None,
            file: None,
            handlers: Some(handlers),
            diagnostics: Some(diagnostics),
        };
        call.add_local_tracks(opener, local);
        // Created before the first offer, so that it carries the data section. Default
        // options apart from the fixed id: ordered and reliable, which the file framing and
        // the chat's exactly-once delivery rely on.
        let channel = call.pc.create_data_channel_with_data_channel_dict(
            CHAT_LABEL,
            &negotiated_channel(CHAT_CHANNEL_ID),
        );
        call.chat = Some(ChatChannel::attach(channel, chat_reporter(&on_event)));
        let channel = call.pc.create_data_channel_with_data_channel_dict(
            FILE_LABEL,
            &negotiated_channel(FILE_CHANNEL_ID),
        );
        call.file = Some(FileChannel::attach(channel, file_reporter(&on_event)));
        Ok(call)
    }

    /// Adds the local tracks. The opener also asks to receive any kind it does not send, so the
    /// first offer always has an audio and a video section (the answerer cannot add sections to
    /// its answer, and its unsent kinds become receive-only by themselves).
    fn add_local_tracks(&mut self, opener: bool, local: Option<&MediaStream>) {
        let mut sends_audio = false;
        let mut sends_video = false;
        if let Some(stream) = local {
            for track in stream.get_tracks().iter() {
                let track: MediaStreamTrack = track.unchecked_into();
                match track.kind().as_str() {
                    "audio" => sends_audio = true,
                    "video" => sends_video = true,
                    _ => {}
                }
                self.pc.add_track_0(&track, stream);
            }
        }
        if opener {
            for (kind, sent) in [("audio", sends_audio), ("video", sends_video)] {
                if !sent {
                    let init = RtcRtpTransceiverInit::new();
                    init.set_direction(RtcRtpTransceiverDirection::Recvonly);
                    self.pc.add_transceiver_with_str_and_init(kind, &init);
                }
            }
        }
    }

    /// A handle for the asynchronous offer/answer steps, usable without borrowing the call.
    pub fn negotiator(&self) -> Negotiator {
        Negotiator {
            pc: self.pc.clone(),
            candidates: self.candidates.clone(),
            negotiation: self.negotiation.clone(),
        }
    }

    /// Sends a text message on the chat channel.
    pub fn send_chat(&self, text: &str) -> Result<(), String> {
        match self.chat.as_ref() {
            Some(channel) => channel.send(text),
            None => Err("the chat channel does not exist".into()),
        }
    }

    /// The sender of our video track (camera or shared screen), if we send video.
    pub fn video_sender(&self) -> Option<RtcRtpSender> {
        self.pc
            .get_senders()
            .iter()
            .filter_map(|sender| sender.dyn_into::<RtcRtpSender>().ok())
            .find(|sender| sender.track().is_some_and(|track| track.kind() == "video"))
    }

    /// The sender of our microphone track, if we send audio (for switching microphones).
    pub fn audio_sender(&self) -> Option<RtcRtpSender> {
        self.pc
            .get_senders()
            .iter()
            .filter_map(|sender| sender.dyn_into::<RtcRtpSender>().ok())
            .find(|sender| sender.track().is_some_and(|track| track.kind() == "audio"))
    }

    /// A sending handle on the file channel, once it exists.
    pub fn file_sender(&self) -> Option<FileSender> {
        self.file.as_ref().map(FileChannel::sender)
    }

    /// Hands the peer connection a fresh ICE server list (renewed TURN credentials). The
    /// current connection is unaffected; later allocations and ICE restarts use the new list.
    pub fn update_ice_servers(&self, ice_servers: &[IceServer]) -> Result<(), String> {
        ice::update_servers(&self.pc, ice_servers, self.policy)
    }

    /// Ends the call: uninstalls and drops every handler, closes the data channel and the peer
    /// connection. Safe to call more than once.
    pub fn close(&mut self) {
        if let Some(handlers) = self.handlers.take() {
            PeerHandlers::uninstall(&self.pc);
            drop(handlers);
        }
        if let Some(mut diagnostics) = self.diagnostics.take() {
            diagnostics.uninstall();
        }
        if let Some(mut channel) = self.chat.take() {
            channel.close();
        }
        if let Some(mut channel) = self.file.take() {
            channel.close();
        }
        self.pc.close();
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.close();
    }
}

/// Wraps the call's callback for the chat channel's events.
fn chat_reporter(on_event: &Rc<dyn Fn(PeerEvent)>) -> Rc<dyn Fn(ChannelEvent)> {
    let on_event = on_event.clone();
    Rc::new(move |event| on_event(PeerEvent::Chat(event)))
}

/// Wraps the call's callback for the file channel's events.
fn file_reporter(on_event: &Rc<dyn Fn(PeerEvent)>) -> Rc<dyn Fn(FileEvent)> {
    let on_event = on_event.clone();
    Rc::new(move |event| on_event(PeerEvent::File(event)))
}

/// The options of a pre-negotiated data channel with stream id `id`.
fn negotiated_channel(id: u16) -> RtcDataChannelInit {
    let init = RtcDataChannelInit::new();
    init.set_negotiated(true);
    init.set_id(id);
    init
}

/// Creates the peer connection's handlers.
fn make_handlers(pc: &RtcPeerConnection, on_event: &Rc<dyn Fn(PeerEvent)>) -> PeerHandlers {
    let report = on_event.clone();
    let on_ice_candidate = Closure::<dyn FnMut(RtcPeerConnectionIceEvent)>::new(
        move |event: RtcPeerConnectionIceEvent| match event.candidate() {
            Some(candidate) => match candidate_to_wire(&candidate) {
                Some(wire) => report(PeerEvent::LocalCandidate(Some(wire))),
                None => warn!("call: could not read a local ICE candidate"),
            },
            None => report(PeerEvent::LocalCandidate(None)),
        },
    );

    // All remote tracks go into one stream, so the page has a single thing to show whatever
    // stream ids the other browser used.
    let report = on_event.clone();
    let remote = MediaStream::new().ok();
    let on_track = Closure::<dyn FnMut(RtcTrackEvent)>::new(move |event: RtcTrackEvent| {
        let stream = match &remote {
            Some(stream) => {
                stream.add_track(&event.track());
                // `Clone::clone` copies the handle: the inherent `MediaStream::clone` would make
                // a new stream with cloned tracks on every track event.
                Clone::clone(stream)
            }
            // Constructing a stream failed (it should not): fall back to the event's own.
            None => match event.streams().get(0).dyn_into::<MediaStream>() {
                Ok(stream) => stream,
                Err(_) => return,
            },
        };
        report(PeerEvent::RemoteStream(stream));
    });

    let report = on_event.clone();
    let watched = pc.clone();
    let on_connection_state = Closure::<dyn FnMut(Event)>::new(move |_: Event| {
        if let Some(link) = link_state(watched.connection_state()) {
            report(PeerEvent::Link(link));
        }
    });

    let report = on_event.clone();
    let on_negotiation_needed =
        Closure::<dyn FnMut(Event)>::new(move |_: Event| report(PeerEvent::NegotiationNeeded));

    PeerHandlers {
        on_ice_candidate,
        on_track,
        on_connection_state,
        on_negotiation_needed,
    }
}

/// Maps the browser's connection state onto ours; `None` for values this build does not know.
fn link_state(state: RtcPeerConnectionState) -> Option<LinkState> {
    Some(match state {
        RtcPeerConnectionState::New => LinkState::New,
        RtcPeerConnectionState::Connecting => LinkState::Connecting,
        RtcPeerConnectionState::Connected => LinkState::Connected,
        RtcPeerConnectionState::Disconnected => LinkState::Disconnected,
        RtcPeerConnectionState::Failed => LinkState::Failed,
        RtcPeerConnectionState::Closed => LinkState::Closed,
        _ => return None,
    })
}

/// Converts a browser candidate to the wire form through its `toJSON()`, which has exactly the
/// fields of `IceCandidate`.
fn candidate_to_wire(candidate: &RtcIceCandidate) -> Option<IceCandidate> {
    let json = js_sys::JSON::stringify(&candidate.to_json()).ok()?;
    serde_json::from_str(&String::from(json)).ok()
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
    pc: RtcPeerConnection,
    candidates: Rc<RefCell<CandidateBuffer<IceCandidate>>>,
    negotiation: Rc<RefCell<PerfectNegotiation>>,
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
        applied?;
        JsFuture::from(extras(&self.pc).set_local_description_implicit())
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
        applied
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

    async fn set_remote(&self, kind: RtcSdpType, sdp: &str) -> Result<(), String> {
        let description = RtcSessionDescriptionInit::new(kind);
        description.set_sdp(sdp);
        JsFuture::from(self.pc.set_remote_description(&description))
            .await
            .map_err(|err| failed("apply the other side's description", &err))?;
        // Taken out in one go, before any await, so a candidate arriving meanwhile cannot be
        // both buffered and skipped.
        let queued = self.candidates.borrow_mut().mark_ready();
        for candidate in queued {
            self.add_now(&candidate).await;
        }
        Ok(())
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
