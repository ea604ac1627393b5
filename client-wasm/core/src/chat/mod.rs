//! Chat: the framing of messages on the `chat` data channel and the log the page shows, safe
//! links in messages, the unread count, and the outbox of messages not acknowledged yet.

pub mod links;
pub mod log;
pub mod outbox;
pub mod unread;

pub use self::log::*;
pub use links::*;
pub use outbox::*;
pub use unread::*;
