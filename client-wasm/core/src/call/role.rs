//! Which side of the call we are on, as the server decided: the Caller or the Callee, and which
//! of them gives way in negotiation.

/// Which side of the call we are on, as the server decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// First in the room: makes the first offer, and is the impolite side in negotiation.
    Caller,
    /// Second in the room: answers the first offer, and is the polite side.
    Callee,
}

impl Role {
    /// Whether this side gives way when both sides offer at once.
    pub fn polite(self) -> bool {
        self == Role::Callee
    }
}
