//! Addresses: the shareable room link (`<origin>/r/<room>`), reading a room from the page path,
//! the `/check` page, the `?ice=relay` page parameter, and the signaling WebSocket URL. Pure
//! string work, unit-tested natively.

use visavis_shared::RoomName;

/// The path prefix of a room page.
const ROOM_PREFIX: &str = "/r/";

/// The path of a room's page: `/r/<room>`. Room names hold only URL-safe characters, so no
/// escaping is needed.
pub fn room_path(room: &RoomName) -> String {
    format!("{ROOM_PREFIX}{room}")
}

/// The full shareable link of a room.
pub fn room_link(origin: &str, room: &RoomName) -> String {
    format!("{}{}", origin.trim_end_matches('/'), room_path(room))
}

/// The room named by a page path of the form `/r/<room>` (a trailing slash is tolerated).
/// Anything else, including an invalid name, gives `None`.
pub fn room_from_path(path: &str) -> Option<RoomName> {
    let rest = path.strip_prefix(ROOM_PREFIX)?;
    let name = rest.strip_suffix('/').unwrap_or(rest);
    RoomName::try_from(name).ok()
}

/// The path of the connectivity check page.
pub const CHECK_PATH: &str = "/check";

/// Whether the page path is the connectivity check page (`/check`, a trailing slash tolerated).
pub fn is_check_path(path: &str) -> bool {
    path.strip_suffix('/').unwrap_or(path) == CHECK_PATH
}

/// Which ICE candidates the peer connection may use: `iceTransportPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IcePolicy {
    /// Any candidate: direct when possible, relayed otherwise (the browser's default).
    #[default]
    All,
    /// Relay candidates only, forced with the page parameter `?ice=relay` (to test a TURN
    /// server, or to hide one's address from the other person).
    Relay,
}

/// Reads the ICE policy from the page's query string (`location.search`, with or without its
/// leading `?`): `ice=relay` forces relaying; anything else leaves the default.
pub fn ice_policy(search: &str) -> IcePolicy {
    let query = search.strip_prefix('?').unwrap_or(search);
    let forced = query.split('&').any(|pair| {
        pair.split_once('=')
            .is_some_and(|(key, value)| key == "ice" && value.eq_ignore_ascii_case("relay"))
    });
    if forced {
        IcePolicy::Relay
    } else {
        IcePolicy::All
    }
}

/// `path` with the page's query string kept, so page parameters such as `?ice=relay` survive
/// rewriting the address bar (a reload then behaves the same).
pub fn with_query(path: &str, search: &str) -> String {
    let query = search.strip_prefix('?').unwrap_or(search);
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

/// The signaling URL for a page loaded over `page_protocol` (`"https:"` or `"http:"`, as
/// `location.protocol` gives it) from `host` (`location.host`, with the port if any).
pub fn websocket_url(page_protocol: &str, host: &str) -> String {
    let scheme = if page_protocol.eq_ignore_ascii_case("https:") {
        "wss"
    } else {
        "ws"
    };
    format!("{scheme}://{host}/ws")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> RoomName {
        RoomName::try_from(name).unwrap()
    }

    #[test]
    fn a_room_link_is_the_origin_plus_the_room_path() {
        assert_eq!(
            room_link("https://talk.example.org", &room("abcd-efgh")),
            "https://talk.example.org/r/abcd-efgh"
        );
    }

    #[test]
    fn a_trailing_slash_on_the_origin_is_not_doubled() {
        assert_eq!(
            room_link("http://localhost:8080/", &room("x")),
            "http://localhost:8080/r/x"
        );
    }

    #[test]
    fn the_room_is_read_from_a_room_path() {
        assert_eq!(room_from_path("/r/team.sync_2"), Some(room("team.sync_2")));
        assert_eq!(room_from_path("/r/team/"), Some(room("team")));
    }

    #[test]
    fn other_paths_name_no_room() {
        assert_eq!(room_from_path("/"), None);
        assert_eq!(room_from_path("/index.html"), None);
        assert_eq!(room_from_path("/r/"), None);
        assert_eq!(room_from_path("/room/abc"), None);
    }

    #[test]
    fn an_invalid_room_in_the_path_is_refused() {
        assert_eq!(room_from_path("/r/a%20b"), None);
        assert_eq!(room_from_path("/r/a/b"), None);
        assert_eq!(room_from_path(&format!("/r/{}", "x".repeat(65))), None);
    }

    #[test]
    fn the_check_page_is_recognised_with_or_without_a_trailing_slash() {
        assert!(is_check_path("/check"));
        assert!(is_check_path("/check/"));
        assert!(!is_check_path("/"));
        assert!(!is_check_path("/r/check"));
        assert!(!is_check_path("/checkout"));
    }

    #[test]
    fn ice_relay_in_the_query_forces_relaying() {
        assert_eq!(ice_policy("?ice=relay"), IcePolicy::Relay);
        assert_eq!(ice_policy("?lang=en&ice=RELAY"), IcePolicy::Relay);
        assert_eq!(ice_policy("ice=relay"), IcePolicy::Relay);
    }

    #[test]
    fn any_other_query_keeps_the_default_policy() {
        for search in ["", "?", "?ice=all", "?ice", "?nice=relay", "?x=ice=relay"] {
            assert_eq!(ice_policy(search), IcePolicy::All, "{search}");
        }
    }

    #[test]
    fn rewriting_the_path_keeps_the_query() {
        assert_eq!(with_query("/r/abc", "?ice=relay"), "/r/abc?ice=relay");
        assert_eq!(with_query("/r/abc", "ice=relay"), "/r/abc?ice=relay");
        assert_eq!(with_query("/r/abc", ""), "/r/abc");
        assert_eq!(with_query("/r/abc", "?"), "/r/abc");
    }

    #[test]
    fn a_secure_page_uses_a_secure_socket() {
        assert_eq!(
            websocket_url("https:", "example.org"),
            "wss://example.org/ws"
        );
    }

    #[test]
    fn a_plain_page_uses_a_plain_socket_and_keeps_the_port() {
        assert_eq!(
            websocket_url("http:", "127.0.0.1:8080"),
            "ws://127.0.0.1:8080/ws"
        );
    }
}
