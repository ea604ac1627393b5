//! The visavis signaling protocol: the messages browsers and the server exchange over `/ws`.
//!
//! This crate is shared by the server and the WASM client so that both sides agree on the wire format
//! by construction. It has no I/O: only types, validation and (de)serialisation.

pub mod decode;
pub mod limits;
pub mod message;
pub mod room;

pub use decode::{decode_client_message, DecodeError};
pub use message::{
    ClientMessage, ErrorCode, IceCandidate, IceServer, MediaPath, RelayTransport, ServerMessage,
};
pub use room::{RoomName, RoomNameError};
