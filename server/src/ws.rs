//! One task per WebSocket: reads frames, writes the hub's messages, and keeps a heartbeat.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_ws::{AggregatedMessage, CloseCode, CloseReason, Session};
use futures_util::StreamExt;
use tokio::time::{interval, MissedTickBehavior};
use visavis_shared::limits::MAX_FRAME_BYTES;
use visavis_shared::{decode_client_message, ErrorCode, ServerMessage};

use crate::hub::HubHandle;

/// How often the server pings each browser.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(3);

/// How long a socket may stay silent (no pong, no frame) before it counts as lost. With the
/// interval above, a silent loss is noticed within 10–13 s, inside the promised 15 s.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a socket task ended; logged, and later counted.
#[derive(Debug, Clone, Copy)]
enum EndReason {
    Close,
    Heartbeat,
    ProtocolError,
    Dropped,
}

impl EndReason {
    fn as_str(self) -> &'static str {
        match self {
            EndReason::Close => "close",
            EndReason::Heartbeat => "heartbeat",
            EndReason::ProtocolError => "protocol_error",
            EndReason::Dropped => "dropped_by_server",
        }
    }
}

/// Everything a socket task needs besides its socket.
pub struct SocketContext {
    /// The hub that owns the rooms.
    pub hub: HubHandle,
    /// The `config` message sent to every new socket.
    pub welcome: Arc<ServerMessage>,
}

/// Runs one WebSocket until it ends, then tells the hub it is gone.
pub async fn run_socket(
    mut session: Session,
    stream: actix_ws::MessageStream,
    context: SocketContext,
) {
    let Some(mut connection) = context.hub.connect().await else {
        let _ = session.close(None).await;
        return;
    };
    let conn = connection.id;
    tracing::info!(%conn, "socket opened");

    let mut frames = stream
        .max_frame_size(MAX_FRAME_BYTES)
        .aggregate_continuations()
        .max_continuation_size(MAX_FRAME_BYTES);
    let mut heartbeat = interval(HEARTBEAT_INTERVAL);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();

    let reason = if send(&mut session, &context.welcome).await.is_err() {
        EndReason::Close
    } else {
        loop {
            tokio::select! {
                frame = frames.next() => {
                    last_heard = Instant::now();
                    match frame {
                        Some(Ok(AggregatedMessage::Text(text))) => {
                            let reply = match decode_client_message(&text) {
                                Ok(message) => {
                                    context.hub.message(conn, message).await;
                                    None
                                }
                                Err(err) => {
                                    tracing::info!(%conn, code = err.code.as_str(), "rejected input");
                                    Some(ServerMessage::error(err.code, err.message))
                                }
                            };
                            if let Some(reply) = reply {
                                if send(&mut session, &reply).await.is_err() {
                                    break EndReason::Close;
                                }
                            }
                        }
                        Some(Ok(AggregatedMessage::Binary(_))) => {
                            tracing::info!(%conn, code = "binary_frame", "rejected input");
                            let reply = ServerMessage::error(ErrorCode::BinaryFrame, "binary frames are not part of the protocol; send JSON text");
                            if send(&mut session, &reply).await.is_err() {
                                break EndReason::Close;
                            }
                        }
                        Some(Ok(AggregatedMessage::Ping(bytes))) => {
                            if session.pong(&bytes).await.is_err() {
                                break EndReason::Close;
                            }
                        }
                        Some(Ok(AggregatedMessage::Pong(_))) => {}
                        Some(Ok(AggregatedMessage::Close(_))) | None => break EndReason::Close,
                        // An oversized frame or broken framing: this socket only is closed.
                        Some(Err(err)) => {
                            tracing::info!(%conn, error = %err, "protocol error");
                            break EndReason::ProtocolError;
                        }
                    }
                }
                outbound = connection.outbound.recv() => {
                    match outbound {
                        Some(message) => {
                            if send(&mut session, &message).await.is_err() {
                                break EndReason::Close;
                            }
                        }
                        None => break EndReason::Dropped,
                    }
                }
                _ = heartbeat.tick() => {
                    if last_heard.elapsed() > CLIENT_TIMEOUT {
                        break EndReason::Heartbeat;
                    }
                    if session.ping(b"").await.is_err() {
                        break EndReason::Close;
                    }
                }
            }
        }
    };

    tracing::info!(%conn, reason = reason.as_str(), "socket closed");
    context.hub.disconnect(conn).await;
    let close = match reason {
        EndReason::ProtocolError => Some(CloseReason {
            code: CloseCode::Size,
            description: Some("frame too large or malformed".into()),
        }),
        EndReason::Heartbeat => Some(CloseReason {
            code: CloseCode::Away,
            description: Some("heartbeat timeout".into()),
        }),
        EndReason::Dropped => Some(CloseReason {
            code: CloseCode::Policy,
            description: Some("dropped by the server".into()),
        }),
        EndReason::Close => None,
    };
    let _ = session.close(close).await;
}

async fn send(session: &mut Session, message: &ServerMessage) -> Result<(), actix_ws::Closed> {
    session.text(message.to_json()).await
}
