//! Size limits of the protocol, shared so that client and server enforce the same numbers.

/// The largest SDP (offer or answer) the server relays, in bytes.
pub const MAX_SDP_BYTES: usize = 64 * 1024;

/// The largest ICE candidate the server relays, in bytes (the sum of its string fields).
pub const MAX_CANDIDATE_BYTES: usize = 2 * 1024;

/// The largest WebSocket frame the server accepts; a bigger one closes that socket.
pub const MAX_FRAME_BYTES: usize = 128 * 1024;

/// The longest room name, in characters.
pub const MAX_ROOM_NAME_CHARS: usize = 64;

/// The longest seat token a `rejoin` may carry, in bytes. The server's tokens are far shorter;
/// the limit only keeps junk out.
pub const MAX_SEAT_TOKEN_BYTES: usize = 512;
