//! The call itself: one `RTCPeerConnection` with the local tracks, the `chat` and `file` data
//! channels, the offer/answer exchange and the remote candidate buffer. It reports what happens upward through
//! a callback and knows nothing about the page (no DOM access).
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
    Event, MediaStream, MediaStreamTrack, RtcDataChannelEvent, RtcIceCandidate,
    RtcIceCandidateInit, RtcPeerConnection, RtcPeerConnectionIceEvent, RtcPeerConnectionState,
    RtcRtpSender, RtcRtpTransceiverDirection, RtcRtpTransceiverInit, RtcSdpType,
    RtcSessionDescriptionInit, RtcTrackEvent,
};

use crate::candidates::CandidateBuffer;
use crate::datachannel::{ChannelEvent, ChatChannel, CHAT_LABEL};
use crate::diagnosis::IceErrorReport;
use crate::file_channel::{FileChannel, FileEvent, FileSender, FILE_LABEL};
use crate::ice::{self, IceDiagnostics, IceSignal};
use crate::js_error;
use crate::link::IcePolicy;
use crate::state::LinkState;
use crate::stats::Stat;

/// Which side of the call we are on, as the server decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// First in the room: makes the offer and the data channels.
    Caller,
    /// Second in the room: answers, and receives the data channels.
    Callee,
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
}

/// The peer connection's handlers, kept next to it.
struct PeerHandlers {
    on_ice_candidate: Closure<dyn FnMut(RtcPeerConnectionIceEvent)>,
    on_track: Closure<dyn FnMut(RtcTrackEvent)>,
    on_connection_state: Closure<dyn FnMut(Event)>,
    on_data_channel: Closure<dyn FnMut(RtcDataChannelEvent)>,
}

impl PeerHandlers {
    fn install(&self, pc: &RtcPeerConnection) {
        pc.set_onicecandidate(Some(self.on_ice_candidate.as_ref().unchecked_ref()));
        pc.set_ontrack(Some(self.on_track.as_ref().unchecked_ref()));
        pc.set_onconnectionstatechange(Some(self.on_connection_state.as_ref().unchecked_ref()));
        pc.set_ondatachannel(Some(self.on_data_channel.as_ref().unchecked_ref()));
    }

    fn uninstall(pc: &RtcPeerConnection) {
        pc.set_onicecandidate(None);
        pc.set_ontrack(None);
        pc.set_onconnectionstatechange(None);
        pc.set_ondatachannel(None);
    }
}

/// The chat channel slot, shared with the `ondatachannel` handler that fills it on the callee.
type ChatSlot = Rc<RefCell<Option<ChatChannel>>>;

/// The file channel slot, filled like the chat slot.
type FileSlot = Rc<RefCell<Option<FileChannel>>>;

/// One call with one other person.
pub struct Call {
    pc: RtcPeerConnection,
    /// Kept so that a configuration update cannot silently drop a forced relay.
    policy: IcePolicy,
    candidates: Rc<RefCell<CandidateBuffer<IceCandidate>>>,
    chat: ChatSlot,
    file: FileSlot,
    handlers: Option<PeerHandlers>,
    diagnostics: Option<IceDiagnostics>,
}

impl Call {
    /// Creates the peer connection with `ice_servers` and `policy`, adds the tracks of `local`
    /// (if any), and, as the Caller, creates the `chat` and `file` data channels so they are part
    /// of the offer.
    pub fn new(
        role: Role,
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
        let chat: ChatSlot = Rc::new(RefCell::new(None));
        let file: FileSlot = Rc::new(RefCell::new(None));
        let handlers = make_handlers(&pc, &chat, &file, &on_event);
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
            chat,
            file,
            handlers: Some(handlers),
            diagnostics: Some(diagnostics),
        };
        call.add_local_tracks(role, local);
        if role == Role::Caller {
            // The channel must exist before the offer is made, or the offer would carry no
            // data section and the callee would never see it.
            let channel = call.pc.create_data_channel(CHAT_LABEL);
            let attached = ChatChannel::attach(channel, chat_reporter(&on_event));
            *call.chat.borrow_mut() = Some(attached);
            // Default options: ordered and reliable, which the file framing relies on.
            let channel = call.pc.create_data_channel(FILE_LABEL);
            let attached = FileChannel::attach(channel, file_reporter(&on_event));
            *call.file.borrow_mut() = Some(attached);
        }
        Ok(call)
    }

    /// Adds the local tracks. The Caller also asks to receive any kind it does not send, so the
    /// offer always has an audio and a video section (a Callee cannot add sections to the
    /// answer, and its unsent kinds become receive-only by themselves).
    fn add_local_tracks(&mut self, role: Role, local: Option<&MediaStream>) {
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
        if role == Role::Caller {
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
        }
    }

    /// Sends a text message on the chat channel.
    pub fn send_chat(&self, text: &str) -> Result<(), String> {
        match self.chat.borrow().as_ref() {
            Some(channel) => channel.send(text),
            None => Err("the chat channel does not exist yet".into()),
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

    /// A sending handle on the file channel, once it exists.
    pub fn file_sender(&self) -> Option<FileSender> {
        self.file.borrow().as_ref().map(FileChannel::sender)
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
        let channel = self.chat.borrow_mut().take();
        if let Some(mut channel) = channel {
            channel.close();
        }
        let channel = self.file.borrow_mut().take();
        if let Some(mut channel) = channel {
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

/// Creates the peer connection's handlers.
fn make_handlers(
    pc: &RtcPeerConnection,
    chat: &ChatSlot,
    file: &FileSlot,
    on_event: &Rc<dyn Fn(PeerEvent)>,
) -> PeerHandlers {
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

    let chat_slot = chat.clone();
    let file_slot = file.clone();
    let chat_events = chat_reporter(on_event);
    let file_events = file_reporter(on_event);
    let on_data_channel =
        Closure::<dyn FnMut(RtcDataChannelEvent)>::new(move |event: RtcDataChannelEvent| {
            let channel = event.channel();
            // Replacing an earlier channel (there should be none) closes it through its Drop.
            match channel.label().as_str() {
                CHAT_LABEL => {
                    let attached = ChatChannel::attach(channel, chat_events.clone());
                    let previous = chat_slot.borrow_mut().replace(attached);
                    drop(previous);
                }
                FILE_LABEL => {
                    let attached = FileChannel::attach(channel, file_events.clone());
                    let previous = file_slot.borrow_mut().replace(attached);
                    drop(previous);
                }
                other => warn!("call: ignored a data channel labelled {other:?}"),
            }
        });

    PeerHandlers {
        on_ice_candidate,
        on_track,
        on_connection_state,
        on_data_channel,
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

/// The asynchronous side of a call: offer, answer and remote candidates. Cheap to clone; each
/// step's errors come back as plain text naming the step.
#[derive(Clone)]
pub struct Negotiator {
    pc: RtcPeerConnection,
    candidates: Rc<RefCell<CandidateBuffer<IceCandidate>>>,
}

impl Negotiator {
    /// Caller: creates the offer, sets it as the local description, and returns its SDP.
    pub async fn create_offer(&self) -> Result<String, String> {
        let offer = JsFuture::from(self.pc.create_offer())
            .await
            .map_err(|err| failed("create the offer", &err))?;
        let sdp = sdp_of(&offer)?;
        self.set_local(RtcSdpType::Offer, &sdp).await?;
        Ok(sdp)
    }

    /// Callee: applies the offer, releases the buffered candidates, creates the answer, sets it
    /// as the local description, and returns its SDP.
    pub async fn answer_offer(&self, offer_sdp: &str) -> Result<String, String> {
        self.set_remote(RtcSdpType::Offer, offer_sdp).await?;
        let answer = JsFuture::from(self.pc.create_answer())
            .await
            .map_err(|err| failed("create the answer", &err))?;
        let sdp = sdp_of(&answer)?;
        self.set_local(RtcSdpType::Answer, &sdp).await?;
        Ok(sdp)
    }

    /// Reads the peer connection's statistics, for the call report.
    pub async fn stats(&self) -> Result<Vec<Stat>, String> {
        ice::read_stats(&self.pc).await
    }

    /// Caller: applies the answer and releases the buffered candidates.
    pub async fn accept_answer(&self, answer_sdp: &str) -> Result<(), String> {
        self.set_remote(RtcSdpType::Answer, answer_sdp).await
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

    async fn set_local(&self, kind: RtcSdpType, sdp: &str) -> Result<(), String> {
        let description = RtcSessionDescriptionInit::new(kind);
        description.set_sdp(sdp);
        JsFuture::from(self.pc.set_local_description(&description))
            .await
            .map(drop)
            .map_err(|err| failed("set the local description", &err))
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

/// Reads `sdp` from what `createOffer`/`createAnswer` resolved to.
fn sdp_of(description: &JsValue) -> Result<String, String> {
    js_sys::Reflect::get(description, &"sdp".into())
        .ok()
        .and_then(|sdp| sdp.as_string())
        .ok_or_else(|| "the browser produced a description without SDP".into())
}

fn failed(step: &str, err: &JsValue) -> String {
    format!("could not {step}: {}", js_error::describe(err))
}
