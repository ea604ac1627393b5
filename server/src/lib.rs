//! visavis server: serves the app, introduces two peers over `/ws`, and hands out ICE settings.
//! Media and chat never pass through it.

pub mod cluster;
pub mod config;
pub mod hub;
pub mod ice;
pub mod limits;
pub mod metrics;
pub mod outbound;
pub mod precompressed;
pub mod relay_frame;
pub mod rooms;
pub mod routes;
pub mod seat_secret;
pub mod seat_token;
pub mod security;
pub mod startup;
pub mod telemetry;
pub mod tls;
pub mod turn;
pub mod ws;
