//! The cluster's Redis side: the connection, the claim, the outbox (numbered publishes), the
//! inbox subscription and the once-a-second renewal. Every call is bounded by
//! [`REDIS_TIMEOUT`]; nothing here waits on Redis forever, and nothing panics on its answers.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;
use tokio::sync::mpsc;
use tokio::time::timeout;
use visavis_shared::RoomName;

use super::engine::Engine;
use super::envelope::{inbox_channel, node_key, room_key, Body, Envelope, NodeId};
use super::ownership::{
    millis, Claim, Renewal, CLAIM_SCRIPT, NODE_KEY_PREFIX, NODE_TTL, RENEW_INTERVAL, RENEW_SCRIPT,
    ROOM_TTL,
};
use super::sequence::Numbering;
use super::{ClusterHandle, ClusterMetrics, Event, Inner, Unavailable, OUTBOX_CAPACITY};
use crate::hub::HubHandle;

/// The most any one Redis call may take.
pub const REDIS_TIMEOUT: Duration = Duration::from_secs(1);

/// How long to wait before subscribing again after the inbox broke.
const RESUBSCRIBE_DELAY: Duration = Duration::from_millis(300);

/// The most messages published in one pipeline.
const PUBLISH_BATCH: usize = 256;

/// The most room keys renewed in one script call.
const RENEW_BATCH: usize = 500;

static CLAIM: LazyLock<Script> = LazyLock::new(|| Script::new(CLAIM_SCRIPT));
static RENEW: LazyLock<Script> = LazyLock::new(|| Script::new(RENEW_SCRIPT));

/// Builds the cluster on a thread of its own (see `ClusterHandle::start`).
pub(super) fn start(
    url: &str,
    node: NodeId,
    hub: HubHandle,
    metrics: ClusterMetrics,
) -> anyhow::Result<ClusterHandle> {
    let client = redis::Client::open(url)
        .map_err(|err| anyhow::anyhow!("--redis-url is not a Redis URL: {err}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(REDIS_TIMEOUT))
        .set_response_timeout(Some(REDIS_TIMEOUT))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(500));
    let redis = {
        // The manager spawns its connection task on the runtime it is created in.
        let _entered = runtime.enter();
        ConnectionManager::new_lazy_with_config(client.clone(), config)?
    };
    let (outbox, outgoing) = mpsc::channel(OUTBOX_CAPACITY);
    let (events, incoming) = mpsc::unbounded_channel();
    metrics.node_info.with_label_values(&[node.as_str()]).set(1);
    metrics.redis_connected.set(0);
    let inner = Arc::new(Inner {
        node,
        epoch: rand::random(),
        runtime: runtime.handle().clone(),
        redis,
        connected: AtomicBool::new(false),
        healthy_ticks: AtomicU32::new(0),
        subscribed: AtomicBool::new(false),
        outbox,
        events,
        held: Mutex::new(Default::default()),
        metrics,
    });
    runtime.spawn(Engine::new(inner.clone(), hub.clone()).run(incoming));
    runtime.spawn(publish(inner.clone(), outgoing));
    runtime.spawn(subscribe(inner.clone(), client));
    runtime.spawn(renew(inner.clone(), hub));
    std::thread::Builder::new()
        .name("visavis-cluster".into())
        .spawn(move || runtime.block_on(std::future::pending::<()>()))?;
    tracing::info!(node = %inner.node, "cluster mode: rooms are shared through redis");
    Ok(ClusterHandle { inner })
}

/// Claims `room` (see `ownership.rs`). `Ok(None)`: this node owns it now.
pub(super) async fn claim(inner: &Inner, room: &RoomName) -> Result<Option<NodeId>, Unavailable> {
    let failed = || {
        inner.metrics.claims.with_label_values(&["failed"]).inc();
        Err(Unavailable)
    };
    if !inner.connected.load(Ordering::Relaxed) {
        return failed();
    }
    let mut redis = inner.redis.clone();
    let reply = timeout(
        REDIS_TIMEOUT,
        CLAIM
            .key(room_key(room))
            .arg(inner.node.as_str())
            .arg(millis(ROOM_TTL))
            .arg(NODE_KEY_PREFIX)
            .invoke_async::<(i64, String)>(&mut redis),
    )
    .await;
    let Some(claim) = (match reply {
        Ok(Ok((code, owner))) => Claim::from_reply(code, owner),
        _ => None,
    }) else {
        return failed();
    };
    inner
        .metrics
        .claims
        .with_label_values(&[claim.as_str()])
        .inc();
    if let Claim::TakenOver(dead) = &claim {
        tracing::info!(%room, from = %dead, "room taken over from a dead node");
        inner.metrics.takeovers.inc();
    }
    Ok(claim.owner().cloned())
}

/// Publishes queued messages in order, numbered per receiver, a pipeline at a time. A
/// receiver nobody listens for, or a failed pipeline, is a loss.
async fn publish(inner: Arc<Inner>, mut outgoing: mpsc::Receiver<(NodeId, Body)>) {
    let mut numbering = Numbering::default();
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    while outgoing.recv_many(&mut batch, PUBLISH_BATCH).await > 0 {
        let mut pipe = redis::pipe();
        let mut receivers = Vec::with_capacity(batch.len());
        for (to, body) in batch.drain(..) {
            let envelope = Envelope {
                from: inner.node.clone(),
                epoch: inner.epoch,
                seq: numbering.next(&to),
                body,
            };
            pipe.cmd("PUBLISH")
                .arg(inbox_channel(&to))
                .arg(envelope.encode());
            receivers.push(to);
        }
        let mut redis = inner.redis.clone();
        let mut lost: HashSet<(NodeId, &'static str)> = HashSet::new();
        match timeout(REDIS_TIMEOUT, pipe.query_async::<Vec<i64>>(&mut redis)).await {
            Ok(Ok(listeners)) if listeners.len() == receivers.len() => {
                inner.metrics.forwarded_sent.inc_by(receivers.len() as u64);
                for (to, listeners) in receivers.into_iter().zip(listeners) {
                    if listeners == 0 {
                        lost.insert((to, "node_gone"));
                    }
                }
            }
            _ => {
                inner.set_connected(false);
                lost.extend(receivers.into_iter().map(|to| (to, "publish_failed")));
            }
        }
        for (node, reason) in lost {
            let _ = inner.events.send(Event::Loss(node, reason));
        }
    }
}

/// Keeps this node's inbox subscribed; hands each message to the engine. Every (re)start of
/// the subscription is a loss of everything shared, since messages may have been missed.
async fn subscribe(inner: Arc<Inner>, client: redis::Client) {
    let channel = inbox_channel(&inner.node);
    loop {
        if let Ok(Ok(mut pubsub)) = timeout(REDIS_TIMEOUT, client.get_async_pubsub()).await {
            if let Ok(Ok(())) = timeout(REDIS_TIMEOUT, pubsub.subscribe(&channel)).await {
                let _ = inner.events.send(Event::LossAll);
                inner.subscribed.store(true, Ordering::Relaxed);
                let mut messages = pubsub.into_on_message();
                while let Some(message) = messages.next().await {
                    inner.metrics.forwarded_received.inc();
                    match Envelope::decode(message.get_payload_bytes()) {
                        Some(envelope) => {
                            let _ = inner.events.send(Event::Envelope(envelope));
                        }
                        None => tracing::warn!("ignored a message that is not an envelope"),
                    }
                }
                inner.subscribed.store(false, Ordering::Relaxed);
                inner.set_connected(false);
                let _ = inner.events.send(Event::LossAll);
                tracing::warn!(node = %inner.node, "inbox subscription ended; subscribing again");
            }
        }
        tokio::time::sleep(RESUBSCRIBE_DELAY).await;
    }
}

/// Once a second: the liveness key, the keys of the rooms held here (a room another node owns
/// now is let go), and a check of the peers.
async fn renew(inner: Arc<Inner>, hub: HubHandle) {
    let mut tick = tokio::time::interval(RENEW_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let mut redis = inner.redis.clone();
        let heartbeat = timeout(
            REDIS_TIMEOUT,
            redis::cmd("SET")
                .arg(node_key(&inner.node))
                .arg(inner.epoch)
                .arg("PX")
                .arg(millis(NODE_TTL))
                .query_async::<()>(&mut redis),
        )
        .await;
        let alive = matches!(heartbeat, Ok(Ok(())));
        inner.set_connected(alive);
        if !alive {
            continue;
        }
        let rooms = hub.room_names().await;
        for chunk in rooms.chunks(RENEW_BATCH) {
            let mut invocation = RENEW.prepare_invoke();
            for room in chunk {
                invocation.key(room_key(room));
            }
            invocation.arg(inner.node.as_str()).arg(millis(ROOM_TTL));
            let Ok(Ok(codes)) = timeout(
                REDIS_TIMEOUT,
                invocation.invoke_async::<Vec<i64>>(&mut redis),
            )
            .await
            else {
                inner.set_connected(false);
                break;
            };
            for (room, code) in chunk.iter().zip(codes) {
                match Renewal::from_code(code) {
                    Renewal::Renewed => {}
                    Renewal::Reclaimed => {
                        inner.metrics.claims.with_label_values(&["reclaimed"]).inc();
                    }
                    Renewal::Lost => {
                        tracing::warn!(%room, "another node owns this room now; letting go");
                        inner
                            .metrics
                            .losses
                            .with_label_values(&["room_moved"])
                            .inc();
                        hub.evict(room.clone()).await;
                    }
                }
            }
        }
        let _ = inner.events.send(Event::CheckPeers);
    }
}
