//! The built-in relay's Prometheus metrics, labelled by transport (`udp`, `tcp`, `tls`) and by
//! reason, never by address or credential, so their number stays bounded.

use std::fmt;

use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};

/// How a TURN client reaches the relay. The relayed side toward the peer is always UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// TURN over UDP.
    Udp,
    /// TURN over TCP (RFC 8656 framing).
    Tcp,
    /// TURN over TLS over TCP.
    Tls,
}

impl Transport {
    /// The label used in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The relay's metrics. Cloning shares the underlying counters.
#[derive(Clone)]
pub struct TurnMetrics {
    /// Open TCP/TLS client connections, by transport.
    pub connections: IntGaugeVec,
    /// TCP/TLS connections refused before serving them, by reason: rate_limit, ip_cap,
    /// total_cap, handshake.
    pub connections_refused: IntCounterVec,
    /// Ended TCP/TLS connections, by reason: closed, garbage, too_large, silent (no first
    /// message in time), idle, write_stall, shutdown.
    pub connections_closed: IntCounterVec,
    /// Live allocations, by transport.
    pub allocations: IntGaugeVec,
    /// Allocations granted, by transport.
    pub allocations_granted: IntCounterVec,
    /// Allocations refused by a cap, by reason: credential_cap, total_cap.
    pub allocations_refused: IntCounterVec,
    /// Payload bytes relayed between clients and peers, by transport.
    pub relayed_bytes: IntCounterVec,
    /// Messages to a TCP/TLS client dropped because its queue was full (a slow reader).
    pub dropped_messages: IntCounterVec,
}

impl TurnMetrics {
    /// Fresh, unregistered metrics (see [`TurnMetrics::register`]).
    pub fn new() -> TurnMetrics {
        // expect: the names and labels are constants, so creating them cannot fail.
        let gauges = |name: &str, help: &str, label: &str| {
            IntGaugeVec::new(Opts::new(name, help), &[label]).expect("valid metric")
        };
        let counters = |name: &str, help: &str, label: &str| {
            IntCounterVec::new(Opts::new(name, help), &[label]).expect("valid metric")
        };
        TurnMetrics {
            connections: gauges(
                "turn_connections",
                "Open TURN client connections over TCP/TLS",
                "transport",
            ),
            connections_refused: counters(
                "turn_connections_refused_total",
                "TURN TCP/TLS connections refused before serving",
                "reason",
            ),
            connections_closed: counters(
                "turn_connections_closed_total",
                "Ended TURN TCP/TLS connections",
                "reason",
            ),
            allocations: gauges("turn_allocations", "Live TURN allocations", "transport"),
            allocations_granted: counters(
                "turn_allocations_total",
                "TURN allocations granted",
                "transport",
            ),
            allocations_refused: counters(
                "turn_allocations_refused_total",
                "TURN allocations refused by a cap",
                "reason",
            ),
            relayed_bytes: counters(
                "turn_relayed_bytes_total",
                "Payload bytes relayed between TURN clients and peers",
                "transport",
            ),
            dropped_messages: counters(
                "turn_dropped_messages_total",
                "Messages to slow TURN TCP/TLS clients dropped",
                "transport",
            ),
        }
    }

    /// Registers every metric into `registry`.
    pub fn register(&self, registry: &Registry) -> prometheus::Result<()> {
        registry.register(Box::new(self.connections.clone()))?;
        registry.register(Box::new(self.connections_refused.clone()))?;
        registry.register(Box::new(self.connections_closed.clone()))?;
        registry.register(Box::new(self.allocations.clone()))?;
        registry.register(Box::new(self.allocations_granted.clone()))?;
        registry.register(Box::new(self.allocations_refused.clone()))?;
        registry.register(Box::new(self.relayed_bytes.clone()))?;
        registry.register(Box::new(self.dropped_messages.clone()))?;
        Ok(())
    }
}

impl Default for TurnMetrics {
    fn default() -> Self {
        TurnMetrics::new()
    }
}
