//! The chat messages we sent that the other side has not acknowledged yet. Pure Rust,
//! unit-tested natively.
//!
//! A message stays here from the moment it is typed until its `chat_ack` arrives, and is sent
//! again, in order, each time the chat channel opens. The receiver drops duplicates by id, so
//! every message is shown exactly once, however the outage went: typed while the channel was
//! down, sent into a connection that died, or sent to a page that then got a new connection.

/// The most messages kept waiting; beyond this the oldest is dropped (and stays marked as
/// not delivered on the page).
pub const MAX_WAITING: usize = 500;

/// One message waiting for its acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// The message id.
    pub id: String,
    /// The frame, ready to send.
    pub frame: String,
}

/// The unacknowledged messages, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outbox {
    waiting: Vec<Waiting>,
}

impl Outbox {
    /// An empty outbox.
    pub fn new() -> Outbox {
        Outbox::default()
    }

    /// Keeps a message until it is acknowledged. Returns the id of a message dropped to make
    /// room, if any.
    pub fn push(&mut self, id: String, frame: String) -> Option<String> {
        let dropped = if self.waiting.len() >= MAX_WAITING {
            Some(self.waiting.remove(0).id)
        } else {
            None
        };
        self.waiting.push(Waiting { id, frame });
        dropped
    }

    /// The other side has message `id`: it is no longer kept. Returns whether it was waiting.
    pub fn acknowledge(&mut self, id: &str) -> bool {
        let before = self.waiting.len();
        self.waiting.retain(|waiting| waiting.id != id);
        self.waiting.len() != before
    }

    /// The messages to send when the channel opens, oldest first.
    pub fn waiting(&self) -> &[Waiting] {
        &self.waiting
    }

    /// Forgets everything (the call is over).
    pub fn clear(&mut self) {
        self.waiting.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(outbox: &Outbox) -> Vec<&str> {
        outbox.waiting().iter().map(|w| w.id.as_str()).collect()
    }

    #[test]
    fn messages_wait_in_order_until_acknowledged() {
        let mut outbox = Outbox::new();
        outbox.push("a".into(), "{a}".into());
        outbox.push("b".into(), "{b}".into());
        outbox.push("c".into(), "{c}".into());
        assert_eq!(ids(&outbox), ["a", "b", "c"]);
        assert!(outbox.acknowledge("b"));
        assert_eq!(ids(&outbox), ["a", "c"]);
        assert_eq!(outbox.waiting()[1].frame, "{c}");
    }

    #[test]
    fn a_second_or_unknown_acknowledgement_changes_nothing() {
        let mut outbox = Outbox::new();
        outbox.push("a".into(), "{a}".into());
        assert!(outbox.acknowledge("a"));
        assert!(!outbox.acknowledge("a"));
        assert!(!outbox.acknowledge("zzz"));
        assert!(outbox.waiting().is_empty());
    }

    #[test]
    fn the_oldest_message_makes_room_when_full() {
        let mut outbox = Outbox::new();
        for n in 0..MAX_WAITING {
            assert_eq!(outbox.push(format!("m{n}"), String::new()), None);
        }
        assert_eq!(outbox.push("new".into(), String::new()), Some("m0".into()));
        assert_eq!(outbox.waiting().len(), MAX_WAITING);
        assert_eq!(outbox.waiting()[0].id, "m1");
    }

    #[test]
    fn clear_forgets_everything() {
        let mut outbox = Outbox::new();
        outbox.push("a".into(), "{a}".into());
        outbox.clear();
        assert!(outbox.waiting().is_empty());
    }
}
