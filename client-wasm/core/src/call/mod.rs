//! The call's rules: its states and their transitions, the status line's words, the
//! perfect-negotiation rules, the Opus parameters munged into remote descriptions, the
//! remote-candidate buffer, and what keeps a call through an
//! outage (the reconnect backoff, the recovery rules, the seat kept for a reload).

pub mod backoff;
pub mod candidates;
pub mod negotiation;
pub mod opus;
pub mod recovery;
pub mod role;
pub mod seat;
pub mod state;
pub mod status;

pub use backoff::*;
pub use candidates::*;
pub use negotiation::*;
pub use opus::*;
pub use recovery::*;
pub use role::*;
pub use seat::*;
pub use state::*;
pub use status::*;
