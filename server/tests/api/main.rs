//! Integration tests of the visavis server: each test starts its own server in-process on a free
//! port and talks to it as browsers do, over real WebSocket and HTTP connections.
//!
//! All modules share one test binary, so the server is compiled and linked once.

mod abuse;
mod bad_input;
mod config_message;
mod heartbeat;
mod helpers;
mod http;
mod leaving;
mod limits;
mod manifest;
mod metrics;
mod rate_limits;
mod reconnect;
mod relay;
mod rooms;
mod scale;
mod security;
mod sharding;
mod slow_reader;
mod static_files;
mod turn_config;
