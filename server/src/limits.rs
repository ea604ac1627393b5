//! Abuse limits: a token bucket per connection, per-IP limits on connections and joins, a global
//! connection cap, and working out the client's IP behind a trusted proxy.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

/// How many refused messages in a row end a connection: a client that keeps sending after being
/// told `rate_limited` is not a browser following the protocol.
pub const MAX_STRIKES: u32 = 100;

/// What to do with one incoming frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the limit.
    Allow,
    /// Over the limit: answer `rate_limited` and drop the message.
    Refuse,
    /// Over the limit for too long: close the socket.
    Close,
}

/// The message budget of one connection.
pub struct MessageLimiter {
    bucket: DefaultDirectRateLimiter,
    strikes: u32,
}

impl MessageLimiter {
    /// A bucket refilled at `per_second` messages a second, holding at most `burst`.
    pub fn new(per_second: NonZeroU32, burst: NonZeroU32) -> MessageLimiter {
        MessageLimiter {
            bucket: RateLimiter::direct(Quota::per_second(per_second).allow_burst(burst)),
            strikes: 0,
        }
    }

    /// Spends one token for an incoming frame.
    pub fn check(&mut self) -> Verdict {
        if self.bucket.check().is_ok() {
            self.strikes = 0;
            return Verdict::Allow;
        }
        self.strikes += 1;
        if self.strikes > MAX_STRIKES {
            Verdict::Close
        } else {
            Verdict::Refuse
        }
    }
}

/// Per-IP budgets for new connections and joins, shared by all workers.
pub struct IpLimits {
    connections: DefaultKeyedRateLimiter<IpAddr>,
    joins: DefaultKeyedRateLimiter<IpAddr>,
    exempt_loopback: bool,
}

impl IpLimits {
    /// Budgets of `connections_per_minute` and `joins_per_minute` per IP; each allows a burst of
    /// its full minute's worth so a page reload or two never hits it.
    pub fn new(
        connections_per_minute: NonZeroU32,
        joins_per_minute: NonZeroU32,
        exempt_loopback: bool,
    ) -> IpLimits {
        IpLimits {
            connections: RateLimiter::keyed(Quota::per_minute(connections_per_minute)),
            joins: RateLimiter::keyed(Quota::per_minute(joins_per_minute)),
            exempt_loopback,
        }
    }

    fn exempt(&self, ip: Option<IpAddr>) -> bool {
        match ip {
            Some(ip) => self.exempt_loopback && ip.is_loopback(),
            // Without a known address there is no key to limit by.
            None => true,
        }
    }

    /// Whether `ip` may open another connection now.
    pub fn allow_connection(&self, ip: Option<IpAddr>) -> bool {
        self.exempt(ip) || ip.is_none_or(|ip| self.connections.check_key(&ip).is_ok())
    }

    /// Whether `ip` may join a room now.
    pub fn allow_join(&self, ip: Option<IpAddr>) -> bool {
        self.exempt(ip) || ip.is_none_or(|ip| self.joins.check_key(&ip).is_ok())
    }

    /// Forgets addresses whose budget is full again, so the tables do not grow without bound.
    pub fn forget_idle(&self) {
        self.connections.retain_recent();
        self.joins.retain_recent();
    }
}

/// The global cap on open connections. A slot is held for the life of a socket.
#[derive(Clone)]
pub struct ConnectionSlots {
    open: Arc<AtomicUsize>,
    max: usize,
}

/// One taken slot; dropping it frees the slot.
pub struct Slot {
    open: Arc<AtomicUsize>,
}

impl ConnectionSlots {
    /// Room for `max` connections.
    pub fn new(max: usize) -> ConnectionSlots {
        ConnectionSlots {
            open: Arc::new(AtomicUsize::new(0)),
            max,
        }
    }

    /// Takes a slot, or `None` at the cap.
    pub fn try_take(&self) -> Option<Slot> {
        let taken = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .is_ok();
        taken.then(|| Slot {
            open: self.open.clone(),
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The client's address: the socket's peer, or, when that peer is a trusted proxy, the last
/// address in `X-Forwarded-For` that is not itself a trusted proxy. Addresses a client writes into
/// the header are never believed unless a trusted proxy added them.
pub fn client_ip(
    peer: Option<SocketAddr>,
    forwarded_for: Option<&str>,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    let peer_ip = peer.map(|p| p.ip())?;
    if !trusted.contains(&peer_ip) {
        return Some(peer_ip);
    }
    let Some(header) = forwarded_for else {
        return Some(peer_ip);
    };
    for hop in header.rsplit(',') {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => continue,
            Ok(ip) => return Some(ip),
            Err(_) => return Some(peer_ip),
        }
    }
    Some(peer_ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).expect("test fixture is valid")
    }

    #[test]
    fn a_burst_within_the_budget_is_allowed() {
        let mut limiter = MessageLimiter::new(nz(1), nz(10));
        assert!((0..10).all(|_| limiter.check() == Verdict::Allow));
        assert_eq!(limiter.check(), Verdict::Refuse);
    }

    #[test]
    fn sustained_flooding_closes_the_connection() {
        let mut limiter = MessageLimiter::new(nz(1), nz(5));
        let verdicts: Vec<Verdict> = (0..5 + MAX_STRIKES as usize + 1)
            .map(|_| limiter.check())
            .collect();
        assert_eq!(verdicts.last(), Some(&Verdict::Close));
        assert_eq!(
            verdicts.iter().filter(|v| **v == Verdict::Refuse).count(),
            MAX_STRIKES as usize
        );
    }

    #[test]
    fn the_per_ip_connection_budget_runs_out() {
        let limits = IpLimits::new(nz(3), nz(3), false);
        let ip: IpAddr = "203.0.113.7".parse().expect("test fixture is valid");
        assert!((0..3).all(|_| limits.allow_connection(Some(ip))));
        assert!(!limits.allow_connection(Some(ip)));
        // Another address has its own budget.
        assert!(
            limits.allow_connection(Some("203.0.113.8".parse().expect("test fixture is valid")))
        );
    }

    #[test]
    fn loopback_is_exempt_only_when_asked() {
        let loopback: IpAddr = "127.0.0.1".parse().expect("test fixture is valid");
        let exempt = IpLimits::new(nz(1), nz(1), true);
        assert!((0..10).all(|_| exempt.allow_join(Some(loopback))));
        let strict = IpLimits::new(nz(1), nz(1), false);
        assert!(strict.allow_join(Some(loopback)));
        assert!(!strict.allow_join(Some(loopback)));
    }

    #[test]
    fn the_connection_cap_holds_and_slots_come_back() {
        let slots = ConnectionSlots::new(2);
        let a = slots.try_take().expect("test fixture is valid");
        let _b = slots.try_take().expect("test fixture is valid");
        assert!(slots.try_take().is_none());
        drop(a);
        assert!(slots.try_take().is_some());
    }

    #[test]
    fn forwarded_for_is_ignored_from_an_untrusted_peer() {
        let peer = "198.51.100.1:5000".parse().ok();
        assert_eq!(
            client_ip(peer, Some("6.6.6.6"), &[]),
            Some("198.51.100.1".parse().expect("test fixture is valid"))
        );
    }

    #[test]
    fn forwarded_for_is_used_from_a_trusted_proxy() {
        let proxy: IpAddr = "127.0.0.1".parse().expect("test fixture is valid");
        let peer = "127.0.0.1:5000".parse().ok();
        // The client forged the first entry; the proxy appended the real address last.
        let header = "6.6.6.6, 203.0.113.9";
        assert_eq!(
            client_ip(peer, Some(header), &[proxy]),
            Some("203.0.113.9".parse().expect("test fixture is valid"))
        );
    }
}
