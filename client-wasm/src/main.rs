//! The visavis browser client: a Leptos (client-side rendered) app, compiled to WebAssembly,
//! for two-person video calls. See `controller.rs` for how the parts fit together.

mod backoff;
mod browser;
mod call;
mod candidates;
mod chat;
mod chat_links;
mod chat_unread;
mod check;
mod components;
mod controller;
mod controls;
mod datachannel;
mod device_access;
mod devices;
mod diagnosis;
mod file_channel;
mod file_transfer;
mod ice;
mod js_error;
mod level_meter;
mod link;
mod live_stats;
mod media;
mod model;
mod negotiation;
mod outbox;
mod seat;
mod signaling;
mod state;
mod stats;
mod stats_view;
mod transfers;

fn main() {
    // A panic would otherwise show only "unreachable" in the console.
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(components::App);
}
