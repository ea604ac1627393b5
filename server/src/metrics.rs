//! Prometheus metrics: one registry per server instance (no global state), rendered at
//! `/metrics` in the text exposition format.

use crate::cluster::ClusterMetrics;
use crate::turn::TurnMetrics;
use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// Every metric the server keeps. Labels carry kinds and reasons only, never rooms or addresses,
/// so their number stays bounded whatever clients send.
pub struct Metrics {
    registry: Registry,
    /// Open WebSocket connections.
    pub connections: IntGauge,
    /// Rooms with at least one person.
    pub rooms: IntGauge,
    /// Join attempts by result: created, joined, full, rejected.
    pub joins: IntCounterVec,
    /// Relayed messages by type: invite, ok, ice_candidate.
    pub relayed: IntCounterVec,
    /// Refused inputs by reason (the error code).
    pub rejected: IntCounterVec,
    /// Ended connections by reason: close, close_away, lost, heartbeat, slow_consumer,
    /// rate_limit, protocol_error.
    pub disconnects: IntCounterVec,
    /// Seats taken back with a seat token (successful `rejoin`s).
    pub seat_reclaims: IntCounter,
    /// Away seats freed because their grace period ran out.
    pub seat_grace_expired: IntCounter,
    /// Client-reported call-setup time.
    pub call_setup_seconds: Histogram,
    /// Client-reported media paths: direct or relay.
    pub media_paths: IntCounterVec,
    /// Client-reported relay transports of relayed calls: udp, tcp or tls.
    pub relay_transports: IntCounterVec,
    /// The built-in TURN relay's metrics (all zero when it does not run).
    pub turn: TurnMetrics,
    /// Cluster mode's metrics (all zero in single-node mode).
    pub cluster: ClusterMetrics,
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Metrics {
        // unwrap (every expect here): metric names and labels are constants, each registered
        // once into a fresh registry, so neither creation nor registration can fail.
        let registry =
            Registry::new_custom(Some("visavis".into()), None).expect("a constant, valid prefix");
        let gauge = |name: &str, help: &str| {
            register(&registry, IntGauge::new(name, help).expect("valid metric"))
        };
        let counter = |name: &str, help: &str| {
            register(
                &registry,
                IntCounter::new(name, help).expect("valid metric"),
            )
        };
        let counters = |name: &str, help: &str, label: &str| {
            let vec = IntCounterVec::new(Opts::new(name, help), &[label]).expect("valid metric");
            register(&registry, vec)
        };
        Metrics {
            connections: gauge("connections", "Open WebSocket connections"),
            rooms: gauge("rooms", "Rooms with at least one person"),
            joins: counters("joins_total", "Join attempts by result", "result"),
            relayed: counters("relayed_messages_total", "Relayed messages by type", "type"),
            rejected: counters(
                "rejected_inputs_total",
                "Refused inputs by reason",
                "reason",
            ),
            disconnects: counters("disconnects_total", "Ended connections by reason", "reason"),
            seat_reclaims: counter("seat_reclaims_total", "Seats reclaimed with a seat token"),
            seat_grace_expired: counter(
                "seat_grace_expired_total",
                "Away seats freed when their grace period ran out",
            ),
            call_setup_seconds: register(
                &registry,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "call_setup_seconds",
                        "Client-reported time from joining to media flowing",
                    )
                    .buckets(vec![0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 60.0]),
                )
                .expect("valid metric"),
            ),
            media_paths: counters("media_paths_total", "Client-reported media paths", "path"),
            relay_transports: counters(
                "relay_transports_total",
                "Client-reported relay transports of relayed calls",
                "transport",
            ),
            turn: {
                let turn = TurnMetrics::new();
                turn.register(&registry)
                    .expect("each metric is registered once");
                turn
            },
            cluster: ClusterMetrics::register(&registry).expect("each metric is registered once"),
            registry,
        }
    }

    /// The metrics in Prometheus text format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metrics.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        String::from_utf8(buffer).unwrap_or_default()
    }
}

/// Registers `metric` and hands it back, so each metric is named in one place.
fn register<M: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: M) -> M {
    registry
        .register(Box::new(metric.clone()))
        .expect("each metric is registered once"); // unwrap: see Metrics::new
    metric
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_metrics_carry_the_prefix_and_labels() {
        let metrics = Metrics::new();
        metrics.joins.with_label_values(&["created"]).inc();
        metrics.connections.set(3);
        metrics.seat_reclaims.inc();
        let text = metrics.render();
        assert!(text.contains("visavis_seat_reclaims_total 1"));
        assert!(text.contains("visavis_seat_grace_expired_total 0"));
        assert!(text.contains("visavis_joins_total{result=\"created\"} 1"));
        assert!(text.contains("visavis_connections 3"));
        metrics
            .turn
            .allocations_granted
            .with_label_values(&["tls"])
            .inc();
        let text = metrics.render();
        assert!(text.contains("visavis_turn_allocations_total{transport=\"tls\"} 1"));
    }
}
