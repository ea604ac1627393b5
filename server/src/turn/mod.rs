//! TURN support: short-lived credentials for any TURN server that speaks the
//! "TURN REST API" scheme (coturn's `use-auth-secret`), and an optional
//! built-in relay that checks the same credentials.

pub mod credentials;
pub mod relay;

pub use credentials::TurnCredentials;
pub use relay::{RelayConfig, TurnRelay};
