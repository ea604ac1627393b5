//! Adapting the call to the network, pure: what one second of statistics says about the link
//! ([`sample`]), the ladder of video send levels ([`ladder`]), the rules that move along it
//! with hysteresis ([`rules`]), and the signal-strength score shown for each side ([`score`]).
//! The browser crate's stats loop feeds the rules once a second and applies the level with
//! `RTCRtpSender.setParameters`; nothing here touches the browser.

pub mod background;
pub mod ladder;
pub mod notice;
pub mod rules;
pub mod sample;
pub mod score;

pub use background::*;
pub use ladder::*;
pub use notice::*;
pub use rules::*;
pub use sample::*;
pub use score::*;
