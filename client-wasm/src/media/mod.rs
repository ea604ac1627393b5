//! Local media in the browser: opening cameras, microphones and screens and stopping their
//! tracks ([`capture`]), listing devices and keeping the chosen ones ([`device_access`]), which
//! way a camera faces ([`facing`]), the microphone's sound processing ([`audio_processing`]) and
//! its level meter ([`level_meter`]). No DOM elements; which device to use is decided in
//! `visavis_client_core::devices`.

pub mod audio_processing;
pub mod capture;
pub mod device_access;
pub mod facing;
pub mod level_meter;

pub use capture::*;
