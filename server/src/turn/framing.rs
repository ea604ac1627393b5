//! Framing TURN over a byte stream (TCP or TLS), as RFC 8656 §12.5 asks: each STUN message
//! or ChannelData message follows the previous one, found by its own length field, and
//! ChannelData is padded to a multiple of four bytes.
//!
//! Only the 4-byte header is looked at here, to know how many bytes belong to the frame; the
//! message itself is parsed by the `stun` / `turn` crates.

use std::fmt;

use tokio::io::{AsyncRead, AsyncReadExt};
use turn::proto::channum::MIN_CHANNEL_NUMBER;

/// The largest frame accepted from a client, in bytes. The `turn` server reads datagrams into
/// a 1500-byte buffer, so anything longer could not be handled whole anyway; browsers send
/// media in packets well below it.
pub const MAX_FRAME_BYTES: usize = 1500;

/// Bytes of a STUN message header (type, length, magic cookie, transaction id).
const STUN_HEADER_BYTES: usize = stun::message::MESSAGE_HEADER_SIZE;

/// The channel numbers RFC 8656 §12 lets clients bind (0x5000–0xFFFF are reserved; the
/// `turn` crate still accepts up to 0x7FFF). The narrower range refuses more garbage at the
/// first four bytes.
const CHANNEL_NUMBERS: std::ops::RangeInclusive<u16> = MIN_CHANNEL_NUMBER..=0x4FFF;

/// Bytes of a ChannelData header (channel number, length).
const CHANNEL_DATA_HEADER_BYTES: usize = 4;

/// Why a stream stopped yielding frames. Carries nothing from the client, so it can be logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// The stream ended (cleanly between frames, or in the middle of one).
    Closed,
    /// The bytes are neither a STUN message nor ChannelData.
    Garbage,
    /// A frame longer than [`MAX_FRAME_BYTES`].
    TooLarge,
}

impl FrameError {
    /// A short label for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            FrameError::Closed => "closed",
            FrameError::Garbage => "garbage",
            FrameError::TooLarge => "too_large",
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a frame header announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLength {
    /// Bytes of the message itself, header included: what the `turn` server gets.
    pub message: usize,
    /// Bytes on the wire: the message plus padding.
    pub on_wire: usize,
    /// A STUN message (else ChannelData).
    pub stun: bool,
}

/// Works out the frame length from its first four bytes.
pub fn frame_length(header: [u8; 4]) -> Result<FrameLength, FrameError> {
    let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let stun = header[0] & 0xC0 == 0;
    let (message, on_wire) = if stun {
        // STUN: the two top bits are zero, and the length (attributes only) is always a
        // multiple of four, so there is no padding.
        if length % 4 != 0 {
            return Err(FrameError::Garbage);
        }
        (STUN_HEADER_BYTES + length, STUN_HEADER_BYTES + length)
    } else if CHANNEL_NUMBERS.contains(&u16::from_be_bytes([header[0], header[1]])) {
        let message = CHANNEL_DATA_HEADER_BYTES + length;
        (message, padded(message))
    } else {
        return Err(FrameError::Garbage);
    };
    if on_wire > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge);
    }
    Ok(FrameLength {
        message,
        on_wire,
        stun,
    })
}

/// `length` rounded up to a multiple of four.
pub fn padded(length: usize) -> usize {
    length.div_ceil(4) * 4
}

/// Reads one frame into `frame` (cleared first) and returns it without padding. A STUN frame
/// must carry the magic cookie, so a stream of random bytes fails fast.
///
/// `frame` never grows beyond [`MAX_FRAME_BYTES`], so a client holds no more of the server's
/// memory than that per connection, whatever it sends.
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    frame: &mut Vec<u8>,
) -> Result<(), FrameError> {
    let mut header = [0u8; 4];
    reader
        .read_exact(&mut header)
        .await
        .map_err(|_| FrameError::Closed)?;
    let length = frame_length(header)?;
    frame.clear();
    frame.resize(length.on_wire, 0);
    frame[..4].copy_from_slice(&header);
    reader
        .read_exact(&mut frame[4..])
        .await
        .map_err(|_| FrameError::Closed)?;
    frame.truncate(length.message);
    if length.stun && !stun::message::is_message(frame) {
        // A STUN-shaped header without the magic cookie.
        return Err(FrameError::Garbage);
    }
    Ok(())
}

/// A message as it must go onto a stream: ChannelData padded to four bytes (the `turn` crate
/// already pads what it encodes; this makes sure of it).
pub fn for_stream(message: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(padded(message.len()));
    frame.extend_from_slice(message);
    frame.resize(padded(message.len()), 0);
    frame
}

#[cfg(test)]
mod tests {
    use super::*;
    use stun::message::{Message, BINDING_REQUEST};

    fn binding_request() -> Vec<u8> {
        let mut message = Message::new();
        message
            .build(&[
                Box::new(stun::agent::TransactionId::new()),
                Box::new(BINDING_REQUEST),
            ])
            .expect("a binding request builds");
        message.raw
    }

    async fn read_all(bytes: &[u8]) -> Vec<Result<Vec<u8>, FrameError>> {
        let mut reader = bytes;
        let mut out = Vec::new();
        loop {
            let mut frame = Vec::new();
            match read_frame(&mut reader, &mut frame).await {
                Ok(()) => out.push(Ok(frame)),
                Err(err) => {
                    out.push(Err(err));
                    return out;
                }
            }
        }
    }

    #[tokio::test]
    async fn stun_and_padded_channel_data_follow_each_other() {
        let stun = binding_request();
        // Channel 0x4001, 5 bytes of data, 3 bytes of padding.
        let channel_data = [0x40, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5, 0, 0, 0];
        // Four bytes of data: no padding, and no magic cookie either.
        let aligned = [0x40, 0x02, 0x00, 0x04, 9, 8, 7, 6];
        let mut stream = stun.clone();
        stream.extend_from_slice(&channel_data);
        stream.extend_from_slice(&aligned);
        stream.extend_from_slice(&stun);
        let frames = read_all(&stream).await;
        assert_eq!(
            frames,
            vec![
                Ok(stun.clone()),
                Ok(channel_data[..9].to_vec()),
                Ok(aligned.to_vec()),
                Ok(stun),
                Err(FrameError::Closed)
            ]
        );
    }

    #[tokio::test]
    async fn random_bytes_and_oversized_frames_are_refused() {
        assert_eq!(
            read_all(b"\xff\xfe random bytes").await,
            vec![Err(FrameError::Garbage)]
        );
        // Text starting with `@`..`O` looks like ChannelData, of an impossible length.
        assert_eq!(
            read_all(b"GET / HTTP/1.1\r\n\r\n").await,
            vec![Err(FrameError::TooLarge)]
        );
        // STUN-shaped, but without the magic cookie.
        let mut no_cookie = binding_request();
        no_cookie[4] ^= 0xff;
        assert_eq!(read_all(&no_cookie).await, vec![Err(FrameError::Garbage)]);
        // ChannelData announcing 2000 bytes.
        assert_eq!(
            read_all(&[0x40, 0x00, 0x07, 0xd0]).await,
            vec![Err(FrameError::TooLarge)]
        );
        // A reserved channel number.
        assert_eq!(
            frame_length([0x50, 0x00, 0x00, 0x04]),
            Err(FrameError::Garbage)
        );
        // A STUN length that is not a multiple of four.
        assert_eq!(
            frame_length([0x00, 0x01, 0x00, 0x05]),
            Err(FrameError::Garbage)
        );
    }

    #[tokio::test]
    async fn a_frame_cut_short_is_a_closed_stream() {
        let stun = binding_request();
        assert_eq!(
            read_all(&stun[..stun.len() - 1]).await,
            vec![Err(FrameError::Closed)]
        );
    }

    #[test]
    fn frames_for_a_stream_are_padded() {
        assert_eq!(
            for_stream(&[0x40, 0, 0, 1, 9]),
            vec![0x40, 0, 0, 1, 9, 0, 0, 0]
        );
        assert_eq!(for_stream(&[1, 2, 3, 4]), vec![1, 2, 3, 4]);
        assert_eq!(padded(0), 0);
        assert_eq!(padded(5), 8);
    }
}
