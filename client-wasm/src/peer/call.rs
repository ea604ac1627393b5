//! The call itself: one `RTCPeerConnection` with the local tracks, the `chat` and `file` data
//! channels, perfect negotiation (either side may renegotiate at any time, see
//! `visavis_client_core::call::negotiation`), ICE restarts and the remote candidate buffer. It reports what happens
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
use web_sys::{
    Event, MediaStream, MediaStreamTrack, RtcDataChannelInit, RtcIceCandidate, RtcPeerConnection,
    RtcPeerConnectionIceEvent, RtcPeerConnectionState, RtcRtpSender, RtcRtpTransceiverDirection,
    RtcRtpTransceiverInit, RtcTrackEvent,
};

use crate::browser::js_error;
use crate::peer::chat_channel::{ChannelEvent, ChatChannel, CHAT_LABEL};
use crate::peer::file_channel::{FileChannel, FileEvent, FileSender, FILE_LABEL};
use crate::peer::ice::{self, IceDiagnostics, IceSignal};
use visavis_client_core::call::CandidateBuffer;
use visavis_client_core::call::LinkState;
use visavis_client_core::call::PerfectNegotiation;
use visavis_client_core::call::Role;
use visavis_client_core::connectivity::IceErrorReport;
use visavis_client_core::link::IcePolicy;

use super::negotiator::Negotiator;

/// The stream ids of the pre-negotiated data channels; both sides must use the same.
const CHAT_CHANNEL_ID: u16 = 0;
const FILE_CHANNEL_ID: u16 = 1;

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

    /// Adds the local tracks, and if we are the `opener`, what it must ask for besides.
    fn add_local_tracks(&mut self, opener: bool, local: Option<&MediaStream>) {
        if let Some(stream) = local {
            for track in stream.get_tracks().iter() {
                let track: MediaStreamTrack = track.unchecked_into();
                self.pc.add_track_0(&track, stream);
            }
        }
        if opener {
            self.receive_unsent_kinds();
        }
    }

    /// The opener asks to receive any kind it does not send, so the first offer always has an
    /// audio and a video section (the answerer cannot add sections to its answer, and its
    /// unsent kinds become receive-only by themselves).
    fn receive_unsent_kinds(&self) {
        let sends = |kind: &str| {
            self.pc.get_senders().iter().any(|sender| {
                sender
                    .dyn_into::<RtcRtpSender>()
                    .ok()
                    .and_then(|sender| sender.track())
                    .is_some_and(|track| track.kind() == kind)
            })
        };
        for kind in ["audio", "video"] {
            if !sends(kind) {
                let init = RtcRtpTransceiverInit::new();
                init.set_direction(RtcRtpTransceiverDirection::Recvonly);
                self.pc.add_transceiver_with_str_and_init(kind, &init);
            }
        }
    }

    /// Gives a connection opened before our side was known (see `controller::peer`) its
    /// role. Only before anything was negotiated: the negotiation state starts afresh.
    pub fn assign_role(&self, role: Role, opener: bool) {
        *self.negotiation.borrow_mut() = PerfectNegotiation::new(role.polite(), opener);
        if opener {
            self.receive_unsent_kinds();
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
