//! Flows shared by the tests and the measurements: room names and links, and two people getting
//! into a call with each other.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::person::Person;
use crate::wait::{CONNECT_TIMEOUT, STEP_TIMEOUT};

/// A room name no other test (or earlier run) uses: `<prefix>-<time>-<counter>`.
pub fn unique_room(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() % 1_000_000_000)
        .unwrap_or(0);
    format!("{prefix}-{millis}-{n}")
}

/// The path of a room's link.
pub fn room_path(room: &str) -> String {
    format!("/r/{room}")
}

/// The path of a room's link in relay-only mode (`?ice=relay`).
pub fn relay_room_path(room: &str) -> String {
    format!("/r/{room}?ice=relay")
}

/// With both people already on the room's page: `caller` clicks Call and waits, then `callee`
/// clicks Call; both reach `connected`.
pub async fn call_between(caller: &Person, callee: &Person) {
    caller.click("callButton").await;
    caller.wait_for_call_state("waiting", STEP_TIMEOUT).await;
    callee.click("callButton").await;
    tokio::join!(
        caller.wait_for_call_state("connected", CONNECT_TIMEOUT),
        callee.wait_for_call_state("connected", CONNECT_TIMEOUT),
    );
}

/// Both people open the room's link and call each other; returns once both are `connected`
/// and both remote videos play.
pub async fn connect_pair(caller: &Person, callee: &Person, room: &str) {
    connect_pair_at(caller, callee, &room_path(room)).await;
}

/// Like [`connect_pair`], on the page at `path` (e.g. [`relay_room_path`]).
pub async fn connect_pair_at(caller: &Person, callee: &Person, path: &str) {
    tokio::join!(caller.open(path), callee.open(path));
    call_between(caller, callee).await;
    tokio::join!(caller.remote_video_playing(), callee.remote_video_playing());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_rooms_differ_and_are_valid_names() {
        let a = unique_room("t");
        let b = unique_room("t");
        assert_ne!(a, b);
        assert_eq!(
            visavis_shared::RoomName::from_user_input(&a).map(|r| r.as_str().to_owned()),
            Some(a)
        );
    }
}
