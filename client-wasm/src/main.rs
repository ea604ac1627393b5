//! The visavis browser client: a Leptos (client-side rendered) app, compiled to WebAssembly,
//! for two-person video calls. See `controller/mod.rs` for how the parts fit together, and
//! `visavis_client_core` for the plain logic they follow.

mod browser;
mod check;
mod components;
mod controller;
mod files;
mod media;
mod model;
mod peer;
mod signaling;

fn main() {
    // A panic would otherwise show only "unreachable" in the console.
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(components::App);
}
