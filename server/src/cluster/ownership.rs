//! Who owns a room: the Lua scripts that claim and renew ownership atomically in Redis, and
//! what their answers mean; no I/O.
//!
//! A room's key names its owner node and expires unless the owner renews it. Claiming is one
//! script, so two nodes claiming a room at the same moment cannot both win: whoever runs
//! first sets the key, the other reads it. A key naming a node whose liveness key is gone
//! (the node died, or lost Redis for longer than its liveness TTL) is taken over at once
//! instead of waiting for the room key to expire, so a call whose owner was killed comes back
//! within a few seconds.

use std::time::Duration;

use super::envelope::NodeId;

/// How long a room key lives unless renewed.
pub const ROOM_TTL: Duration = Duration::from_secs(5);

/// How long a node's liveness key lives unless renewed.
pub const NODE_TTL: Duration = Duration::from_secs(3);

/// How often a node renews its liveness key and its rooms' keys, and checks its peers.
pub const RENEW_INTERVAL: Duration = Duration::from_secs(1);

/// KEYS[1]: the room key. ARGV: this node, the TTL in ms, the liveness key prefix.
/// Returns {code, previous owner}: 1 claimed a free room, 2 already ours (renewed),
/// 3 taken over from a dead node, 0 owned by another live node.
pub const CLAIM_SCRIPT: &str = r"
local current = redis.call('GET', KEYS[1])
if not current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {1, ARGV[1]}
end
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {2, current}
end
if redis.call('EXISTS', ARGV[3] .. current) == 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {3, current}
end
return {0, current}
";

/// KEYS: room keys this node holds rooms for. ARGV: this node, the TTL in ms. Returns one
/// code per key: 1 renewed, 2 claimed again (the key had gone, e.g. Redis restarted empty),
/// 0 another node owns it now.
pub const RENEW_SCRIPT: &str = r"
local out = {}
for i, key in ipairs(KEYS) do
  local current = redis.call('GET', key)
  if current == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    out[i] = 1
  elseif not current then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
    out[i] = 2
  else
    out[i] = 0
  end
end
return out
";

/// The prefix of liveness keys, as `envelope::node_key` builds them.
pub const NODE_KEY_PREFIX: &str = "visavis:node:";

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The room was free; it is ours now.
    Claimed,
    /// It was ours already; renewed.
    Renewed,
    /// Its owner had died; it is ours now.
    TakenOver(NodeId),
    /// Another live node owns it.
    OwnedBy(NodeId),
}

impl Claim {
    /// Reads the claim script's answer; `None` if it is not one (a script from another
    /// version, say), which callers treat as Redis being unusable.
    pub fn from_reply(code: i64, owner: String) -> Option<Claim> {
        match code {
            1 => Some(Claim::Claimed),
            2 => Some(Claim::Renewed),
            3 => NodeId::try_from(owner).ok().map(Claim::TakenOver),
            0 => NodeId::try_from(owner).ok().map(Claim::OwnedBy),
            _ => None,
        }
    }

    /// Where the room lives after the claim: `None` here, or the other node.
    pub fn owner(&self) -> Option<&NodeId> {
        match self {
            Claim::OwnedBy(node) => Some(node),
            Claim::Claimed | Claim::Renewed | Claim::TakenOver(_) => None,
        }
    }

    /// The metric label.
    pub fn as_str(&self) -> &'static str {
        match self {
            Claim::Claimed => "claimed",
            Claim::Renewed => "renewed",
            Claim::TakenOver(_) => "takeover",
            Claim::OwnedBy(_) => "remote",
        }
    }
}

/// What the renewal found for one room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    Renewed,
    Reclaimed,
    /// Another node owns the room now: this node must let go of its copy.
    Lost,
}

impl Renewal {
    /// Reads one code of the renew script's answer.
    pub fn from_code(code: i64) -> Renewal {
        match code {
            1 => Renewal::Renewed,
            2 => Renewal::Reclaimed,
            // Anything else, 0 included, means the key is not ours: letting go is the safe side.
            _ => Renewal::Lost,
        }
    }
}

/// Milliseconds, as the scripts take them.
pub fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_replies_are_read_and_junk_is_refused() {
        assert_eq!(Claim::from_reply(1, "me".into()), Some(Claim::Claimed));
        assert_eq!(Claim::from_reply(2, "me".into()), Some(Claim::Renewed));
        let other = NodeId::try_from("n2".to_owned()).expect("valid");
        assert_eq!(
            Claim::from_reply(3, "n2".into()),
            Some(Claim::TakenOver(other.clone()))
        );
        assert_eq!(
            Claim::from_reply(0, "n2".into()),
            Some(Claim::OwnedBy(other.clone()))
        );
        assert_eq!(Claim::from_reply(0, "bad id".into()), None);
        assert_eq!(Claim::from_reply(9, "n2".into()), None);
        assert_eq!(Claim::OwnedBy(other.clone()).owner(), Some(&other));
        assert_eq!(Claim::TakenOver(other).owner(), None);
        assert_eq!(Claim::Claimed.owner(), None);
    }

    #[test]
    fn renewal_codes_let_go_unless_the_key_is_ours() {
        assert_eq!(Renewal::from_code(1), Renewal::Renewed);
        assert_eq!(Renewal::from_code(2), Renewal::Reclaimed);
        assert_eq!(Renewal::from_code(0), Renewal::Lost);
        assert_eq!(Renewal::from_code(-1), Renewal::Lost);
    }

    #[test]
    fn liveness_expires_before_the_rooms_and_both_outlast_renewals() {
        assert!(NODE_TTL < ROOM_TTL);
        assert!(RENEW_INTERVAL * 2 < NODE_TTL);
        assert_eq!(millis(ROOM_TTL), 5000);
        assert_eq!(
            super::super::envelope::node_key(&NodeId::try_from("x".to_owned()).expect("valid")),
            format!("{NODE_KEY_PREFIX}x")
        );
    }
}
