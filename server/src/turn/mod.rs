//! TURN support: short-lived credentials for any TURN server that speaks the
//! "TURN REST API" scheme (coturn's `use-auth-secret`), and an optional
//! built-in relay that checks the same credentials, over UDP, TCP and TLS.

pub mod admission;
pub mod allocations;
pub mod auth;
pub mod credentials;
pub mod framing;
pub mod metrics;
pub mod peer_policy;
pub mod relay;
pub mod stream;
pub mod stream_client;

pub use admission::ConnectionLimits;
pub use credentials::TurnCredentials;
pub use metrics::{Transport, TurnMetrics};
pub use relay::{RelayConfig, TlsListen, TurnRelay};
pub use stream::StreamTimeouts;
