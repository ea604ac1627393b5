//! The write side of a WebSocket: a response body that encodes frames straight from the
//! connection's bounded queue. The hub shards and the socket task both queue frames; the HTTP
//! dispatcher polls this body and writes whatever is queued in one go. So a relayed message
//! goes from its shard to the receiver's socket without waking the receiver's task, and a burst
//! of messages becomes one write.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_codec::Encoder;
use actix_http::ws::{Codec, Message};
use actix_web::web::{Bytes, BytesMut};
use actix_ws::CloseReason;
use bytestring::ByteString;
use futures_util::Stream;
use tokio::sync::mpsc;

/// How many frames may wait for one socket before it counts as a slow consumer. Signaling is
/// bursty (a few dozen candidates at call setup) but small, so this is generous.
pub const OUTBOUND_QUEUE_CAPACITY: usize = 256;

/// The most frames encoded into one write.
const FRAMES_PER_WRITE: usize = 64;

/// One frame to send.
#[derive(Debug)]
pub enum Frame {
    /// A text frame (every protocol message).
    Text(ByteString),
    /// A heartbeat ping with no payload.
    Ping,
    /// The answer to a ping from the browser.
    Pong(Bytes),
    /// The close frame; nothing is sent after it.
    Close(Option<CloseReason>),
}

/// The sending side of a socket's queue.
pub type Outbound = mpsc::Sender<Frame>;

/// A socket's queue: the sender for the shards and the socket task, and the body for the
/// handshake response.
pub fn channel() -> (Outbound, OutboundBody) {
    let (sender, frames) = mpsc::channel(OUTBOUND_QUEUE_CAPACITY);
    let body = OutboundBody {
        frames,
        codec: Codec::new(),
        buf: BytesMut::new(),
        closed: false,
    };
    (sender, body)
}

/// The response body of a WebSocket: queued frames, encoded.
pub struct OutboundBody {
    frames: mpsc::Receiver<Frame>,
    codec: Codec,
    buf: BytesMut,
    closed: bool,
}

impl Stream for OutboundBody {
    type Item = Result<Bytes, actix_web::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let mut ended = this.closed;
        let mut encoded = 0;
        while !ended && encoded < FRAMES_PER_WRITE {
            let frame = match this.frames.poll_recv(cx) {
                Poll::Ready(Some(frame)) => frame,
                // Every sender is gone: the socket task and the shards let go.
                Poll::Ready(None) => {
                    ended = true;
                    break;
                }
                Poll::Pending => break,
            };
            let message = match frame {
                Frame::Text(text) => Message::Text(text),
                Frame::Ping => Message::Ping(Bytes::new()),
                Frame::Pong(bytes) => Message::Pong(bytes),
                Frame::Close(reason) => {
                    ended = true;
                    Message::Close(reason)
                }
            };
            if let Err(err) = this.codec.encode(message, &mut this.buf) {
                return Poll::Ready(Some(Err(err.into())));
            }
            encoded += 1;
        }
        if encoded == FRAMES_PER_WRITE && !ended {
            // More may be queued: come back after this write.
            cx.waker().wake_by_ref();
        }
        this.closed = ended;
        if !this.buf.is_empty() {
            return Poll::Ready(Some(Ok(this.buf.split().freeze())));
        }
        if this.closed {
            return Poll::Ready(None);
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[tokio::test]
    async fn queued_frames_are_written_together_and_close_ends_the_body() {
        let (sender, mut body) = channel();
        sender.try_send(Frame::Text("one".into())).expect("room");
        sender.try_send(Frame::Text("two".into())).expect("room");
        sender.try_send(Frame::Ping).expect("room");
        let bytes = body.next().await.expect("a write").expect("encodes");
        // Two unmasked text frames (0x81, length, payload) and a ping (0x89, 0).
        assert_eq!(&bytes[..], b"\x81\x03one\x81\x03two\x89\x00");
        sender
            .try_send(Frame::Close(None))
            .expect("room for the close");
        sender.try_send(Frame::Text("late".into())).expect("room");
        let bytes = body.next().await.expect("a write").expect("encodes");
        assert_eq!(bytes[0], 0x88, "a close frame");
        assert!(body.next().await.is_none(), "nothing after the close");
    }

    #[tokio::test]
    async fn the_body_ends_when_every_sender_is_gone() {
        let (sender, mut body) = channel();
        drop(sender);
        assert!(body.next().await.is_none());
    }
}
