//! The relay-transport half of the check: for each transport the server's relay is offered
//! over (UDP, TCP, TLS), a relay-only probe of its own with only that transport's URLs, so a
//! relay candidate it gathers proves that transport gets through from here. What the results
//! mean is decided in `visavis_client_core::connectivity::transports`.

use std::rc::Rc;

use leptos::logging::warn;
use leptos::prelude::*;
use visavis_shared::{IceServer, RelayTransport};
use wasm_bindgen_futures::spawn_local;

use super::probe::{make_offer, Probe, ProbeEvent};
use super::{Inner, GATHER_LIMIT_MS};
use crate::browser;
use crate::peer::ice::IceSignal;
use visavis_client_core::connectivity::transports::{self, TRANSPORTS};
use visavis_client_core::connectivity::CandidateType;
use visavis_client_core::link::IcePolicy;

impl Inner {
    /// Starts one probe per transport the `servers` offer, all at once: each is independent
    /// of the others, so none waits for another's timeout.
    pub(super) fn start_transport_probes(self: &Rc<Self>, servers: &[IceServer]) {
        self.transports.borrow_mut().configured(servers);
        self.publish_transports();
        for transport in TRANSPORTS {
            let only = transports::servers_for(servers, transport);
            if !only.is_empty() {
                self.start_transport_probe(transport, &only);
            }
        }
    }

    fn start_transport_probe(self: &Rc<Self>, transport: RelayTransport, servers: &[IceServer]) {
        let weak = Rc::downgrade(self);
        let report: Rc<dyn Fn(ProbeEvent)> = Rc::new(move |event| {
            let weak = weak.clone();
            spawn_local(async move {
                if let Some(inner) = weak.upgrade() {
                    inner.on_transport_probe(transport, event);
                }
            });
        });
        // Relay only: a host candidate would say nothing about the relay.
        let probe = match Probe::start(servers, IcePolicy::Relay, report) {
            Ok(probe) => probe,
            Err(err) => {
                warn!("check: {transport:?} probe: {err}");
                self.transports.borrow_mut().broken(transport, err);
                self.publish_transports();
                return;
            }
        };
        let pc = probe.pc.clone();
        self.transport_probes.borrow_mut().push((transport, probe));

        let weak = Rc::downgrade(self);
        spawn_local(async move {
            if let Err(err) = make_offer(&pc).await {
                warn!("check: {transport:?} probe: {err}");
                if let Some(inner) = weak.upgrade() {
                    inner.transports.borrow_mut().broken(transport, err);
                    inner.close_transport_probe(transport);
                    inner.publish_transports();
                }
            }
        });
        let weak = Rc::downgrade(self);
        spawn_local(async move {
            browser::sleep(GATHER_LIMIT_MS).await;
            if let Some(inner) = weak.upgrade() {
                inner.finish_transport(transport);
            }
        });
    }

    fn on_transport_probe(&self, transport: RelayTransport, event: ProbeEvent) {
        match event {
            ProbeEvent::Candidate(CandidateType::Relay, protocol) => {
                self.transports
                    .borrow_mut()
                    .relay_candidate(transport, protocol.as_deref());
                // One relay address answers the question; the allocation is given back now.
                if self.transports.borrow().row(transport).result.is_final() {
                    self.finish_transport(transport);
                } else {
                    self.publish_transports();
                }
            }
            // Relay-only probes gather nothing else; nothing else would tell anything.
            ProbeEvent::Candidate(..) => {}
            ProbeEvent::EndOfCandidates | ProbeEvent::Ice(IceSignal::GatheringComplete) => {
                self.finish_transport(transport);
            }
            ProbeEvent::Ice(IceSignal::Error(error)) => {
                warn!(
                    "check: {transport:?} probe: ICE server error {} from {}: {}",
                    error.code, error.url, error.text
                );
                if error.is_turn() {
                    self.transports.borrow_mut().ice_error(transport, error);
                    self.publish_transports();
                }
            }
        }
    }

    fn finish_transport(&self, transport: RelayTransport) {
        if self.transports.borrow().is_finished(transport) {
            return;
        }
        self.transports.borrow_mut().finish(transport);
        self.close_transport_probe(transport);
        self.publish_transports();
    }

    /// Closes the probe of `transport`, dropping its closures.
    fn close_transport_probe(&self, transport: RelayTransport) {
        let (closing, keep): (Vec<_>, Vec<_>) =
            std::mem::take(&mut *self.transport_probes.borrow_mut())
                .into_iter()
                .partition(|(kind, _)| *kind == transport);
        *self.transport_probes.borrow_mut() = keep;
        for (_, mut probe) in closing {
            probe.close();
        }
    }

    /// Closes every transport probe.
    pub(super) fn stop_transport_probes(&self) {
        let probes = std::mem::take(&mut *self.transport_probes.borrow_mut());
        for (_, mut probe) in probes {
            probe.close();
        }
    }

    pub(super) fn publish_transports(&self) {
        let check = self.transports.borrow();
        self.model.turn_udp.set(check.row(RelayTransport::Udp));
        self.model.turn_tcp.set(check.row(RelayTransport::Tcp));
        self.model.turn_tls.set(check.row(RelayTransport::Tls));
        self.model
            .turn_tls_offered
            .set(check.is_offered(RelayTransport::Tls));
        self.model.turn_summary.set(check.summary());
    }
}
