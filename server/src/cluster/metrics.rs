//! The cluster's Prometheus metrics: the node's id, whether Redis answers, and what crosses
//! nodes. Labels carry kinds and reasons only, plus this node's own id once.

use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

/// Cluster metrics; all zero (and no node label) in single-node mode. Cloning shares them.
#[derive(Clone)]
pub struct ClusterMetrics {
    /// 1, labelled with this node's id; absent in single-node mode.
    pub node_info: IntGaugeVec,
    /// 1 while Redis answers and this node's inbox is subscribed, else 0.
    pub redis_connected: IntGauge,
    /// Messages published to other nodes.
    pub forwarded_sent: IntCounter,
    /// Messages received from other nodes.
    pub forwarded_received: IntCounter,
    /// Room ownership claims by result: claimed, renewed, takeover, remote, failed.
    pub claims: IntCounterVec,
    /// Rooms taken over from a node that had died.
    pub takeovers: IntCounter,
    /// Losses detected by reason: gap (a sequence gap or a restarted sender), node_gone (a
    /// peer's liveness key expired or nobody listens on its inbox), publish_failed,
    /// resubscribed (this node's own inbox was interrupted), room_moved (another node owns a
    /// room this node held).
    pub losses: IntCounterVec,
}

impl ClusterMetrics {
    /// Fresh metrics registered into `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<ClusterMetrics> {
        let metrics = ClusterMetrics {
            node_info: IntGaugeVec::new(
                Opts::new("cluster_node_info", "This node's id in cluster mode"),
                &["node"],
            )?,
            redis_connected: IntGauge::new(
                "cluster_redis_connected",
                "1 while Redis answers and the node's inbox is subscribed",
            )?,
            forwarded_sent: IntCounter::new(
                "cluster_messages_sent_total",
                "Messages published to other nodes",
            )?,
            forwarded_received: IntCounter::new(
                "cluster_messages_received_total",
                "Messages received from other nodes",
            )?,
            claims: IntCounterVec::new(
                Opts::new("cluster_claims_total", "Room ownership claims by result"),
                &["result"],
            )?,
            takeovers: IntCounter::new(
                "cluster_takeovers_total",
                "Rooms taken over from a dead node",
            )?,
            losses: IntCounterVec::new(
                Opts::new(
                    "cluster_losses_total",
                    "Losses of cross-node state detected, by reason",
                ),
                &["reason"],
            )?,
        };
        registry.register(Box::new(metrics.node_info.clone()))?;
        registry.register(Box::new(metrics.redis_connected.clone()))?;
        registry.register(Box::new(metrics.forwarded_sent.clone()))?;
        registry.register(Box::new(metrics.forwarded_received.clone()))?;
        registry.register(Box::new(metrics.claims.clone()))?;
        registry.register(Box::new(metrics.takeovers.clone()))?;
        registry.register(Box::new(metrics.losses.clone()))?;
        Ok(metrics)
    }
}
