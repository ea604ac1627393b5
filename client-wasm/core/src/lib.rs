//! The visavis client's plain logic, by feature: everything the browser client decides that
//! needs no browser. This crate depends on no browser crate (no `web-sys`, `wasm-bindgen`,
//! `js-sys` or `leptos`), so these rules cannot touch the page by construction, and
//! `cargo test -p visavis-client-core` runs every one of them natively. Anything that needs a
//! clock or randomness takes it as a plain argument (a time in milliseconds, a random number or
//! random bytes) from the browser crate.

pub mod adapt;
pub mod call;
pub mod chat;
pub mod connectivity;
pub mod controls;
pub mod devices;
pub mod files;
pub mod link;
pub mod screen;
pub mod stats;
pub mod wake;
