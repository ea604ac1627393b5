//! Connectivity diagnosis: what the gathered ICE candidates and the reported STUN/TURN errors
//! mean for a call ([`ice`]) and for the rows of the `/check` page ([`check`]).

pub mod check;
pub mod ice;

pub use check::*;
pub use ice::*;
