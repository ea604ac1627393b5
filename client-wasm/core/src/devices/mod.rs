//! Cameras, microphones and speakers: the pickers' lists, which device to use (the saved
//! choice, the default, a replacement when one goes away), the preview's state and problems,
//! the microphone level and its sound processing (speech filters, music mode), where the local
//! picture comes from, and which way a camera faces (mirroring, the front/back flip).

pub mod audio;
pub mod choice;
pub mod facing;
pub mod level;
pub mod source;

pub use audio::*;
pub use choice::*;
pub use facing::*;
pub use level::*;
pub use source::*;
