//! The connectivity check behind the `/check` page. It fetches the ICE servers from the
//! server's `config`, gathers local candidates with a throw-away peer connection, tries each
//! relay transport on its own ([`transports`]), opens the
//! camera and the microphone one at a time, and writes the results into the [`CheckModel`].
//! The decisions (what each result means) live in `visavis_client_core::connectivity`; the
//! throw-away peer connection is in [`probe`]. No DOM access here.
//!
//! Like the call controller, every browser event is deferred to a microtask before it is
//! handled, so no handler ever drops the closure that is running it, and every closure lives
//! next to the object it is installed on until that object is closed.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use leptos::logging::warn;
use leptos::prelude::*;
use visavis_shared::{IceServer, ServerMessage};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{AnalyserNode, AudioContext, MediaStream, MediaStreamAudioSourceNode};

use crate::browser::js_error;
use crate::browser::{self, Interval};
use crate::media;
use crate::media::level_meter;
use crate::model::CheckModel;
use crate::peer::ice::IceSignal;
use crate::signaling::{Signaling, SignalingEvent};
use visavis_client_core::connectivity::{self, Device, NetworkCheck, Row, TransportCheck};
use visavis_client_core::devices;
use visavis_client_core::link::{self};
use visavis_shared::RelayTransport;

mod probe;
mod transports;

use probe::{make_offer, Probe, ProbeEvent};

/// How long to wait for the server's `config` before testing without it.
const CONFIG_WAIT_MS: i32 = 5_000;

/// How long candidates are collected at most. Browsers usually finish within a few seconds;
/// an unreachable STUN or TURN server can keep them gathering much longer.
pub(super) const GATHER_LIMIT_MS: i32 = 10_000;

/// How long the camera preview and the microphone level stay live before the devices are
/// given back.
const DEVICE_PREVIEW_MS: i32 = 20_000;

/// How often the microphone level is sampled.
const LEVEL_INTERVAL_MS: i32 = 100;

/// One run of the check. Dropping it stops everything: socket, peer connection, camera and
/// microphone.
pub struct Checker {
    inner: Rc<Inner>,
}

struct Inner {
    model: CheckModel,
    network: RefCell<NetworkCheck>,
    socket: RefCell<Option<Signaling>>,
    /// Whether the candidate gathering has started (with or without the server's settings).
    probe_started: Cell<bool>,
    probe: RefCell<Option<Probe>>,
    /// Which relay transports get through, one probe each.
    transports: RefCell<TransportCheck>,
    transport_probes: RefCell<Vec<(RelayTransport, Probe)>>,
    camera: RefCell<Option<MediaStream>>,
    microphone: RefCell<Option<MediaStream>>,
    meter: RefCell<Option<MicMeter>>,
    level_timer: RefCell<Option<Interval>>,
}

impl Checker {
    /// Resets `model` and starts every test.
    pub fn start(model: CheckModel) -> Checker {
        model.reset();
        let inner = Rc::new(Inner {
            model,
            network: RefCell::new(NetworkCheck::new(model.policy)),
            socket: RefCell::new(None),
            probe_started: Cell::new(false),
            probe: RefCell::new(None),
            transports: RefCell::new(TransportCheck::new()),
            transport_probes: RefCell::new(Vec::new()),
            camera: RefCell::new(None),
            microphone: RefCell::new(None),
            meter: RefCell::new(None),
            level_timer: RefCell::new(None),
        });
        inner.publish_network();
        inner.publish_transports();
        inner.start_network();
        spawn_local(test_devices(Rc::downgrade(&inner)));
        Checker { inner }
    }
}

impl Drop for Checker {
    fn drop(&mut self) {
        self.inner.stop_network();
        self.inner.stop_transport_probes();
        self.inner.release_devices();
    }
}

impl Inner {
    // ----- network: the server's settings ---------------------------------------------------

    fn start_network(self: &Rc<Self>) {
        let Some((protocol, host)) = browser::protocol_and_host() else {
            self.server_unreachable();
            return;
        };
        let url = link::websocket_url(&protocol, &host);
        let weak = Rc::downgrade(self);
        let on_event: Rc<dyn Fn(SignalingEvent)> = Rc::new(move |event| {
            let weak = weak.clone();
            spawn_local(async move {
                if let Some(inner) = weak.upgrade() {
                    inner.on_signaling(event);
                }
            });
        });
        match Signaling::connect(&url, on_event) {
            Ok(socket) => *self.socket.borrow_mut() = Some(socket),
            Err(err) => {
                warn!("check: could not open {url}: {err}");
                self.server_unreachable();
                return;
            }
        }
        let weak = Rc::downgrade(self);
        spawn_local(async move {
            browser::sleep(CONFIG_WAIT_MS).await;
            if let Some(inner) = weak.upgrade() {
                if !inner.probe_started.get() {
                    warn!("check: no config from the server in time");
                    inner.server_unreachable();
                }
            }
        });
    }

    fn on_signaling(self: &Rc<Self>, event: SignalingEvent) {
        match event {
            SignalingEvent::Message(ServerMessage::Config { ice_servers, .. }) => {
                if self.probe_started.get() {
                    return;
                }
                // The socket has served its purpose: the check never joins a room.
                self.close_socket();
                self.network.borrow_mut().configured(&ice_servers);
                self.publish_network();
                self.start_probe(&ice_servers);
                self.start_transport_probes(&ice_servers);
            }
            SignalingEvent::Closed { code } => {
                *self.socket.borrow_mut() = None;
                if !self.probe_started.get() {
                    warn!("check: the socket closed before config (code {code})");
                    self.server_unreachable();
                }
            }
            SignalingEvent::Opened | SignalingEvent::Message(_) => {}
        }
    }

    /// Tests what can be tested without the server: the local addresses.
    fn server_unreachable(self: &Rc<Self>) {
        if self.probe_started.get() {
            return;
        }
        self.close_socket();
        self.network.borrow_mut().server_unreachable();
        self.transports.borrow_mut().server_unreachable();
        self.publish_network();
        self.publish_transports();
        self.start_probe(&[]);
    }

    fn close_socket(&self) {
        let socket = self.socket.borrow_mut().take();
        drop(socket);
    }

    // ----- network: gathering ---------------------------------------------------------------

    fn start_probe(self: &Rc<Self>, servers: &[IceServer]) {
        if self.probe_started.replace(true) {
            return;
        }
        let weak = Rc::downgrade(self);
        let report: Rc<dyn Fn(ProbeEvent)> = Rc::new(move |event| {
            let weak = weak.clone();
            spawn_local(async move {
                if let Some(inner) = weak.upgrade() {
                    inner.on_probe(event);
                }
            });
        });
        let probe = match Probe::start(servers, self.model.policy, report) {
            Ok(probe) => probe,
            Err(err) => {
                warn!("check: {err}");
                self.network.borrow_mut().broken(err);
                self.publish_network();
                return;
            }
        };
        let pc = probe.pc.clone();
        *self.probe.borrow_mut() = Some(probe);

        // Gathering starts with the local description.
        let weak = Rc::downgrade(self);
        spawn_local(async move {
            if let Err(err) = make_offer(&pc).await {
                warn!("check: {err}");
                if let Some(inner) = weak.upgrade() {
                    inner.stop_network();
                    inner.network.borrow_mut().broken(err);
                    inner.publish_network();
                }
            }
        });
        let weak = Rc::downgrade(self);
        spawn_local(async move {
            browser::sleep(GATHER_LIMIT_MS).await;
            if let Some(inner) = weak.upgrade() {
                inner.finish_network();
            }
        });
    }

    fn on_probe(&self, event: ProbeEvent) {
        match event {
            ProbeEvent::Candidate(kind, _) => {
                self.network.borrow_mut().candidate(kind);
                self.publish_network();
            }
            ProbeEvent::EndOfCandidates | ProbeEvent::Ice(IceSignal::GatheringComplete) => {
                self.finish_network();
            }
            ProbeEvent::Ice(IceSignal::Error(error)) => {
                warn!(
                    "check: ICE server error {} from {}: {}",
                    error.code, error.url, error.text
                );
                self.network.borrow_mut().ice_error(error);
                self.publish_network();
            }
        }
    }

    fn finish_network(&self) {
        if self.network.borrow().is_finished() {
            return;
        }
        self.network.borrow_mut().finish();
        self.publish_network();
        self.stop_network();
    }

    /// Closes the socket and the peer connection, dropping their closures.
    fn stop_network(&self) {
        self.close_socket();
        let probe = self.probe.borrow_mut().take();
        if let Some(mut probe) = probe {
            probe.close();
        }
    }

    fn publish_network(&self) {
        let network = self.network.borrow();
        self.model.host.set(network.host());
        self.model.srflx.set(network.srflx());
        self.model.relay.set(network.relay());
    }

    // ----- devices --------------------------------------------------------------------------

    /// Stops every track and the level meter, and clears the preview.
    fn release_devices(&self) {
        let timer = self.level_timer.borrow_mut().take();
        drop(timer);
        let meter = self.meter.borrow_mut().take();
        if let Some(meter) = meter {
            meter.close();
        }
        for slot in [&self.camera, &self.microphone] {
            let stream = slot.borrow_mut().take();
            if let Some(stream) = stream {
                media::stop_tracks(&stream);
            }
        }
        self.model.camera_stream.set(None);
        self.model.mic_level.set(None);
    }

    fn start_level_meter(&self, stream: &MediaStream) {
        let meter = match MicMeter::new(stream) {
            Ok(meter) => meter,
            Err(err) => {
                // The microphone works; only the level bar is missing.
                warn!("check: no microphone level: {err}");
                return;
            }
        };
        let analyser = meter.analyser.clone();
        let level = self.model.mic_level;
        let mut samples = vec![0u8; analyser.fft_size() as usize];
        let timer = Interval::new(LEVEL_INTERVAL_MS, move || {
            analyser.get_byte_time_domain_data(&mut samples);
            level.set(Some(devices::level_from_samples(&samples)));
        });
        if timer.is_none() {
            warn!("check: could not start the level timer");
        }
        self.model.mic_level.set(Some(0.0));
        *self.meter.borrow_mut() = Some(meter);
        *self.level_timer.borrow_mut() = timer;
    }
}

/// Opens the camera, then the microphone (one prompt at a time), shows them for a while, then
/// gives them back. Results that arrive after the check was dropped are given back at once.
async fn test_devices(weak: Weak<Inner>) {
    let camera = media::open_camera_only().await;
    {
        let Some(inner) = weak.upgrade() else {
            if let Ok(stream) = camera {
                media::stop_tracks(&stream);
            }
            return;
        };
        inner.model.camera.set(connectivity::device_row(
            Device::Camera,
            camera.as_ref().map(drop),
        ));
        if let Err(err) = &camera {
            warn!("check: camera: {err}");
        }
        if let Ok(stream) = camera {
            // `Clone::clone` copies the handle; the inherent `MediaStream::clone` would make a
            // second stream whose cloned track is never stopped.
            inner.model.camera_stream.set(Some(Clone::clone(&stream)));
            *inner.camera.borrow_mut() = Some(stream);
        }
        inner.model.microphone.set(Row::pending(
            "Opening the microphone… (allow access if the browser asks)",
        ));
    }

    let microphone = media::open_microphone_only().await;
    {
        let Some(inner) = weak.upgrade() else {
            if let Ok(stream) = microphone {
                media::stop_tracks(&stream);
            }
            return;
        };
        inner.model.microphone.set(connectivity::device_row(
            Device::Microphone,
            microphone.as_ref().map(drop),
        ));
        if let Err(err) = &microphone {
            warn!("check: microphone: {err}");
        }
        if let Ok(stream) = microphone {
            inner.start_level_meter(&stream);
            *inner.microphone.borrow_mut() = Some(stream);
        }
    }

    browser::sleep(DEVICE_PREVIEW_MS).await;
    if let Some(inner) = weak.upgrade() {
        let opened = inner.camera.borrow().is_some() || inner.microphone.borrow().is_some();
        inner.release_devices();
        if opened {
            inner.model.devices_released.set(true);
        }
    }
}

/// A microphone level meter: the stream feeds an analyser, which is sampled by a timer.
struct MicMeter {
    context: AudioContext,
    source: MediaStreamAudioSourceNode,
    analyser: AnalyserNode,
}

impl MicMeter {
    fn new(stream: &MediaStream) -> Result<MicMeter, String> {
        let describe = |err: JsValue| js_error::describe(&err);
        let context = AudioContext::new().map_err(describe)?;
        let (source, analyser) = level_meter::analyse(&context, stream)?;
        // A context created without a recent click may start suspended; asking costs nothing,
        // and if it is refused the bar simply stays still.
        if let Ok(promise) = context.resume() {
            spawn_local(async move {
                if let Err(err) = JsFuture::from(promise).await {
                    warn!(
                        "check: the audio context stays suspended: {}",
                        js_error::describe(&err)
                    );
                }
            });
        }
        Ok(MicMeter {
            context,
            source,
            analyser,
        })
    }

    fn close(self) {
        level_meter::release(&self.context, &self.source, "check");
    }
}
