//! File transfer's plain half: the `file` channel's wire format and limits, the bookkeeping and
//! checking of one transfer in each direction, and the rows the file panel shows.

pub mod transfer;
pub mod view;
pub mod wire;

pub use transfer::*;
pub use view::*;
pub use wire::*;
