//! The rows the file panel shows: each transfer's direction, state, progress and size, in plain
//! words. Pure Rust, unit-tested natively.

/// Which way a transfer goes, seen from this page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From this page to the other person.
    Outgoing,
    /// From the other person to this page.
    Incoming,
}

impl Direction {
    /// The value of the row's `data-direction`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Outgoing => "outgoing",
            Direction::Incoming => "incoming",
        }
    }
}

/// Where a transfer is, as the page shows it (and publishes in `data-state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferState {
    /// Announced; no bytes yet.
    Offered,
    /// This page is sending bytes.
    Sending,
    /// This page is receiving bytes.
    Receiving,
    /// Sent completely, or received and verified.
    Done,
    /// Stopped by one of the two people.
    Cancelled,
    /// Refused, damaged, or cut off by the connection.
    Failed,
}

impl TransferState {
    /// The value of the row's `data-state`.
    pub fn as_str(self) -> &'static str {
        match self {
            TransferState::Offered => "offered",
            TransferState::Sending => "sending",
            TransferState::Receiving => "receiving",
            TransferState::Done => "done",
            TransferState::Cancelled => "cancelled",
            TransferState::Failed => "failed",
        }
    }

    /// Whether bytes may still move (and Cancel makes sense).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            TransferState::Offered | TransferState::Sending | TransferState::Receiving
        )
    }
}

/// One row of the transfers list: plain data, written by the controller, read by the page.
#[derive(Debug, Clone, PartialEq)]
pub struct TransferView {
    /// Which way it goes.
    pub direction: Direction,
    /// The sending side's number for it.
    pub id: u32,
    /// The cleaned file name, shown as text.
    pub name: String,
    /// The size in bytes.
    pub size: u64,
    /// Bytes moved so far.
    pub bytes: u64,
    /// Where it is.
    pub state: TransferState,
    /// The file's SHA-256 (lowercase hex): once computed (sender) or verified (receiver).
    pub sha256: Option<String>,
    /// The `blob:` URL of a received, verified file.
    pub url: Option<String>,
    /// A sentence about the outcome (why it failed, who cancelled), if any.
    pub note: Option<String>,
}

impl TransferView {
    /// A new row at the start of a transfer.
    pub fn new(direction: Direction, id: u32, name: String, size: u64) -> TransferView {
        TransferView {
            direction,
            id,
            name,
            size,
            bytes: 0,
            state: TransferState::Offered,
            sha256: None,
            url: None,
            note: None,
        }
    }

    /// A key unique within the list, for keyed rendering.
    pub fn key(&self) -> (Direction, u32) {
        (self.direction, self.id)
    }

    /// The whole percentage done, 100 only when every byte has moved.
    pub fn percent(&self) -> u8 {
        percent(self.bytes, self.size)
    }

    /// The `max` of the progress bar (never 0, so an empty file shows as a full bar).
    pub fn progress_max(&self) -> u64 {
        self.size.max(1)
    }

    /// The `value` of the progress bar.
    pub fn progress_value(&self) -> u64 {
        if self.size == 0 && self.state == TransferState::Done {
            1
        } else {
            self.bytes.min(self.size)
        }
    }

    /// The short text next to the bar.
    pub fn label(&self) -> String {
        let percent = self.percent();
        match (self.state, self.direction) {
            (TransferState::Offered, Direction::Outgoing) => "Waiting to send…".into(),
            (TransferState::Offered, Direction::Incoming) => "Waiting for the first bytes…".into(),
            (TransferState::Sending, _) => format!("Sending… {percent}%"),
            (TransferState::Receiving, _) => format!("Receiving… {percent}%"),
            (TransferState::Done, Direction::Outgoing) => "Sent".into(),
            (TransferState::Done, Direction::Incoming) => "Received and verified".into(),
            (TransferState::Cancelled, _) => "Cancelled".into(),
            (TransferState::Failed, _) => "Failed".into(),
        }
    }
}

/// The whole percentage of `done` out of `total`, rounded down so that 100 means complete.
pub fn percent(done: u64, total: u64) -> u8 {
    if total == 0 {
        return if done == 0 { 0 } else { 100 };
    }
    let done = done.min(total);
    // u128: done * 100 cannot overflow.
    (u128::from(done) * 100 / u128::from(total)) as u8
}

/// A byte count for people: `512 bytes`, `1.5 KB`, `20.0 MB`, `1.2 GB` (powers of 1024).
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return if bytes == 1 {
            "1 byte".into()
        } else {
            format!("{bytes} bytes")
        };
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_down_and_reach_100_only_when_complete() {
        assert_eq!(percent(0, 100), 0);
        assert_eq!(percent(999, 1000), 99);
        assert_eq!(percent(1000, 1000), 100);
        assert_eq!(percent(5000, 1000), 100);
        assert_eq!(percent(u64::MAX - 1, u64::MAX), 99);
        assert_eq!(percent(0, 0), 0);
    }

    #[test]
    fn sizes_are_shown_in_readable_units() {
        assert_eq!(format_size(0), "0 bytes");
        assert_eq!(format_size(1), "1 byte");
        assert_eq!(format_size(1023), "1023 bytes");
        assert_eq!(format_size(1536), "1.5 KB");
        assert_eq!(format_size(20 * 1024 * 1024), "20.0 MB");
        assert_eq!(format_size(3 * 1024 * 1024 * 1024), "3.0 GB");
    }

    #[test]
    fn an_empty_file_shows_a_full_bar_once_done() {
        let mut row = TransferView::new(Direction::Incoming, 1, "e".into(), 0);
        assert_eq!((row.progress_value(), row.progress_max()), (0, 1));
        row.state = TransferState::Done;
        assert_eq!((row.progress_value(), row.progress_max()), (1, 1));
    }

    #[test]
    fn rows_publish_the_documented_state_and_direction_names() {
        assert_eq!(Direction::Outgoing.as_str(), "outgoing");
        assert_eq!(Direction::Incoming.as_str(), "incoming");
        let names: Vec<_> = [
            TransferState::Offered,
            TransferState::Sending,
            TransferState::Receiving,
            TransferState::Done,
            TransferState::Cancelled,
            TransferState::Failed,
        ]
        .iter()
        .map(|s| s.as_str())
        .collect();
        assert_eq!(
            names,
            [
                "offered",
                "sending",
                "receiving",
                "done",
                "cancelled",
                "failed"
            ]
        );
    }

    #[test]
    fn only_unfinished_transfers_can_be_cancelled() {
        assert!(TransferState::Sending.is_active());
        assert!(TransferState::Offered.is_active());
        assert!(!TransferState::Done.is_active());
        assert!(!TransferState::Failed.is_active());
    }

    #[test]
    fn the_sender_row_says_sent_when_done() {
        let mut row = TransferView::new(Direction::Outgoing, 1, "a".into(), 10);
        row.state = TransferState::Done;
        row.bytes = 10;
        assert_eq!(row.label(), "Sent");
        row.state = TransferState::Sending;
        row.bytes = 5;
        assert_eq!(row.label(), "Sending… 50%");
    }
}
