//! Connectivity diagnosis: what the gathered ICE candidates and the reported STUN/TURN errors
//! mean for a call ([`ice`]) and for the rows of the `/check` page ([`check`]), and which
//! transports reach the relay ([`transports`]).

pub mod check;
pub mod ice;
pub mod transports;

pub use check::*;
pub use ice::*;
pub use transports::{Reach, TransportCheck};
