//! Sequence numbers on each (sender node -> receiver node) stream, and gap detection; no I/O.
//!
//! Redis pub/sub delivers in order but may lose messages (a subscriber reconnecting, a
//! publish that failed). The sender numbers what it sends to each node from 1; the receiver
//! expects each number exactly once, in order. A gap, or a sender that came back with a new
//! epoch, means something may be lost: the receiver then drops what it shared with that node
//! (see `mod.rs`), and the clients rejoin with their seat tokens.

use std::collections::HashMap;

use super::envelope::NodeId;

/// The sender's side: the next number for each receiver.
#[derive(Debug, Default)]
pub struct Numbering {
    next: HashMap<NodeId, u64>,
}

impl Numbering {
    /// The number for the next message to `to`.
    pub fn next(&mut self, to: &NodeId) -> u64 {
        let next = self.next.entry(to.clone()).or_insert(1);
        let seq = *next;
        *next += 1;
        seq
    }
}

/// What the receiver makes of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// The next one expected (or the first from this sender): handle it.
    InOrder,
    /// Messages before this one are missing, or the sender restarted: whatever was shared with
    /// the sender may be lost. The message itself is still handled, after the recovery.
    Gap,
    /// Seen already (or older than what was seen): ignore it.
    Stale,
}

/// The receiver's side: the last number seen from each sender, in its current epoch.
#[derive(Debug, Default)]
pub struct Tracker {
    last: HashMap<NodeId, (u64, u64)>,
}

impl Tracker {
    /// Checks one message from `from`.
    pub fn arrive(&mut self, from: &NodeId, epoch: u64, seq: u64) -> Arrival {
        match self.last.get_mut(from) {
            None => {
                // A sender first heard of: nothing shared with it yet, so nothing to lose.
                self.last.insert(from.clone(), (epoch, seq));
                Arrival::InOrder
            }
            Some(last) if last.0 != epoch => {
                *last = (epoch, seq);
                Arrival::Gap
            }
            Some(last) if seq == last.1 + 1 => {
                last.1 = seq;
                Arrival::InOrder
            }
            Some(last) if seq <= last.1 => Arrival::Stale,
            Some(last) => {
                last.1 = seq;
                Arrival::Gap
            }
        }
    }

    /// Forgets every stream, after this node's own subscription was interrupted (everything
    /// shared was dropped then); the next message of each sender starts afresh.
    pub fn reset(&mut self) {
        self.last.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str) -> NodeId {
        NodeId::try_from(id.to_owned()).expect("valid fixture")
    }

    #[test]
    fn numbers_start_at_one_per_receiver() {
        let mut numbering = Numbering::default();
        assert_eq!(numbering.next(&node("a")), 1);
        assert_eq!(numbering.next(&node("a")), 2);
        assert_eq!(numbering.next(&node("b")), 1);
        assert_eq!(numbering.next(&node("a")), 3);
    }

    #[test]
    fn in_order_streams_pass_and_gaps_are_seen() {
        let mut tracker = Tracker::default();
        let a = node("a");
        assert_eq!(tracker.arrive(&a, 9, 1), Arrival::InOrder);
        assert_eq!(tracker.arrive(&a, 9, 2), Arrival::InOrder);
        assert_eq!(tracker.arrive(&a, 9, 2), Arrival::Stale);
        assert_eq!(tracker.arrive(&a, 9, 1), Arrival::Stale);
        assert_eq!(tracker.arrive(&a, 9, 4), Arrival::Gap);
        assert_eq!(tracker.arrive(&a, 9, 5), Arrival::InOrder);
        // Another sender is its own stream.
        assert_eq!(tracker.arrive(&node("b"), 1, 40), Arrival::InOrder);
        assert_eq!(tracker.arrive(&node("b"), 1, 41), Arrival::InOrder);
    }

    #[test]
    fn a_restarted_sender_is_a_gap_even_if_its_numbers_look_right() {
        let mut tracker = Tracker::default();
        let a = node("a");
        assert_eq!(tracker.arrive(&a, 1, 1), Arrival::InOrder);
        assert_eq!(tracker.arrive(&a, 2, 2), Arrival::Gap);
        assert_eq!(tracker.arrive(&a, 2, 3), Arrival::InOrder);
        tracker.reset();
        assert_eq!(tracker.arrive(&a, 2, 10), Arrival::InOrder);
    }

    #[test]
    fn a_numbered_stream_with_any_loss_is_caught() {
        // Every way of losing messages from a stream of 20 (by bit mask over the first 12)
        // shows a gap at the first message after a loss.
        for mask in 1u32..(1 << 12) {
            let mut numbering = Numbering::default();
            let mut tracker = Tracker::default();
            let (a, me) = (node("a"), node("me"));
            let mut gap_seen = false;
            let mut lost_any = false;
            for i in 0..20u32 {
                let seq = numbering.next(&me);
                if i < 12 && mask & (1 << i) != 0 && i > 0 {
                    lost_any = true;
                    continue;
                }
                if tracker.arrive(&a, 7, seq) == Arrival::Gap {
                    gap_seen = true;
                }
            }
            assert_eq!(gap_seen, lost_any, "mask {mask:b}");
        }
    }
}
