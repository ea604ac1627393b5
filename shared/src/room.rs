//! `RoomName`: a validated room name, and the conversion of what a person types into one.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::limits::MAX_ROOM_NAME_CHARS;

/// A room name: 1 to 64 characters of `A-Z a-z 0-9 . _ -`.
///
/// The only way to get one is through validation, so any `RoomName` in the program is valid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoomName(String);

/// Why a string is not a room name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomNameError {
    /// The name is the empty string.
    Empty,
    /// The name is longer than [`MAX_ROOM_NAME_CHARS`].
    TooLong,
    /// The name holds a character outside `A-Z a-z 0-9 . _ -`.
    BadCharacter(char),
}

impl fmt::Display for RoomNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RoomNameError::Empty => write!(f, "room name is empty"),
            RoomNameError::TooLong => {
                write!(
                    f,
                    "room name is longer than {MAX_ROOM_NAME_CHARS} characters"
                )
            }
            RoomNameError::BadCharacter(c) => write!(
                f,
                "room name holds {c:?}; only letters, digits, '.', '_' and '-' are allowed"
            ),
        }
    }
}

impl std::error::Error for RoomNameError {}

fn is_room_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// The alphabet of generated names: lowercase letters and digits without the look-alikes
/// `0 o 1 l`, so a name read aloud or copied by hand survives. 32 symbols, 5 bits each.
const GENERATED_ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";

impl RoomName {
    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Turns free text a person typed into a valid room name, if anything usable is left.
    ///
    /// Spaces and other separators become `-`, characters outside the allowed set are dropped,
    /// runs of `-` collapse, and the result is cut to the maximum length.
    pub fn from_user_input(input: &str) -> Option<RoomName> {
        let mut name = String::new();
        for c in input.trim().chars() {
            let mapped = if is_room_char(c) {
                Some(c)
            } else if c.is_whitespace() || matches!(c, '/' | '\\' | ':' | ',' | ';' | '+') {
                Some('-')
            } else {
                None
            };
            if let Some(m) = mapped {
                if m == '-' && name.ends_with('-') {
                    continue;
                }
                name.push(m);
            }
        }
        let trimmed: String = name
            .trim_matches('-')
            .chars()
            .take(MAX_ROOM_NAME_CHARS)
            .collect();
        RoomName::try_from(trimmed).ok()
    }

    /// Builds an unguessable name from 16 random bytes: 16 symbols of 5 bits, so 80 bits of
    /// randomness, grouped as `xxxx-xxxx-xxxx-xxxx` to be easy to read out.
    ///
    /// The caller supplies the randomness (the browser's `crypto.getRandomValues`, or the OS),
    /// which keeps this crate free of I/O.
    pub fn from_random_bytes(bytes: [u8; 16]) -> RoomName {
        let mut name = String::with_capacity(19);
        for (i, b) in bytes.iter().enumerate() {
            if i > 0 && i % 4 == 0 {
                name.push('-');
            }
            name.push(GENERATED_ALPHABET[(*b & 0x1f) as usize] as char);
        }
        RoomName(name)
    }
}

impl TryFrom<String> for RoomName {
    type Error = RoomNameError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        if value.is_empty() {
            return Err(RoomNameError::Empty);
        }
        if let Some(bad) = value.chars().find(|c| !is_room_char(*c)) {
            return Err(RoomNameError::BadCharacter(bad));
        }
        // All characters are ASCII here, so bytes and characters agree.
        if value.len() > MAX_ROOM_NAME_CHARS {
            return Err(RoomNameError::TooLong);
        }
        Ok(RoomName(value))
    }
}

impl TryFrom<&str> for RoomName {
    type Error = RoomNameError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        RoomName::try_from(value.to_owned())
    }
}

impl From<RoomName> for String {
    fn from(value: RoomName) -> Self {
        value.0
    }
}

impl fmt::Display for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_simple_name_is_accepted() {
        assert_eq!(
            RoomName::try_from("team-standup_2.0").unwrap().as_str(),
            "team-standup_2.0"
        );
    }

    #[test]
    fn an_empty_name_is_rejected() {
        assert_eq!(RoomName::try_from(""), Err(RoomNameError::Empty));
    }

    #[test]
    fn a_name_of_64_characters_is_accepted() {
        assert!(RoomName::try_from("a".repeat(64)).is_ok());
    }

    #[test]
    fn a_name_of_65_characters_is_rejected() {
        assert_eq!(
            RoomName::try_from("a".repeat(65)),
            Err(RoomNameError::TooLong)
        );
    }

    #[test]
    fn a_space_is_rejected() {
        assert_eq!(
            RoomName::try_from("a b"),
            Err(RoomNameError::BadCharacter(' '))
        );
    }

    #[test]
    fn a_slash_is_rejected() {
        assert_eq!(
            RoomName::try_from("a/b"),
            Err(RoomNameError::BadCharacter('/'))
        );
    }

    #[test]
    fn non_ascii_letters_are_rejected() {
        assert_eq!(
            RoomName::try_from("café"),
            Err(RoomNameError::BadCharacter('é'))
        );
    }

    #[test]
    fn html_is_rejected() {
        assert!(RoomName::try_from("<script>").is_err());
    }

    #[test]
    fn typed_text_becomes_a_valid_name() {
        let name = RoomName::from_user_input("  Weekly Sync: Design / Review ").unwrap();
        assert_eq!(name.as_str(), "Weekly-Sync-Design-Review");
    }

    #[test]
    fn typed_text_without_usable_characters_gives_no_name() {
        assert_eq!(RoomName::from_user_input("  <>!?  "), None);
    }

    #[test]
    fn typed_text_is_cut_to_the_maximum_length() {
        let name = RoomName::from_user_input(&"x".repeat(200)).unwrap();
        assert_eq!(name.as_str().len(), MAX_ROOM_NAME_CHARS);
    }

    #[test]
    fn generated_names_are_valid_and_carry_80_bits() {
        let name = RoomName::from_random_bytes([0xff; 16]);
        assert_eq!(name.as_str().len(), 19);
        assert!(RoomName::try_from(name.as_str()).is_ok());
        // 16 symbols from a 32-symbol alphabet: 16 * 5 = 80 bits.
        assert_eq!(GENERATED_ALPHABET.len(), 32);
        let other = RoomName::from_random_bytes([0x00; 16]);
        assert_ne!(name, other);
    }

    #[test]
    fn deserialising_a_bad_name_fails() {
        assert!(serde_json::from_str::<RoomName>("\"a b\"").is_err());
    }
}
