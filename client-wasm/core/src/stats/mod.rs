//! Call statistics as data: the `getStats()` entries and the media path they show, the live
//! figures computed from two readings, the history kept for the plots, and (in [`view`]) the
//! words and plot shapes of the statistics panel.

pub mod history;
pub mod live;
pub mod report;
pub mod view;

pub use history::*;
pub use live::*;
pub use report::*;
