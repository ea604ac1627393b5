//! What the relay adds around each allocation the `turn` crate makes: caps per credential and
//! in total, the peer-address policy, byte counts, and (over TCP/TLS) closing the allocation
//! when its client's connection ends.
//!
//! The crate's relay-address generator is not told who asks. It is, however, only ever called
//! while the crate's read loop for one listener handles one Allocate request, and that loop
//! handles one message at a time; so a [`TappedConn`] around the listener notes the username
//! and client of each Allocate request as it passes, and the generator reads that note.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use prometheus::{IntCounter, IntGauge};
use stun::attributes::ATTR_USERNAME;
use stun::message::{Message, MessageType, CLASS_REQUEST, METHOD_ALLOCATE};
use stun::textattrs::TextAttribute;
use turn::relay::relay_range::RelayAddressGeneratorRanges;
use turn::relay::RelayAddressGenerator;
use webrtc_util::Conn;

use super::metrics::{Transport, TurnMetrics};
use super::peer_policy::PeerPolicy;
use super::stream::{ClientHandle, StreamConn};

/// The default cap on live allocations per credential. Each browser connection gets its own
/// credential and allocates once per relay URL (UDP, TCP, TLS) and local network interface,
/// plus a few more after an ICE restart.
pub const DEFAULT_MAX_ALLOCATIONS_PER_CREDENTIAL: usize = 16;

/// The Allocate request being handled now on one listener.
#[derive(Clone)]
struct PendingAllocate {
    username: String,
    client: SocketAddr,
}

/// Shared between one listener's [`TappedConn`] and its [`RelayGenerator`].
#[derive(Clone, Default)]
pub struct PendingSlot(Arc<Mutex<Option<PendingAllocate>>>);

impl PendingSlot {
    fn set(&self, value: Option<PendingAllocate>) {
        *self.0.lock().unwrap_or_else(|poison| poison.into_inner()) = value;
    }

    fn get(&self) -> Option<PendingAllocate> {
        self.0
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }
}

/// The username of an Allocate request, if `datagram` is one (decoded by the `stun` crate).
fn allocate_username(datagram: &[u8]) -> Option<String> {
    if !stun::message::is_message(datagram) {
        return None;
    }
    let mut message = Message::new();
    message.unmarshal_binary(datagram).ok()?;
    if message.typ != MessageType::new(METHOD_ALLOCATE, CLASS_REQUEST) {
        return None;
    }
    TextAttribute::get_from_as(&message, ATTR_USERNAME)
        .ok()
        .map(|attr| attr.text)
}

/// A listener socket that notes each Allocate request in a [`PendingSlot`] on its way to the
/// `turn` server, and otherwise passes everything through.
pub struct TappedConn {
    inner: Arc<dyn Conn + Send + Sync>,
    pending: PendingSlot,
}

impl TappedConn {
    /// Wraps `inner`, noting Allocate requests in `pending`.
    pub fn new(inner: Arc<dyn Conn + Send + Sync>, pending: PendingSlot) -> TappedConn {
        TappedConn { inner, pending }
    }
}

#[async_trait]
impl Conn for TappedConn {
    async fn connect(&self, addr: SocketAddr) -> webrtc_util::Result<()> {
        self.inner.connect(addr).await
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        self.inner.recv(buf).await
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        let (n, from) = self.inner.recv_from(buf).await?;
        let pending = allocate_username(&buf[..n]).map(|username| PendingAllocate {
            username,
            client: from,
        });
        self.pending.set(pending);
        Ok((n, from))
    }

    async fn send(&self, buf: &[u8]) -> webrtc_util::Result<usize> {
        self.inner.send(buf).await
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc_util::Result<usize> {
        self.inner.send_to(buf, target).await
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        self.inner.remote_addr()
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        self.inner.close().await
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

/// Why an allocation was refused by a cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapRefusal {
    /// The credential already holds its share.
    Credential,
    /// The relay holds as many as it will.
    Total,
}

impl CapRefusal {
    fn as_str(self) -> &'static str {
        match self {
            CapRefusal::Credential => "credential_cap",
            CapRefusal::Total => "total_cap",
        }
    }
}

/// Counts of live allocations, shared by all listeners of one relay.
pub struct AllocationCaps {
    per_credential: usize,
    total: usize,
    live: Mutex<LiveCounts>,
}

#[derive(Default)]
struct LiveCounts {
    total: usize,
    per_credential: HashMap<String, usize>,
}

/// One live allocation's place under the caps, given back on drop.
pub struct CapTicket {
    caps: Arc<AllocationCaps>,
    username: String,
}

impl AllocationCaps {
    /// Caps of `per_credential` live allocations per username and `total` in all.
    pub fn new(per_credential: usize, total: usize) -> Arc<AllocationCaps> {
        Arc::new(AllocationCaps {
            per_credential,
            total,
            live: Mutex::new(LiveCounts::default()),
        })
    }

    /// Takes a place for one more allocation by `username`.
    pub fn take(self: &Arc<Self>, username: &str) -> Result<CapTicket, CapRefusal> {
        let mut live = self
            .live
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if live.total >= self.total {
            return Err(CapRefusal::Total);
        }
        let held = live.per_credential.get(username).copied().unwrap_or(0);
        if held >= self.per_credential {
            return Err(CapRefusal::Credential);
        }
        live.total += 1;
        live.per_credential.insert(username.to_owned(), held + 1);
        Ok(CapTicket {
            caps: self.clone(),
            username: username.to_owned(),
        })
    }

    /// Live allocations now.
    pub fn live(&self) -> usize {
        self.live
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .total
    }
}

impl Drop for CapTicket {
    fn drop(&mut self) {
        let mut live = self
            .caps
            .live
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        live.total = live.total.saturating_sub(1);
        if let Some(held) = live.per_credential.get_mut(&self.username) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                live.per_credential.remove(&self.username);
            }
        }
    }
}

/// The relay-address generator of one listener: the crate's port-range generator, wrapped so
/// that every relay socket it hands out is capped, filtered and counted.
pub struct RelayGenerator {
    /// The crate's generator that binds the relay sockets.
    pub inner: RelayAddressGeneratorRanges,
    /// The peer-address rule.
    pub policy: PeerPolicy,
    /// Which listener this is.
    pub transport: Transport,
    /// The relay's allocation caps.
    pub caps: Arc<AllocationCaps>,
    /// The listener's note of the current Allocate request.
    pub pending: PendingSlot,
    /// The TCP/TLS listener, to tie allocations to their connection.
    pub stream: Option<Arc<StreamConn>>,
    /// Where to count.
    pub metrics: TurnMetrics,
}

#[async_trait]
impl RelayAddressGenerator for RelayGenerator {
    fn validate(&self) -> Result<(), turn::Error> {
        self.inner.validate()
    }

    async fn allocate_conn(
        &self,
        use_ipv4: bool,
        requested_port: u16,
    ) -> Result<(Arc<dyn Conn + Send + Sync>, SocketAddr), turn::Error> {
        // Without a note (which the crate's request order rules out) the allocation is
        // capped under the empty name, still within the total.
        let pending = self.pending.get();
        let username = pending.as_ref().map_or("", |p| p.username.as_str());
        let ticket = self.caps.take(username).map_err(|refusal| {
            self.metrics
                .allocations_refused
                .with_label_values(&[refusal.as_str()])
                .inc();
            tracing::info!(reason = refusal.as_str(), transport = %self.transport, "refused a TURN allocation");
            // The crate answers any error here with 508 (Insufficient Capacity).
            turn::Error::Other(format!("allocation refused: {}", refusal.as_str()))
        })?;
        let client = match (&self.stream, &pending) {
            (Some(stream), Some(pending)) => {
                // The connection may already be gone; then so is the allocation's purpose.
                let client = stream.client(pending.client).ok_or_else(|| {
                    turn::Error::Other("the TURN connection already closed".to_owned())
                })?;
                Some(client)
            }
            _ => None,
        };
        // Relay sockets are always of the external address's family: that is what relay
        // candidates advertise. The crate asks for IPv4 unless the client requested IPv6
        // (browsers never ask), which would make every allocation of an IPv6 relay fail.
        let _ = use_ipv4;
        let relay_ipv4 = self.inner.relay_address.is_ipv4();
        let (conn, relay_addr) = self.inner.allocate_conn(relay_ipv4, requested_port).await?;
        let label = [self.transport.as_str()];
        self.metrics
            .allocations_granted
            .with_label_values(&label)
            .inc();
        let live = self.metrics.allocations.with_label_values(&label);
        live.inc();
        if let Some(client) = &client {
            client.allocation_opened();
        }
        let filtered: Arc<dyn Conn + Send + Sync> = Arc::new(RelayConn {
            inner: conn,
            policy: self.policy,
            client,
            relayed_bytes: self.metrics.relayed_bytes.with_label_values(&label),
            live,
            _ticket: ticket,
        });
        Ok((filtered, relay_addr))
    }
}

/// A relay socket that silently drops datagrams to and from refused peers, counts what it
/// relays, and fails its reads once its TCP/TLS client is gone, which makes the crate drop
/// the allocation. Dropping (rather than failing) refused datagrams keeps a misbehaving client
/// from filling the log with the crate's error messages.
struct RelayConn {
    inner: Arc<dyn Conn + Send + Sync>,
    policy: PeerPolicy,
    client: Option<Arc<ClientHandle>>,
    relayed_bytes: IntCounter,
    live: IntGauge,
    _ticket: CapTicket,
}

impl Drop for RelayConn {
    fn drop(&mut self) {
        self.live.dec();
        if let Some(client) = &self.client {
            client.allocation_closed();
        }
    }
}

fn client_gone() -> webrtc_util::Error {
    webrtc_util::Error::Other("the TURN client's connection ended".to_owned())
}

#[async_trait]
impl Conn for RelayConn {
    async fn connect(&self, addr: SocketAddr) -> webrtc_util::Result<()> {
        if !self.policy.allows(addr.ip()) {
            return Err(webrtc_util::Error::Other(
                "peer address refused by the relay policy".to_owned(),
            ));
        }
        self.inner.connect(addr).await
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        // Only reachable after `connect`, which already applied the policy.
        self.inner.recv(buf).await
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        loop {
            let (n, from) = match &self.client {
                None => self.inner.recv_from(buf).await?,
                Some(client) => tokio::select! {
                    received = self.inner.recv_from(buf) => received?,
                    _ = client.closed() => return Err(client_gone()),
                },
            };
            if self.policy.allows(from.ip()) {
                self.relayed_bytes.inc_by(n as u64);
                return Ok((n, from));
            }
        }
    }

    async fn send(&self, buf: &[u8]) -> webrtc_util::Result<usize> {
        self.inner.send(buf).await
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc_util::Result<usize> {
        if !self.policy.allows(target.ip()) {
            return Ok(buf.len());
        }
        let sent = self.inner.send_to(buf, target).await?;
        self.relayed_bytes.inc_by(sent as u64);
        Ok(sent)
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        self.inner.remote_addr()
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        self.inner.close().await
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stun::agent::TransactionId;
    use stun::message::BINDING_REQUEST;
    use stun::textattrs::Username;

    #[test]
    fn caps_hold_per_credential_and_in_total_and_free_on_drop() {
        let caps = AllocationCaps::new(2, 3);
        let a1 = caps.take("a").expect("first");
        let _a2 = caps.take("a").expect("second");
        assert_eq!(caps.take("a").err(), Some(CapRefusal::Credential));
        let _b1 = caps.take("b").expect("another credential");
        assert_eq!(caps.take("c").err(), Some(CapRefusal::Total));
        drop(a1);
        assert_eq!(caps.live(), 2);
        assert!(caps.take("a").is_ok());
    }

    #[test]
    fn only_allocate_requests_yield_a_username() {
        let mut allocate = Message::new();
        allocate
            .build(&[
                Box::new(TransactionId::new()),
                Box::new(MessageType::new(METHOD_ALLOCATE, CLASS_REQUEST)),
                Box::new(Username::new(ATTR_USERNAME, "123:abc".to_owned())),
            ])
            .expect("builds");
        assert_eq!(allocate_username(&allocate.raw), Some("123:abc".to_owned()));

        let mut binding = Message::new();
        binding
            .build(&[
                Box::new(TransactionId::new()),
                Box::new(BINDING_REQUEST),
                Box::new(Username::new(ATTR_USERNAME, "123:abc".to_owned())),
            ])
            .expect("builds");
        assert_eq!(allocate_username(&binding.raw), None);
        assert_eq!(allocate_username(&[0x40, 0, 0, 1, 7]), None);
        assert_eq!(allocate_username(b"garbage garbage garbage"), None);
    }
}
