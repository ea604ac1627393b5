//! The peer connection and its data channels: the `RTCPeerConnection` of a call with its
//! tracks and handlers ([`call`]), the asynchronous negotiation steps ([`negotiator`]), the
//! `chat` and `file` data channels, and the ICE plumbing shared with the check page ([`ice`]).
//! No DOM access; the rules they follow live in `visavis_client_core::call`.

pub mod call;
pub mod chat_channel;
pub mod file_channel;
pub mod ice;
pub mod negotiator;
pub mod send_params;

pub use call::{Call, PeerEvent};
pub use negotiator::{replace_track, LocalDescription, Negotiator};
