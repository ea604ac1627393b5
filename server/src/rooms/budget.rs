//! The room limit (`--max-rooms`), shared by every hub shard: a count of open rooms that a
//! room must reserve a place in before it opens, so the limit holds across all owners at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A shared count of open rooms with a ceiling. Cloning shares the count.
#[derive(Debug, Clone)]
pub struct RoomBudget {
    open: Arc<AtomicUsize>,
    max: usize,
}

impl RoomBudget {
    /// A budget of `max` rooms, none open.
    pub fn new(max: usize) -> RoomBudget {
        RoomBudget {
            open: Arc::new(AtomicUsize::new(0)),
            max,
        }
    }

    /// Reserves a place for one more room; false (and nothing reserved) at the limit.
    pub fn try_open(&self) -> bool {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < self.max).then_some(open + 1)
            })
            .is_ok()
    }

    /// Gives back the place of a room that closed.
    pub fn close(&self) {
        // Saturating: a close always follows its own successful open.
        let _ = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                open.checked_sub(1)
            });
    }

    /// Rooms open now, across every owner of this budget.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_holds_across_clones_and_places_come_back() {
        let budget = RoomBudget::new(2);
        let other = budget.clone();
        assert!(budget.try_open());
        assert!(other.try_open());
        assert!(!budget.try_open());
        assert!(!other.try_open());
        assert_eq!(budget.open(), 2);
        other.close();
        assert!(budget.try_open());
        assert_eq!(other.open(), 2);
    }

    #[test]
    fn concurrent_opens_never_exceed_the_limit() {
        let budget = RoomBudget::new(100);
        let opened: usize = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..4)
                .map(|_| {
                    let budget = budget.clone();
                    scope.spawn(move || (0..1000).filter(|_| budget.try_open()).count())
                })
                .collect();
            workers
                .into_iter()
                .map(|worker| worker.join().expect("no panic"))
                .sum()
        });
        assert_eq!(opened, 100);
        assert_eq!(budget.open(), 100);
    }
}
