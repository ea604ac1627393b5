//! Cameras, microphones and speakers: the pickers' lists, which device to use (the saved
//! choice, the default, a replacement when one goes away), the preview's state and problems,
//! the microphone level, and where the local picture comes from.

pub mod choice;
pub mod level;
pub mod source;

pub use choice::*;
pub use level::*;
pub use source::*;
