//! Cluster mode (`--redis-url`) end to end: real visavis processes sharing rooms through a
//! real Redis that each test starts on its own port, and real WebSocket clients speaking the
//! protocol as browsers do, with the two people of a room on different nodes.

mod balancer;
mod failover;
mod harness;
// The WebSocket client of the single-node tests, shared; some of its helpers serve only them.
#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
mod lab;
mod races;
mod redis_outage;
mod turn_relays;
