//! Browser-side ICE plumbing shared by the call and the connectivity check: building the
//! `RTCConfiguration`, listening to candidate errors and to the gathering state, reading the
//! type of a local candidate, and reading `getStats()`. No DOM access; the decisions made from
//! all this live in `visavis_client_core::connectivity` and `::stats`.

use std::rc::Rc;

use js_sys::Reflect;
use leptos::logging::warn;
use visavis_shared::IceServer;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Event, RtcConfiguration, RtcIceGatheringState, RtcIceServer, RtcIceTransportPolicy,
    RtcPeerConnection, RtcPeerConnectionIceErrorEvent,
};

use crate::browser::js_error;
use visavis_client_core::connectivity::IceErrorReport;
use visavis_client_core::link::IcePolicy;
use visavis_client_core::stats::{Stat, StatValue, FIELDS};

/// The DOM event for candidate errors. web-sys has no `onicecandidateerror` property setter,
/// so the handler is added as a listener.
const CANDIDATE_ERROR_EVENT: &str = "icecandidateerror";

/// Builds the `RTCConfiguration` from the server's `config` and the page's ICE policy.
pub fn configuration(ice_servers: &[IceServer], policy: IcePolicy) -> RtcConfiguration {
    let servers = js_sys::Array::new();
    for server in ice_servers {
        let entry = RtcIceServer::new();
        let urls = js_sys::Array::new();
        for url in &server.urls {
            urls.push(&JsValue::from_str(url));
        }
        entry.set_urls(&urls);
        if let Some(username) = &server.username {
            entry.set_username(username);
        }
        if let Some(credential) = &server.credential {
            entry.set_credential(credential);
        }
        servers.push(&entry);
    }
    let config = RtcConfiguration::new();
    config.set_ice_servers(&servers);
    config.set_ice_transport_policy(match policy {
        IcePolicy::All => RtcIceTransportPolicy::All,
        IcePolicy::Relay => RtcIceTransportPolicy::Relay,
    });
    config
}

/// Replaces the ICE servers of a live peer connection (fresh TURN credentials), keeping the
/// policy it was created with, so later allocations and ICE restarts authenticate.
pub fn update_servers(
    pc: &RtcPeerConnection,
    ice_servers: &[IceServer],
    policy: IcePolicy,
) -> Result<(), String> {
    pc.set_configuration_with_configuration(&configuration(ice_servers, policy))
        .map_err(|err| js_error::describe(&err))
}

/// What [`IceDiagnostics`] reports.
#[derive(Debug, Clone)]
pub enum IceSignal {
    /// The browser could not use a STUN or TURN server.
    Error(IceErrorReport),
    /// `iceGatheringState` became `complete`.
    GatheringComplete,
}

/// Listens to `icecandidateerror` and `icegatheringstatechange` on a peer connection. The
/// closures live here and are removed from the connection before they are dropped.
pub struct IceDiagnostics {
    pc: RtcPeerConnection,
    handlers: Option<DiagnosticHandlers>,
}

/// The two closures [`IceDiagnostics`] installs.
struct DiagnosticHandlers {
    on_error: Closure<dyn FnMut(RtcPeerConnectionIceErrorEvent)>,
    on_gathering: Closure<dyn FnMut(Event)>,
}

impl IceDiagnostics {
    /// Starts reporting to `report`. The callback runs inside the browser's event handler, so
    /// it must not drop this value synchronously.
    pub fn install(pc: &RtcPeerConnection, report: Rc<dyn Fn(IceSignal)>) -> IceDiagnostics {
        let on_error_report = report.clone();
        let on_error = Closure::<dyn FnMut(RtcPeerConnectionIceErrorEvent)>::new(
            move |event: RtcPeerConnectionIceErrorEvent| {
                on_error_report(IceSignal::Error(IceErrorReport {
                    url: event.url(),
                    code: event.error_code(),
                    text: event.error_text(),
                }));
            },
        );
        let watched = pc.clone();
        let on_gathering = Closure::<dyn FnMut(Event)>::new(move |_: Event| {
            if watched.ice_gathering_state() == RtcIceGatheringState::Complete {
                report(IceSignal::GatheringComplete);
            }
        });
        if let Err(err) = pc.add_event_listener_with_callback(
            CANDIDATE_ERROR_EVENT,
            on_error.as_ref().unchecked_ref(),
        ) {
            warn!(
                "ice: could not listen to candidate errors: {}",
                js_error::describe(&err)
            );
        }
        pc.set_onicegatheringstatechange(Some(on_gathering.as_ref().unchecked_ref()));
        IceDiagnostics {
            pc: pc.clone(),
            handlers: Some(DiagnosticHandlers {
                on_error,
                on_gathering,
            }),
        }
    }

    /// Removes both handlers and drops their closures. Safe to call more than once.
    pub fn uninstall(&mut self) {
        let Some(DiagnosticHandlers {
            on_error,
            on_gathering,
        }) = self.handlers.take()
        else {
            return;
        };
        if let Err(err) = self.pc.remove_event_listener_with_callback(
            CANDIDATE_ERROR_EVENT,
            on_error.as_ref().unchecked_ref(),
        ) {
            warn!(
                "ice: could not remove the candidate error listener: {}",
                js_error::describe(&err)
            );
        }
        self.pc.set_onicegatheringstatechange(None);
        drop(on_error);
        drop(on_gathering);
    }
}

impl Drop for IceDiagnostics {
    fn drop(&mut self) {
        self.uninstall();
    }
}

/// Reads the peer connection's statistics: for every entry of the `RTCStatsReport` (a
/// map-like object, iterated as `[id, stats]` pairs), its type, id and the [`FIELDS`] the
/// path choice and the live statistics need.
pub async fn read_stats(pc: &RtcPeerConnection) -> Result<Vec<Stat>, String> {
    let report = JsFuture::from(pc.get_stats())
        .await
        .map_err(|err| format!("getStats failed: {}", js_error::describe(&err)))?;
    let entries = js_sys::try_iter(&report)
        .map_err(|err| js_error::describe(&err))?
        .ok_or("the stats report cannot be iterated")?;
    let mut stats = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|err| js_error::describe(&err))?;
        // Each entry is a `[key, value]` array; the value carries its own `id`.
        let value = Reflect::get_u32(&entry, 1).unwrap_or(JsValue::UNDEFINED);
        if let Some(stat) = read_stat(&value) {
            stats.push(stat);
        }
    }
    Ok(stats)
}

fn read_stat(value: &JsValue) -> Option<Stat> {
    if !value.is_object() {
        return None;
    }
    let text = |name: &str| {
        Reflect::get(value, &JsValue::from_str(name))
            .ok()
            .and_then(|v| v.as_string())
    };
    let kind = text("type")?;
    let id = text("id")?;
    let fields = FIELDS
        .iter()
        .filter_map(|&name| {
            let field = Reflect::get(value, &JsValue::from_str(name)).ok()?;
            let parsed = if let Some(text) = field.as_string() {
                StatValue::Text(text)
            } else if let Some(number) = field.as_f64() {
                StatValue::Number(number)
            } else {
                StatValue::Flag(field.as_bool()?)
            };
            Some((name.to_owned(), parsed))
        })
        .collect();
    Some(Stat { kind, id, fields })
}
