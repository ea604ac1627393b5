//! The seat we hold in a room, as it is kept in `sessionStorage` so that a reloaded page can
//! take it back. Pure Rust, unit-tested natively; the browser crate's `browser/` does the
//! storing.
//!
//! `sessionStorage` belongs to one tab: a second tab opening the same room link does not see
//! it, so it joins as a new person (and gets `full`) instead of stealing the first tab's seat.

use serde::{Deserialize, Serialize};
use visavis_shared::RoomName;

use super::role::Role;

/// The `sessionStorage` key.
pub const STORAGE_KEY: &str = "visavis.seat";

/// A seat: the room, our side of the call, and the server's latest token for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedSeat {
    /// The room the seat is in.
    pub room: RoomName,
    /// Whether we were the Caller (first in the room): it decides who is polite in
    /// negotiation, and must not change when the page reloads.
    pub caller: bool,
    /// The latest seat token; each new one replaces the last.
    pub token: String,
    /// Whether the other person was in the call: after a reload, their absence then means
    /// they are reconnecting, not that they never came.
    #[serde(default)]
    pub paired: bool,
}

impl SavedSeat {
    /// A seat for `room`, held as `role`, proved by `token`; `paired` if the other person
    /// was in the call.
    pub fn new(room: RoomName, role: Role, token: String, paired: bool) -> SavedSeat {
        SavedSeat {
            room,
            caller: role == Role::Caller,
            token,
            paired,
        }
    }

    /// Our side of the call.
    pub fn role(&self) -> Role {
        if self.caller {
            Role::Caller
        } else {
            Role::Callee
        }
    }

    /// The stored form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a stored seat; anything unreadable (an older format, a hand edit) is no seat.
    pub fn from_json(text: &str) -> Option<SavedSeat> {
        serde_json::from_str(text).ok()
    }

    /// The stored seat if it is for `room`: a seat in another room is not taken back just
    /// because this tab once sat there.
    pub fn for_room(text: &str, room: &RoomName) -> Option<SavedSeat> {
        SavedSeat::from_json(text).filter(|seat| &seat.room == room)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> RoomName {
        RoomName::try_from(name).expect("valid room name")
    }

    #[test]
    fn a_seat_round_trips_through_storage() {
        let seat = SavedSeat::new(room("kitchen"), Role::Callee, "v1.a.b".into(), true);
        let text = seat.to_json();
        assert_eq!(SavedSeat::from_json(&text), Some(seat.clone()));
        assert_eq!(seat.role(), Role::Callee);
        assert_eq!(
            SavedSeat::new(room("kitchen"), Role::Caller, "t".into(), false).role(),
            Role::Caller
        );
    }

    #[test]
    fn a_seat_in_another_room_is_not_taken_back() {
        let text = SavedSeat::new(room("kitchen"), Role::Caller, "t".into(), false).to_json();
        assert!(SavedSeat::for_room(&text, &room("kitchen")).is_some());
        assert_eq!(SavedSeat::for_room(&text, &room("garden")), None);
    }

    #[test]
    fn junk_in_storage_is_no_seat() {
        assert_eq!(SavedSeat::from_json(""), None);
        assert_eq!(SavedSeat::from_json("{\"room\":\"a b\"}"), None);
        assert_eq!(
            SavedSeat::from_json("{\"room\":\"../x\",\"caller\":true,\"token\":\"t\"}"),
            None
        );
    }
}
