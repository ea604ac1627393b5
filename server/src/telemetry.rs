//! Structured logging with `tracing`: readable text by default, JSON for log collectors.

use tracing_subscriber::EnvFilter;

/// The default filter. The TURN library logs client addresses, so it is silenced unless an
/// operator asks for it through `RUST_LOG`.
const DEFAULT_FILTER: &str = "info,turn=off,webrtc_util=off";

/// Installs the global subscriber. The level comes from `RUST_LOG` (default `info`). At `info`
/// the server logs event kinds, room names and connection ids, never SDP, candidates or IPs.
pub fn init(format: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    // try_init: a second call (as in tests) keeps the first subscriber instead of panicking.
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
