//! The Leptos components. They render the view model and forward clicks to the controller;
//! they never reach into the peer connection, the socket or the media.

mod app;
mod call_controls;
mod call_screen;
mod call_view;
mod chat_panel;
mod check_page;
mod file_panel;
mod icons;
mod network;
mod prejoin;
mod room_form;
mod settings_dialog;
mod stats_panel;
mod status_line;
mod video_tile;

pub use app::App;
