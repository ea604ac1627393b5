//! Who may open a TURN connection over TCP/TLS: a per-IP rate of new connections, a per-IP
//! cap on open ones, and a cap on all open ones. A connection holds an [`Admitted`] ticket;
//! dropping it gives the slot back.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// The default rate of new TURN connections per IP, per minute. A browser opens one TCP and
/// one TLS connection per network interface and gathering, so even a few ICE restarts and
/// reloads a minute stay far below it.
pub const DEFAULT_NEW_CONNECTIONS_PER_IP_PER_MINUTE: u32 = 60;

/// The default cap on open TURN connections from one IP (a household or office behind one
/// NAT may hold a few calls at once).
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 64;

/// The default cap on all open TURN TCP/TLS connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// The limits for new TCP/TLS connections.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// New connections one IP may open per minute (the burst is the same number).
    pub new_per_ip_per_minute: NonZeroU32,
    /// Connections one IP may hold open at once.
    pub max_per_ip: usize,
    /// Connections all clients together may hold open at once.
    pub max_total: usize,
    /// Exempt loopback clients from the per-IP limits (tests, benchmarks).
    pub exempt_loopback: bool,
    /// Proxies in front of the relay (e.g. nginx `stream`), exempt from the per-IP limits: all
    /// their clients arrive from their address.
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            new_per_ip_per_minute: NonZeroU32::new(DEFAULT_NEW_CONNECTIONS_PER_IP_PER_MINUTE)
                .unwrap_or(NonZeroU32::MIN),
            max_per_ip: DEFAULT_MAX_CONNECTIONS_PER_IP,
            max_total: DEFAULT_MAX_CONNECTIONS,
            exempt_loopback: false,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The IP opened too many connections recently.
    RateLimit,
    /// The IP holds too many open connections.
    IpCap,
    /// The relay holds too many open connections.
    TotalCap,
}

impl Refusal {
    /// A short label for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::RateLimit => "rate_limit",
            Refusal::IpCap => "ip_cap",
            Refusal::TotalCap => "total_cap",
        }
    }
}

/// The shared admission state of one relay (both listeners).
pub struct Admission {
    limits: ConnectionLimits,
    rate: DefaultKeyedRateLimiter<IpAddr>,
    open: Mutex<OpenCounts>,
}

#[derive(Default)]
struct OpenCounts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// One admitted connection; its slot is given back on drop.
pub struct Admitted {
    admission: Arc<Admission>,
    ip: IpAddr,
}

impl Admission {
    /// Admission with `limits`.
    pub fn new(limits: ConnectionLimits) -> Arc<Admission> {
        Arc::new(Admission {
            rate: RateLimiter::keyed(Quota::per_minute(limits.new_per_ip_per_minute)),
            limits,
            open: Mutex::new(OpenCounts::default()),
        })
    }

    /// Admits a new connection from `ip`, or says why not.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Admitted, Refusal> {
        // One IP is one key whether it arrives as IPv4 or IPv4-mapped IPv6.
        let ip = ip.to_canonical();
        let exempt = (self.limits.exempt_loopback && ip.is_loopback())
            || self
                .limits
                .trusted_proxies
                .iter()
                .any(|proxy| proxy.to_canonical() == ip);
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if open.total >= self.limits.max_total {
            return Err(Refusal::TotalCap);
        }
        let from_ip = open.per_ip.get(&ip).copied().unwrap_or(0);
        if !exempt {
            if from_ip >= self.limits.max_per_ip {
                return Err(Refusal::IpCap);
            }
            if self.rate.check_key(&ip).is_err() {
                return Err(Refusal::RateLimit);
            }
        }
        open.total += 1;
        open.per_ip.insert(ip, from_ip + 1);
        Ok(Admitted {
            admission: self.clone(),
            ip,
        })
    }

    /// Forgets rate-limit entries of IPs that have been quiet for a while.
    pub fn forget_idle(&self) {
        self.rate.retain_recent();
        self.rate.shrink_to_fit();
    }

    /// Open connections now (for tests).
    pub fn open_connections(&self) -> usize {
        self.open
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .total
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self
            .admission
            .open
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.per_ip.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.per_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_minute: u32, per_ip: usize, total: usize) -> ConnectionLimits {
        ConnectionLimits {
            new_per_ip_per_minute: NonZeroU32::new(per_minute).expect("non-zero"),
            max_per_ip: per_ip,
            max_total: total,
            exempt_loopback: false,
            trusted_proxies: Vec::new(),
        }
    }

    #[test]
    fn an_ip_over_its_open_cap_is_refused_until_one_closes() {
        let admission = Admission::new(limits(100, 2, 100));
        let ip: IpAddr = "203.0.113.5".parse().expect("valid ip");
        let first = admission.admit(ip).expect("first");
        let _second = admission.admit(ip).expect("second");
        assert_eq!(admission.admit(ip).err(), Some(Refusal::IpCap));
        // Another IP is not affected.
        let other: IpAddr = "203.0.113.6".parse().expect("valid ip");
        assert!(admission.admit(other).is_ok());
        drop(first);
        assert!(admission.admit(ip).is_ok());
    }

    #[test]
    fn an_ip_opening_too_fast_is_refused_and_mapped_addresses_count_as_the_same_ip() {
        let admission = Admission::new(limits(2, 100, 100));
        let v4: IpAddr = "203.0.113.5".parse().expect("valid ip");
        let mapped: IpAddr = "::ffff:203.0.113.5".parse().expect("valid ip");
        drop(admission.admit(v4).expect("first"));
        drop(admission.admit(mapped).expect("second"));
        assert_eq!(admission.admit(v4).err(), Some(Refusal::RateLimit));
        assert_eq!(admission.open_connections(), 0);
    }

    #[test]
    fn the_total_cap_holds_for_everyone_even_exempt_loopback() {
        let mut exempt = limits(1, 1, 2);
        exempt.exempt_loopback = true;
        let admission = Admission::new(exempt);
        let lo: IpAddr = "127.0.0.1".parse().expect("valid ip");
        let _a = admission.admit(lo).expect("first");
        let _b = admission
            .admit(lo)
            .expect("loopback is exempt from the per-IP limits");
        assert_eq!(admission.admit(lo).err(), Some(Refusal::TotalCap));
        assert_eq!(admission.open_connections(), 2);
    }

    #[test]
    fn a_trusted_proxy_is_exempt_from_the_per_ip_limits() {
        let mut proxied = limits(1, 1, 10);
        let proxy: IpAddr = "192.0.2.80".parse().expect("valid ip");
        proxied.trusted_proxies = vec![proxy];
        let admission = Admission::new(proxied);
        let _a = admission.admit(proxy).expect("first");
        let _b = admission
            .admit(proxy)
            .expect("the proxy carries many clients");
        let stranger: IpAddr = "192.0.2.81".parse().expect("valid ip");
        let _c = admission.admit(stranger).expect("first");
        assert_eq!(admission.admit(stranger).err(), Some(Refusal::IpCap));
    }
}
