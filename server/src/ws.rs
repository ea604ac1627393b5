//! One task per WebSocket: reads frames, writes the hub's messages, and keeps a heartbeat.
//! It also applies the per-connection limits, since it is where frames arrive.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_ws::{AggregatedMessage, CloseCode, CloseReason, ProtocolError};
use futures_util::StreamExt;
use tokio::time::{interval, timeout, MissedTickBehavior};
use visavis_shared::limits::MAX_FRAME_BYTES;
use visavis_shared::{decode_client_message, ClientMessage, ErrorCode, MediaPath, ServerMessage};

use crate::hub::{Connection, HubHandle, Link, QueueError};
use crate::ice::IceConfig;
use crate::limits::{IpLimits, MessageLimiter, Slot, Verdict};
use crate::metrics::Metrics;
use crate::outbound::{Frame, Outbound};
use crate::relay_frame::forwardable;

/// How often the server pings each browser.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(3);

/// How long a socket may stay silent (no pong, no frame) before it counts as lost. With the
/// interval above, a silent loss is noticed within 10–13 s, inside the promised 15 s.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one write to the socket may take. A client that does not read for this long is
/// dropped rather than holding its task and buffers forever.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// A timer duration that never fires in practice (a year), for connections without TURN.
const NEVER: Duration = Duration::from_secs(365 * 24 * 3600);

/// Why a socket task ended; logged and counted, and it decides whether the seat is freed at
/// once (a clean end) or held for the grace period (anything that may be an accident).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EndReason {
    /// A close frame with code 1000 or without a code: the person left.
    Close,
    /// A close frame with another code, e.g. 1001 "going away", which browsers send when the
    /// page reloads or navigates.
    CloseAway,
    /// The TCP connection ended (or a write failed) without a close frame.
    Lost,
    Heartbeat,
    ProtocolError,
    RateLimit,
    SlowConsumer,
    /// The hub let go of this connection (it already counted why and updated the seat).
    Dropped,
}

impl EndReason {
    fn as_str(self) -> &'static str {
        match self {
            EndReason::Close => "close",
            EndReason::CloseAway => "close_away",
            EndReason::Heartbeat => "heartbeat",
            EndReason::ProtocolError => "protocol_error",
            EndReason::Lost => "lost",
            EndReason::RateLimit => "rate_limit",
            EndReason::SlowConsumer => "slow_consumer",
            EndReason::Dropped => "dropped",
        }
    }

    /// Whether the seat is freed at once. Closes the server makes for abuse are clean: a
    /// misbehaving client gets no grace period.
    fn is_clean(self) -> bool {
        match self {
            EndReason::Close | EndReason::ProtocolError | EndReason::RateLimit => true,
            // Dropped: the hub already decided; holding is the safe answer if it did not.
            EndReason::CloseAway
            | EndReason::Lost
            | EndReason::Heartbeat
            | EndReason::SlowConsumer
            | EndReason::Dropped => false,
        }
    }

    fn close_reason(self) -> Option<CloseReason> {
        let (code, description) = match self {
            EndReason::Close | EndReason::CloseAway | EndReason::Lost => return None,
            EndReason::ProtocolError => (CloseCode::Size, "frame too large or malformed"),
            EndReason::Heartbeat => (CloseCode::Away, "heartbeat timeout"),
            EndReason::RateLimit => (CloseCode::Policy, "too many messages"),
            EndReason::SlowConsumer => (CloseCode::Policy, "not reading"),
            EndReason::Dropped => (CloseCode::Policy, "not reading, or replaced by a rejoin"),
        };
        Some(CloseReason {
            code,
            description: Some(description.into()),
        })
    }
}

/// How a close frame from the browser ends the socket: 1000 or no code is a goodbye, anything
/// else (1001 on reload, 4xxx from an app) may be followed by a rejoin.
fn close_frame_reason(reason: Option<&CloseReason>) -> EndReason {
    match reason {
        None => EndReason::Close,
        Some(reason) if reason.code == CloseCode::Normal => EndReason::Close,
        Some(_) => EndReason::CloseAway,
    }
}

/// Everything a socket task needs besides its socket.
pub struct SocketContext {
    /// The hub that owns the rooms.
    pub hub: HubHandle,
    /// The ICE servers, minted per connection into its `config` messages.
    pub ice: Arc<IceConfig>,
    /// Counters and gauges.
    pub metrics: Arc<Metrics>,
    /// Per-IP budgets, for joins.
    pub ip_limits: Arc<IpLimits>,
    /// The client's address, for the per-IP limits. Logged at debug level only, if at all.
    pub client_ip: Option<IpAddr>,
    /// Whether the client's address may be logged (at debug level).
    pub log_ips: bool,
    /// This connection's message budget.
    pub limiter: MessageLimiter,
    /// This connection's place under the global cap, held until the task ends.
    pub slot: Slot,
}

/// What the frame handler wants the loop to do next.
enum Next {
    Continue,
    End(EndReason),
}

/// Runs one WebSocket until it ends, then tells the hub it is gone. Frames are read from
/// `stream` and written by queueing them into `outbound`, whose body the HTTP dispatcher
/// writes.
pub async fn run_socket(
    outbound: Outbound,
    stream: actix_ws::MessageStream,
    mut context: SocketContext,
) {
    let Some(mut connection) = context.hub.connect(outbound.clone()) else {
        let _ = timeout(SEND_TIMEOUT, outbound.send(Frame::Close(None))).await;
        return;
    };
    // The link holds the only other sender: the body ends once the link is gone.
    drop(outbound);
    let link = connection.link.clone();
    let conn = connection.id;
    context.metrics.connections.inc();
    if context.log_ips {
        tracing::debug!(%conn, ip = ?context.client_ip, "socket opened");
    }
    tracing::info!(%conn, "socket opened");

    let mut frames = stream
        .max_frame_size(MAX_FRAME_BYTES)
        .aggregate_continuations()
        .max_continuation_size(MAX_FRAME_BYTES);
    let mut heartbeat = interval(HEARTBEAT_INTERVAL);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();

    // The first `config` carries fresh TURN credentials; a new one follows before they expire,
    // so calls longer than the credential lifetime keep a working relay.
    let (welcome, refresh_in) = context.ice.config_message();
    let refresh_timer = tokio::time::sleep(refresh_in.unwrap_or(NEVER));
    tokio::pin!(refresh_timer);
    let reason = match send(&link, &welcome).await {
        Err(reason) => reason,
        Ok(()) => loop {
            let next = tokio::select! {
                frame = frames.next() => {
                    last_heard = Instant::now();
                    match frame {
                        Some(Ok(message)) => handle_frame(&mut connection, message, &mut context).await,
                        // The connection ended (FIN) without a close frame.
                        None => Next::End(EndReason::Lost),
                        // The connection broke under us (RST).
                        Some(Err(ProtocolError::Io(err))) if err.kind() != std::io::ErrorKind::InvalidData => {
                            Next::End(EndReason::Lost)
                        }
                        // An oversized frame or broken framing: this socket only is closed.
                        Some(Err(err)) => {
                            tracing::info!(%conn, error = %err, "protocol error");
                            Next::End(EndReason::ProtocolError)
                        }
                    }
                }
                _ = link.dropped() => Next::End(EndReason::Dropped),
                _ = &mut refresh_timer, if context.ice.has_turn() => {
                    let (fresh, refresh_in) = context.ice.config_message();
                    refresh_timer.as_mut().reset(tokio::time::Instant::now() + refresh_in.unwrap_or(NEVER));
                    match send(&link, &fresh).await {
                        Ok(()) => Next::Continue,
                        Err(reason) => Next::End(reason),
                    }
                }
                _ = heartbeat.tick() => {
                    if last_heard.elapsed() > CLIENT_TIMEOUT {
                        Next::End(EndReason::Heartbeat)
                    } else {
                        match write(&link, Frame::Ping).await {
                            Ok(()) => Next::Continue,
                            Err(reason) => Next::End(reason),
                        }
                    }
                }
            };
            if let Next::End(reason) = next {
                break reason;
            }
        },
    };

    tracing::info!(%conn, reason = reason.as_str(), "socket closed");
    if reason != EndReason::Dropped {
        context
            .metrics
            .disconnects
            .with_label_values(&[reason.as_str()])
            .inc();
    }
    context.metrics.connections.dec();
    if reason.is_clean() {
        connection.disconnect().await;
    } else {
        connection.lost().await;
    }
    // Even the close frame is bounded: a peer that does not read must not hold this task.
    let _ = write(&link, Frame::Close(reason.close_reason())).await;
}

/// Handles one frame from the browser.
async fn handle_frame(
    connection: &mut Connection,
    frame: AggregatedMessage,
    context: &mut SocketContext,
) -> Next {
    let text = match frame {
        AggregatedMessage::Text(text) => Some(text),
        AggregatedMessage::Binary(_) => None,
        AggregatedMessage::Ping(bytes) => {
            // Bounded like every write: a client that pings but never reads must not block here.
            return match write(&connection.link, Frame::Pong(bytes)).await {
                Ok(()) => Next::Continue,
                Err(reason) => Next::End(reason),
            };
        }
        AggregatedMessage::Pong(_) => return Next::Continue,
        AggregatedMessage::Close(reason) => return Next::End(close_frame_reason(reason.as_ref())),
    };
    let conn = connection.id;
    let reply = match context.limiter.check() {
        Verdict::Close => return Next::End(EndReason::RateLimit),
        Verdict::Refuse => Some(ServerMessage::error(
            ErrorCode::RateLimited,
            "too many messages; slow down",
        )),
        Verdict::Allow => match text {
            None => Some(ServerMessage::error(
                ErrorCode::BinaryFrame,
                "binary frames are not part of the protocol; send JSON text",
            )),
            // The common case, a relayed message: validated, then forwarded as it came.
            Some(text) => match forwardable(&text) {
                Some(kind) => {
                    connection.forward(kind, text).await;
                    None
                }
                None => match decode_client_message(&text) {
                    Err(err) => Some(ServerMessage::error(err.code, err.message)),
                    Ok(message) => dispatch(connection, message, context).await,
                },
            },
        },
    };
    match reply {
        Some(reply) => {
            if let ServerMessage::Error { code, .. } = &reply {
                tracing::info!(%conn, code = code.as_str(), "rejected input");
                context
                    .metrics
                    .rejected
                    .with_label_values(&[code.as_str()])
                    .inc();
            }
            match send(&connection.link, &reply).await {
                Ok(()) => Next::Continue,
                Err(reason) => Next::End(reason),
            }
        }
        None => Next::Continue,
    }
}

/// Passes a valid message on, or answers it here when it needs no room state.
async fn dispatch(
    connection: &mut Connection,
    message: ClientMessage,
    context: &SocketContext,
) -> Option<ServerMessage> {
    match message {
        ClientMessage::Report {
            setup_ms,
            path,
            relay_transport,
        } => {
            context
                .metrics
                .call_setup_seconds
                .observe(f64::from(setup_ms) / 1000.0);
            context
                .metrics
                .media_paths
                .with_label_values(&[path.as_str()])
                .inc();
            if let (MediaPath::Relay, Some(transport)) = (path, relay_transport) {
                context
                    .metrics
                    .relay_transports
                    .with_label_values(&[transport.as_str()])
                    .inc();
            }
            None
        }
        ClientMessage::Join { .. } if !context.ip_limits.allow_join(context.client_ip) => {
            context.metrics.joins.with_label_values(&["rejected"]).inc();
            Some(ServerMessage::error(
                ErrorCode::RateLimited,
                "too many joins from your address; wait a minute",
            ))
        }
        message => {
            connection.message(message).await;
            None
        }
    }
}

/// Writes one message, giving up on a client that does not read.
async fn send(link: &Link, message: &ServerMessage) -> Result<(), EndReason> {
    write(link, Frame::Text(message.to_json().into())).await
}

/// Queues one frame, giving up on a client that does not read.
async fn write(link: &Link, frame: Frame) -> Result<(), EndReason> {
    match timeout(SEND_TIMEOUT, link.send(frame)).await {
        Ok(Ok(())) => Ok(()),
        // The connection is gone: we did not close it, and no close frame came.
        Ok(Err(QueueError::Closed | QueueError::Full)) => Err(EndReason::Lost),
        Err(_elapsed) => Err(EndReason::SlowConsumer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(code: CloseCode) -> CloseReason {
        CloseReason {
            code,
            description: None,
        }
    }

    #[test]
    fn only_a_normal_or_codeless_close_frame_is_a_goodbye() {
        assert_eq!(close_frame_reason(None), EndReason::Close);
        assert_eq!(
            close_frame_reason(Some(&frame(CloseCode::Normal))),
            EndReason::Close
        );
        for code in [CloseCode::Away, CloseCode::Error, CloseCode::Other(4000)] {
            assert_eq!(
                close_frame_reason(Some(&frame(code))),
                EndReason::CloseAway,
                "{code:?}"
            );
        }
    }

    #[test]
    fn accidents_hold_the_seat_and_abuse_does_not() {
        for reason in [
            EndReason::Close,
            EndReason::ProtocolError,
            EndReason::RateLimit,
        ] {
            assert!(reason.is_clean(), "{reason:?}");
        }
        for reason in [
            EndReason::CloseAway,
            EndReason::Lost,
            EndReason::Heartbeat,
            EndReason::SlowConsumer,
            EndReason::Dropped,
        ] {
            assert!(!reason.is_clean(), "{reason:?}");
        }
    }
}
