//! The chat panel's unread count, pure: how many messages from the other person arrived while
//! the panel was collapsed. It watches the number of their messages in the log; expanding the
//! panel clears the count, and a log emptied for a new call takes its unread messages with it.

/// Whether the chat is collapsed, and what arrived meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unread {
    collapsed: bool,
    /// The other person's messages in the log when last observed.
    theirs_seen: usize,
    /// Their messages that arrived while collapsed.
    count: usize,
}

impl Unread {
    /// The panel's starting state, with `theirs` of their messages already in the log.
    pub fn new(collapsed: bool, theirs: usize) -> Unread {
        Unread {
            collapsed,
            theirs_seen: theirs,
            count: 0,
        }
    }

    /// The log now holds `theirs` messages from the other person. New ones count as unread
    /// while collapsed. Fewer than before means the log was emptied (a new call): that is not
    /// news, and unread messages that are no longer in the log are not counted.
    pub fn observe(&mut self, theirs: usize) {
        if self.collapsed && theirs > self.theirs_seen {
            self.count += theirs - self.theirs_seen;
        }
        self.count = self.count.min(theirs);
        self.theirs_seen = theirs;
    }

    /// Collapses the panel: counting starts from zero.
    pub fn collapse(&mut self) {
        self.collapsed = true;
        self.count = 0;
    }

    /// Expands the panel: everything is read.
    pub fn expand(&mut self) {
        self.collapsed = false;
        self.count = 0;
    }

    /// Collapses an expanded panel, expands a collapsed one.
    pub fn toggle(&mut self) {
        if self.collapsed {
            self.expand();
        } else {
            self.collapse();
        }
    }

    /// Whether the panel is collapsed.
    pub fn collapsed(&self) -> bool {
        self.collapsed
    }

    /// The messages from the other person received since the panel was collapsed.
    pub fn count(&self) -> usize {
        self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_while_expanded_are_not_unread() {
        let mut unread = Unread::new(false, 0);
        unread.observe(3);
        assert_eq!(unread.count(), 0);
    }

    #[test]
    fn messages_after_collapsing_are_counted_and_expanding_clears_them() {
        let mut unread = Unread::new(false, 0);
        unread.observe(2);
        unread.collapse();
        unread.observe(3);
        unread.observe(4);
        assert!(unread.collapsed());
        assert_eq!(unread.count(), 2);
        unread.expand();
        assert!(!unread.collapsed());
        assert_eq!(unread.count(), 0);
        unread.observe(5);
        assert_eq!(unread.count(), 0);
    }

    #[test]
    fn a_panel_that_starts_collapsed_counts_only_new_messages() {
        let mut unread = Unread::new(true, 4);
        unread.observe(4);
        assert_eq!(unread.count(), 0);
        unread.observe(5);
        assert_eq!(unread.count(), 1);
    }

    #[test]
    fn an_emptied_log_takes_its_unread_messages_along_and_later_ones_still_count() {
        let mut unread = Unread::new(true, 0);
        unread.observe(3);
        assert_eq!(unread.count(), 3);
        // A new call empties the log.
        unread.observe(0);
        assert_eq!(unread.count(), 0);
        unread.observe(1);
        assert_eq!(unread.count(), 1);
    }

    #[test]
    fn toggling_alternates_and_each_collapse_starts_from_zero() {
        let mut unread = Unread::new(false, 0);
        unread.toggle();
        unread.observe(1);
        assert_eq!(unread.count(), 1);
        unread.toggle();
        assert!(!unread.collapsed());
        unread.toggle();
        assert!(unread.collapsed());
        assert_eq!(unread.count(), 0);
    }
}
