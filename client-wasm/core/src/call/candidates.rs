//! The remote ICE candidate buffer: candidates that arrive before the remote description is
//! set cannot be added yet, so they wait here and are released, in order, once it is.
//! Generic and pure, so the ordering rules are unit-tested natively.

/// Holds early candidates until the remote description is in place.
#[derive(Debug, Clone)]
pub struct CandidateBuffer<T> {
    ready: bool,
    waiting: Vec<T>,
}

impl<T> Default for CandidateBuffer<T> {
    fn default() -> Self {
        CandidateBuffer {
            ready: false,
            waiting: Vec::new(),
        }
    }
}

impl<T> CandidateBuffer<T> {
    /// A new buffer: nothing is ready yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Offers a candidate. Returns it back if it can be added to the peer connection right
    /// away; otherwise keeps it for [`mark_ready`](Self::mark_ready).
    pub fn offer(&mut self, candidate: T) -> Option<T> {
        if self.ready {
            Some(candidate)
        } else {
            self.waiting.push(candidate);
            None
        }
    }

    /// Records that the remote description is set and returns every buffered candidate, oldest
    /// first. Later candidates pass straight through [`offer`](Self::offer).
    pub fn mark_ready(&mut self) -> Vec<T> {
        self.ready = true;
        std::mem::take(&mut self.waiting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_before_the_remote_description_are_held() {
        let mut buffer = CandidateBuffer::new();
        assert_eq!(buffer.offer(1), None);
        assert_eq!(buffer.offer(2), None);
        assert_eq!(buffer.waiting, vec![1, 2]);
        assert!(!buffer.ready);
    }

    #[test]
    fn held_candidates_are_released_in_arrival_order() {
        let mut buffer = CandidateBuffer::new();
        buffer.offer("a");
        buffer.offer("b");
        buffer.offer("c");
        assert_eq!(buffer.mark_ready(), vec!["a", "b", "c"]);
        assert!(buffer.waiting.is_empty());
    }

    #[test]
    fn candidates_after_the_remote_description_pass_straight_through() {
        let mut buffer = CandidateBuffer::new();
        buffer.mark_ready();
        assert_eq!(buffer.offer(7), Some(7));
        assert!(buffer.waiting.is_empty());
    }

    #[test]
    fn marking_ready_twice_releases_nothing_twice() {
        let mut buffer = CandidateBuffer::new();
        buffer.offer(1);
        assert_eq!(buffer.mark_ready(), vec![1]);
        assert!(buffer.mark_ready().is_empty());
        assert!(buffer.ready);
    }

    #[test]
    fn no_candidate_is_lost_whatever_the_order() {
        let mut buffer = CandidateBuffer::new();
        let mut added = Vec::new();
        for c in 0..3 {
            added.extend(buffer.offer(c));
        }
        added.extend(buffer.mark_ready());
        for c in 3..5 {
            added.extend(buffer.offer(c));
        }
        assert_eq!(added, vec![0, 1, 2, 3, 4]);
    }
}
