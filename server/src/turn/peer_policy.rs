//! Which peer addresses relays may talk to. The `turn` crate relays to any address a client
//! names, which would let any credential holder reach services on the relay host's loopback
//! interface or private network, or send to broadcast/multicast groups; this closes that
//! hole, like coturn's recommended `denied-peer-ip` ranges.

use std::net::IpAddr;

/// The peer-address rule of one relay.
#[derive(Debug, Clone, Copy)]
pub struct PeerPolicy {
    /// Relay to loopback peers (tests and single-host setups only).
    pub allow_loopback: bool,
    /// Relay to private peers: RFC 1918, shared (CGNAT) 100.64/10 and unique-local fc00::/7
    /// addresses (a relay that itself lives in a private network).
    pub allow_private: bool,
}

impl PeerPolicy {
    /// Whether a relay may send to, or accept from, `ip`.
    pub fn allows(self, ip: IpAddr) -> bool {
        // IPv4-mapped IPv6 addresses must not sneak past the IPv4 checks.
        let ip = ip.to_canonical();
        if ip.is_unspecified() || ip.is_multicast() {
            return false;
        }
        if ip.is_loopback() {
            return self.allow_loopback;
        }
        if is_private(ip) {
            return self.allow_private;
        }
        match ip {
            IpAddr::V4(v4) => !(v4.is_broadcast() || v4.is_link_local() || v4.octets()[0] == 0),
            // fe80::/10, link-local unicast.
            IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) != 0xfe80,
        }
    }
}

/// Addresses of private networks: RFC 1918, 100.64.0.0/10 (shared address space) and
/// fc00::/7 (unique local).
pub fn is_private(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private() || (a == 100 && (b & 0xc0) == 64)
        }
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peer_policy_refuses_internal_addresses_and_allows_public_ones() {
        let public = PeerPolicy {
            allow_loopback: false,
            allow_private: false,
        };
        for refused in [
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "::ffff:127.0.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "::",
            "255.255.255.255",
            "224.0.0.1",
            "ff02::1",
            "169.254.169.254",
            "fe80::1",
            "192.168.1.20",
            "10.0.0.5",
            "172.16.3.4",
            "100.64.0.1",
            "fd00::1",
            "::ffff:10.1.2.3",
        ] {
            let ip: IpAddr = refused.parse().expect("valid ip");
            assert!(!public.allows(ip), "{refused} should be refused");
        }
        for allowed in ["203.0.113.7", "100.128.0.1", "172.32.0.1", "2001:db8::1"] {
            let ip: IpAddr = allowed.parse().expect("valid ip");
            assert!(public.allows(ip), "{allowed} should be allowed");
        }
        let local = PeerPolicy {
            allow_loopback: true,
            allow_private: false,
        };
        assert!(local.allows("127.0.0.1".parse().expect("valid ip")));
        assert!(!local.allows("0.0.0.0".parse().expect("valid ip")));
        assert!(!local.allows("10.0.0.5".parse().expect("valid ip")));
        let lan = PeerPolicy {
            allow_loopback: false,
            allow_private: true,
        };
        assert!(lan.allows("192.168.1.20".parse().expect("valid ip")));
        assert!(lan.allows("fd00::1".parse().expect("valid ip")));
        assert!(!lan.allows("127.0.0.1".parse().expect("valid ip")));
        assert!(!lan.allows("169.254.169.254".parse().expect("valid ip")));
    }
}
