//! What the status line says: the plain words for each moment of a call, their tone, and server
//! errors put into plain words. Pure Rust, unit-tested natively.

use visavis_shared::ErrorCode;

use super::state::Interruption;
use crate::connectivity::IceProblem;

/// What the status line says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Status {
    /// The page just loaded.
    #[default]
    Ready,
    /// Asking the browser for the camera and microphone.
    OpeningMedia,
    /// The join request is on its way.
    Joining,
    /// Alone in the room; `link` is shown with a Copy button.
    Waiting {
        /// The room's shareable address.
        link: String,
    },
    /// Setting up the connection to the other person.
    Connecting,
    /// Talking.
    Connected,
    /// Part of the call dropped and is being restored; the cause says which part.
    Reconnecting(Interruption),
    /// The room already had two people.
    RoomFull,
    /// The other person left.
    PeerLeft,
    /// We hung up.
    HungUp,
    /// The connection to the other person could not be kept up.
    ConnectionFailed,
    /// The connection to the server was lost.
    ServerLost,
    /// The connection could not be made for a reason the diagnosis can name; the status line
    /// offers the connectivity check page.
    IceTrouble(IceProblem),
    /// Anything else that went wrong, in plain words.
    Error(String),
}

/// How the status line should look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Neutral information.
    Info,
    /// Things are working.
    Good,
    /// Something ended or needs attention.
    Warning,
    /// Something failed.
    Error,
}

impl Tone {
    /// The CSS class for this tone.
    pub fn class(self) -> &'static str {
        match self {
            Tone::Info => "tone-info",
            Tone::Good => "tone-good",
            Tone::Warning => "tone-warning",
            Tone::Error => "tone-error",
        }
    }
}

impl Status {
    /// The sentence shown to the person.
    pub fn text(&self) -> String {
        match self {
            Status::Ready => "Choose a room name, then press Call.".into(),
            Status::OpeningMedia => "Opening your camera and microphone…".into(),
            Status::Joining => "Joining the room…".into(),
            Status::Waiting { .. } => "Waiting for the other person. Send them this link:".into(),
            Status::Connecting => "Connecting to the other person…".into(),
            Status::Connected => "Connected.".into(),
            Status::Reconnecting(Interruption::Server) => {
                "Lost the connection to the server. Your call goes on; reconnecting…".into()
            }
            Status::Reconnecting(Interruption::Peer) => {
                "The other person's connection dropped. Waiting for them to come back…".into()
            }
            Status::Reconnecting(Interruption::Media) => {
                "The connection was interrupted. Trying to reconnect…".into()
            }
            Status::RoomFull => {
                "This room is full: two people are already in it. Choose another name.".into()
            }
            Status::PeerLeft => "The other person left.".into(),
            Status::HungUp => "You hung up.".into(),
            Status::ConnectionFailed => "The connection to the other person was lost.".into(),
            Status::ServerLost => "The connection to the server was lost.".into(),
            Status::IceTrouble(problem) => problem.text(),
            Status::Error(text) => text.clone(),
        }
    }

    /// The room link to show next to the text, if any.
    pub fn link(&self) -> Option<&str> {
        match self {
            Status::Waiting { link } => Some(link),
            _ => None,
        }
    }

    /// Whether to offer a link to the connectivity check page next to the text.
    pub fn offers_check(&self) -> bool {
        matches!(self, Status::IceTrouble(_))
    }

    /// How the line should look.
    pub fn tone(&self) -> Tone {
        match self {
            Status::Ready
            | Status::OpeningMedia
            | Status::Joining
            | Status::Waiting { .. }
            | Status::Connecting => Tone::Info,
            Status::Connected => Tone::Good,
            Status::Reconnecting(_) | Status::RoomFull | Status::PeerLeft | Status::HungUp => {
                Tone::Warning
            }
            Status::ConnectionFailed
            | Status::ServerLost
            | Status::IceTrouble(_)
            | Status::Error(_) => Tone::Error,
        }
    }
}

/// Puts a server error into plain words. The server's own message is kept where it adds detail
/// (it never quotes what we sent, so it is safe to show).
pub fn describe_error(code: ErrorCode, message: &str) -> String {
    let plain = match code {
        ErrorCode::InvalidRoom => return format!("The server refused the room name: {message}."),
        ErrorCode::AlreadyInRoom => "The server thinks you are already in a room. Try again.",
        ErrorCode::NotInRoom => "The server no longer has you in a room.",
        ErrorCode::SdpTooLarge | ErrorCode::CandidateTooLarge => {
            "Your browser produced connection details that are too large for the server."
        }
        ErrorCode::RateLimited => "Too many messages too fast: please wait a moment.",
        ErrorCode::ServerBusy => "The server is busy. Please try again in a minute.",
        ErrorCode::SeatInvalid | ErrorCode::SeatExpired => {
            "Your place in the call could not be taken back: the call has ended."
        }
        ErrorCode::InvalidJson
        | ErrorCode::UnknownType
        | ErrorCode::InvalidMessage
        | ErrorCode::BinaryFrame
        | ErrorCode::Unknown => {
            return if message.is_empty() {
                "The server refused a message.".into()
            } else {
                format!("The server refused a message: {message}.")
            };
        }
    };
    plain.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_error_code_shows_the_server_message() {
        let text = describe_error(ErrorCode::Unknown, "something new");
        assert!(text.contains("something new"));
    }

    #[test]
    fn only_the_waiting_status_carries_a_link() {
        assert_eq!(Status::Connected.link(), None);
        assert_eq!(Status::Waiting { link: "x".into() }.link(), Some("x"));
    }
}
