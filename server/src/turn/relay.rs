//! The built-in TURN relay: webrtc-rs's `turn` server on one UDP socket,
//! accepting only the short-lived REST-API credentials from
//! [`super::credentials`], with relay ports taken from a fixed range.
//!
//! The `turn` crate does the STUN/TURN protocol work; this module adds the
//! credential check, a peer-address policy the crate lacks, and a start/stop
//! lifecycle that gives the listening port back.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use async_trait::async_trait;
use tokio::net::UdpSocket;
use turn::auth::{generate_auth_key, AuthHandler};
use turn::relay::relay_range::RelayAddressGeneratorRanges;
use turn::relay::RelayAddressGenerator;
use turn::server::config::{ConnConfig, ServerConfig};
use turn::server::Server;
use webrtc_util::vnet::net::Net;
use webrtc_util::Conn;

use super::credentials::{expiry_of, password_for};

/// How long [`TurnRelay::stop`] waits for the `turn` crate's tasks to let go
/// of the listening socket before giving up.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Upper bound on random port picks per allocation; the crate's default of 10
/// fails too early when a small range is nearly full.
const MAX_PORT_PICKS: u16 = 512;

/// Settings for [`TurnRelay::start`].
#[derive(Clone)]
pub struct RelayConfig {
    /// Where the relay listens for TURN clients over UDP, e.g. `0.0.0.0:3478`.
    /// Port 0 picks a free port (see [`TurnRelay::local_addr`]).
    pub listen: SocketAddr,
    /// The address put into relay candidates, i.e. the public IP. Relay
    /// sockets use this address's family. Loopback peers are only relayed to
    /// when this is itself a loopback address (tests, single-host setups).
    pub external_ip: IpAddr,
    /// Ports for relay sockets, e.g. `49160..=49200`; must not include 0.
    pub relay_ports: RangeInclusive<u16>,
    /// The TURN realm, e.g. `"visavis"`.
    pub realm: String,
    /// The shared secret that signs credentials; never logged.
    pub secret: Vec<u8>,
}

// By hand so that `{:?}` on the config (e.g. in a startup log) cannot leak
// the secret.
impl fmt::Debug for RelayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelayConfig")
            .field("listen", &self.listen)
            .field("external_ip", &self.external_ip)
            .field("relay_ports", &self.relay_ports)
            .field("realm", &self.realm)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// A running TURN relay. Stop it with [`TurnRelay::stop`]; merely dropping it
/// also shuts the `turn` server down, but without waiting for the port.
pub struct TurnRelay {
    server: Server,
    // Kept so that `stop` can tell when the crate's tasks have dropped their
    // clones, i.e. when the port is really free again.
    socket: Arc<UdpSocket>,
    local_addr: SocketAddr,
}

impl fmt::Debug for TurnRelay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TurnRelay")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl TurnRelay {
    /// Binds the UDP listener and starts serving TURN on it.
    ///
    /// Fails on an empty secret or realm, an empty relay port range or one
    /// that includes port 0, or when the listen address cannot be bound.
    pub async fn start(config: RelayConfig) -> anyhow::Result<TurnRelay> {
        if config.secret.is_empty() {
            // With an empty secret anyone can compute valid passwords.
            bail!("the TURN secret must not be empty");
        }
        if config.realm.is_empty() {
            bail!("the TURN realm must not be empty");
        }
        let (min_port, max_port) = (*config.relay_ports.start(), *config.relay_ports.end());
        if min_port == 0 || max_port < min_port {
            bail!("the TURN relay port range {min_port}..={max_port} is empty or includes port 0");
        }

        let socket = Arc::new(
            UdpSocket::bind(config.listen)
                .await
                .with_context(|| format!("binding the TURN listener on {}", config.listen))?,
        );
        let local_addr = socket
            .local_addr()
            .context("reading the TURN listener's address")?;

        let port_count = max_port - min_port + 1;
        let relay_addr_generator = PeerFilteringGenerator {
            inner: RelayAddressGeneratorRanges {
                relay_address: config.external_ip,
                min_port,
                max_port,
                max_retries: port_count.clamp(10, MAX_PORT_PICKS),
                address: relay_bind_host(config.listen.ip(), config.external_ip),
                net: Arc::new(Net::new(None)),
            },
            policy: PeerPolicy {
                allow_loopback: config.external_ip.is_loopback(),
            },
        };

        let conn: Arc<dyn Conn + Send + Sync> = socket.clone();
        let server = Server::new(ServerConfig {
            conn_configs: vec![ConnConfig {
                conn,
                relay_addr_generator: Box::new(relay_addr_generator),
            }],
            realm: config.realm.clone(),
            auth_handler: Arc::new(RestAuthHandler {
                secret: config.secret,
                realm: config.realm,
            }),
            // Zero means the crate's default channel-binding lifetime.
            channel_bind_timeout: Duration::ZERO,
            alloc_close_notify: None,
        })
        .await
        .context("starting the TURN server")?;

        tracing::info!(%local_addr, external_ip = %config.external_ip, min_port, max_port, "TURN relay listening on UDP");
        Ok(TurnRelay {
            server,
            socket,
            local_addr,
        })
    }

    /// The actually bound UDP address (useful when listening on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Closes all allocations and the listener, and waits until the listening
    /// port can be bound again.
    pub async fn stop(self) -> anyhow::Result<()> {
        let TurnRelay {
            server,
            socket,
            local_addr,
        } = self;
        server.close().await.context("closing the TURN server")?;
        // `close` only signals the crate's read loop; it exits (and drops its
        // socket clone) shortly after, so wait for that before reporting the
        // port as free.
        let deadline = tokio::time::Instant::now() + STOP_TIMEOUT;
        while Arc::strong_count(&socket) > 1 {
            if tokio::time::Instant::now() >= deadline {
                bail!("the TURN listener on {local_addr} was still in use {STOP_TIMEOUT:?} after closing");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        drop(socket);
        tracing::info!(%local_addr, "TURN relay stopped");
        Ok(())
    }
}

/// The host part relay sockets bind to, formatted the way the crate's
/// `host:port` resolver expects. A wildcard listener gets wildcard relays of
/// the external address's family, since that is the family the relay
/// candidates advertise.
fn relay_bind_host(listen_ip: IpAddr, external_ip: IpAddr) -> String {
    let ip = if listen_ip.is_unspecified() {
        match external_ip {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        }
    } else {
        listen_ip
    };
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// Why a username was refused. Deliberately carries nothing secret and no
/// client address, so it can be logged as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rejection {
    Malformed,
    Expired { expiry: u64 },
}

/// Checks REST-API usernames (`<expiry>:<id>`) and derives the long-term key
/// from the password the secret implies.
struct RestAuthHandler {
    secret: Vec<u8>,
    realm: String,
}

impl fmt::Debug for RestAuthHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestAuthHandler")
            .field("secret", &"[redacted]")
            .field("realm", &self.realm)
            .finish()
    }
}

impl RestAuthHandler {
    /// The long-term key `MD5(username ":" realm ":" password)` for a
    /// well-formed, unexpired username. The configured realm is used rather
    /// than the one the client sent: a client keyed for another realm then
    /// simply fails the integrity check.
    fn key_for(&self, username: &str, now_unix: u64) -> Result<Vec<u8>, Rejection> {
        let expiry = expiry_of(username).ok_or(Rejection::Malformed)?;
        if expiry <= now_unix {
            return Err(Rejection::Expired { expiry });
        }
        let password = password_for(&self.secret, username);
        Ok(generate_auth_key(username, &self.realm, &password))
    }
}

impl AuthHandler for RestAuthHandler {
    fn auth_handle(
        &self,
        username: &str,
        _realm: &str,
        _src_addr: SocketAddr,
    ) -> Result<Vec<u8>, turn::Error> {
        // A clock before 1970 is a broken host; treating it as 0 only makes
        // expiry checks more lenient by the same error, not unsafe.
        let now_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.key_for(username, now_unix).map_err(|rejection| {
            // No username id, password, secret or client address in the log.
            match rejection {
                Rejection::Malformed => {
                    tracing::info!(reason = "malformed username", "refused TURN credentials")
                }
                Rejection::Expired { expiry } => {
                    tracing::info!(reason = "expired", expiry, "refused TURN credentials")
                }
            }
            // The crate answers any error here with an error response
            // (400, "no such user") without looking at its text.
            turn::Error::Other("TURN credentials refused".to_owned())
        })
    }
}

/// Which peer addresses relays may talk to. The `turn` crate relays to any
/// address a client names, which would let any credential holder reach
/// services on the relay host's loopback interface or send to
/// broadcast/multicast groups; this closes that hole.
#[derive(Debug, Clone, Copy)]
struct PeerPolicy {
    allow_loopback: bool,
}

impl PeerPolicy {
    fn allows(self, ip: IpAddr) -> bool {
        // IPv4-mapped IPv6 addresses must not sneak past the IPv4 checks.
        let ip = ip.to_canonical();
        if ip.is_unspecified() || ip.is_multicast() {
            return false;
        }
        if ip.is_loopback() {
            return self.allow_loopback;
        }
        match ip {
            IpAddr::V4(v4) => !(v4.is_broadcast() || v4.is_link_local() || v4.octets()[0] == 0),
            // fe80::/10, link-local unicast.
            IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) != 0xfe80,
        }
    }
}

/// Wraps the crate's port-range generator so every relay socket it hands out
/// enforces the [`PeerPolicy`].
struct PeerFilteringGenerator {
    inner: RelayAddressGeneratorRanges,
    policy: PeerPolicy,
}

#[async_trait]
impl RelayAddressGenerator for PeerFilteringGenerator {
    fn validate(&self) -> Result<(), turn::Error> {
        self.inner.validate()
    }

    async fn allocate_conn(
        &self,
        use_ipv4: bool,
        requested_port: u16,
    ) -> Result<(Arc<dyn Conn + Send + Sync>, SocketAddr), turn::Error> {
        let (conn, relay_addr) = self.inner.allocate_conn(use_ipv4, requested_port).await?;
        let filtered: Arc<dyn Conn + Send + Sync> = Arc::new(PeerFilteredConn {
            inner: conn,
            policy: self.policy,
        });
        Ok((filtered, relay_addr))
    }
}

/// A relay socket that silently drops datagrams to and from refused peers.
/// Dropping (rather than failing) keeps a misbehaving client from filling the
/// log with the crate's error messages.
struct PeerFilteredConn {
    inner: Arc<dyn Conn + Send + Sync>,
    policy: PeerPolicy,
}

#[async_trait]
impl Conn for PeerFilteredConn {
    async fn connect(&self, addr: SocketAddr) -> webrtc_util::Result<()> {
        if !self.policy.allows(addr.ip()) {
            return Err(webrtc_util::Error::Other(
                "peer address refused by the relay policy".to_owned(),
            ));
        }
        self.inner.connect(addr).await
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        // Only reachable after `connect`, which already applied the policy.
        self.inner.recv(buf).await
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        loop {
            let (n, from) = self.inner.recv_from(buf).await?;
            if self.policy.allows(from.ip()) {
                return Ok((n, from));
            }
        }
    }

    async fn send(&self, buf: &[u8]) -> webrtc_util::Result<usize> {
        self.inner.send(buf).await
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc_util::Result<usize> {
        if !self.policy.allows(target.ip()) {
            return Ok(buf.len());
        }
        self.inner.send_to(buf, target).await
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        self.inner.remote_addr()
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        self.inner.close().await
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::turn::credentials::issue;
    use turn::client::{Client, ClientConfig};

    const SECRET: &[u8] = b"test secret";
    const REALM: &str = "visavis";
    /// Generous bound on any single network step, so a bug hangs no test.
    const STEP: Duration = Duration::from_secs(10);

    fn now_unix() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs()
    }

    fn config(external_ip: IpAddr) -> RelayConfig {
        RelayConfig {
            listen: "127.0.0.1:0".parse().expect("valid address"),
            external_ip,
            relay_ports: 41000..=41999,
            realm: REALM.to_owned(),
            secret: SECRET.to_vec(),
        }
    }

    fn loopback() -> IpAddr {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    }

    /// Connects a `turn` client to the relay and asks for an allocation.
    async fn allocate(
        server: SocketAddr,
        username: &str,
        password: &str,
    ) -> Result<(Client, impl Conn), turn::Error> {
        let conn = UdpSocket::bind("127.0.0.1:0").await?;
        let client = Client::new(ClientConfig {
            stun_serv_addr: server.to_string(),
            turn_serv_addr: server.to_string(),
            username: username.to_owned(),
            password: password.to_owned(),
            realm: REALM.to_owned(),
            software: String::new(),
            rto_in_ms: 0,
            conn: Arc::new(conn),
            vnet: None,
        })
        .await?;
        client.listen().await?;
        let relay_conn = tokio::time::timeout(STEP, client.allocate())
            .await
            .map_err(|_| turn::Error::Other("allocation timed out".to_owned()))??;
        Ok((client, relay_conn))
    }

    #[tokio::test]
    async fn valid_short_lived_credentials_get_an_allocation_and_bad_ones_do_not() {
        let relay = TurnRelay::start(config(loopback()))
            .await
            .expect("relay starts");
        let server = relay.local_addr();
        assert_ne!(server.port(), 0);

        let good = issue(SECRET, now_unix(), Duration::from_secs(600), "alice");
        let (client, relay_conn) = allocate(server, &good.username, &good.credential)
            .await
            .expect("valid credentials get an allocation");
        let relayed = relay_conn.local_addr().expect("relayed address");
        assert_eq!(relayed.ip(), loopback());
        assert!((41000..=41999).contains(&relayed.port()), "{relayed}");
        relay_conn.close().await.expect("relay conn closes");
        client.close().await.expect("client closes");

        let wrong = allocate(server, &good.username, "not-the-password").await;
        assert!(
            wrong.is_err(),
            "a wrong password must not get an allocation"
        );

        let expired = issue(SECRET, now_unix() - 120, Duration::from_secs(60), "bob");
        let rejected = allocate(server, &expired.username, &expired.credential).await;
        assert!(
            rejected.is_err(),
            "an expired username must not get an allocation"
        );

        let other_secret = issue(b"other secret", now_unix(), Duration::from_secs(600), "eve");
        let forged = allocate(server, &other_secret.username, &other_secret.credential).await;
        assert!(
            forged.is_err(),
            "credentials signed with another secret must fail"
        );

        let malformed = allocate(server, "alice", &password_for(SECRET, "alice")).await;
        assert!(malformed.is_err(), "a username without an expiry must fail");

        relay.stop().await.expect("relay stops");
    }

    #[tokio::test]
    async fn data_is_relayed_between_the_client_and_a_loopback_peer() {
        let relay = TurnRelay::start(config(loopback()))
            .await
            .expect("relay starts");
        let creds = issue(SECRET, now_unix(), Duration::from_secs(600), "carol");
        let (client, relay_conn) = allocate(relay.local_addr(), &creds.username, &creds.credential)
            .await
            .expect("allocation");
        let relayed = relay_conn.local_addr().expect("relayed address");

        let peer = UdpSocket::bind("127.0.0.1:0").await.expect("peer binds");
        let peer_addr = peer.local_addr().expect("peer address");

        // Client → peer: the client first installs a permission for the peer.
        relay_conn
            .send_to(b"hello peer", peer_addr)
            .await
            .expect("client sends");
        let mut buf = [0u8; 1500];
        let (n, from) = tokio::time::timeout(STEP, peer.recv_from(&mut buf))
            .await
            .expect("peer receives in time")
            .expect("peer receives");
        assert_eq!(&buf[..n], b"hello peer");
        assert_eq!(from, relayed);

        // Peer → client, through the same allocation.
        peer.send_to(b"hello client", relayed)
            .await
            .expect("peer sends");
        let (n, from) = tokio::time::timeout(STEP, relay_conn.recv_from(&mut buf))
            .await
            .expect("client receives in time")
            .expect("client receives");
        assert_eq!(&buf[..n], b"hello client");
        assert_eq!(from, peer_addr);

        relay_conn.close().await.expect("relay conn closes");
        client.close().await.expect("client closes");
        relay.stop().await.expect("relay stops");
    }

    #[tokio::test]
    async fn a_public_relay_advertises_its_external_ip_and_refuses_loopback_peers() {
        // TEST-NET-1 address: advertised, never actually bound.
        let external = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let relay = TurnRelay::start(config(external))
            .await
            .expect("relay starts");
        let creds = issue(SECRET, now_unix(), Duration::from_secs(600), "dave");
        let (client, relay_conn) = allocate(relay.local_addr(), &creds.username, &creds.credential)
            .await
            .expect("allocation");
        assert_eq!(relay_conn.local_addr().expect("relayed").ip(), external);

        let peer = UdpSocket::bind("127.0.0.1:0").await.expect("peer binds");
        let peer_addr = peer.local_addr().expect("peer address");
        relay_conn
            .send_to(b"to a host service", peer_addr)
            .await
            .expect("client sends");
        let mut buf = [0u8; 1500];
        let got = tokio::time::timeout(Duration::from_millis(700), peer.recv_from(&mut buf)).await;
        assert!(got.is_err(), "a loopback peer must receive nothing");

        relay_conn.close().await.expect("relay conn closes");
        client.close().await.expect("client closes");
        relay.stop().await.expect("relay stops");
    }

    #[tokio::test]
    async fn stopping_the_relay_frees_its_port() {
        let relay = TurnRelay::start(config(loopback()))
            .await
            .expect("relay starts");
        let addr = relay.local_addr();
        relay.stop().await.expect("relay stops");
        UdpSocket::bind(addr)
            .await
            .expect("the port can be bound again");
    }

    #[tokio::test]
    async fn bad_configurations_are_refused_at_start() {
        let mut no_secret = config(loopback());
        no_secret.secret.clear();
        assert!(TurnRelay::start(no_secret).await.is_err());

        let mut zero_port = config(loopback());
        zero_port.relay_ports = 0..=10;
        assert!(TurnRelay::start(zero_port).await.is_err());

        let mut inverted = config(loopback());
        // Built with `new` because the literal form is (rightly) a lint error.
        inverted.relay_ports = RangeInclusive::new(50000, 40000);
        assert!(TurnRelay::start(inverted).await.is_err());

        let mut no_realm = config(loopback());
        no_realm.realm.clear();
        assert!(TurnRelay::start(no_realm).await.is_err());
    }

    #[test]
    fn the_auth_handler_keys_valid_usernames_with_the_configured_realm() {
        let handler = RestAuthHandler {
            secret: SECRET.to_vec(),
            realm: REALM.to_owned(),
        };
        let username = "2000:alice";
        let expected = generate_auth_key(username, REALM, &password_for(SECRET, username));
        assert_eq!(handler.key_for(username, 1999), Ok(expected));
    }

    #[test]
    fn the_auth_handler_refuses_expired_and_malformed_usernames() {
        let handler = RestAuthHandler {
            secret: SECRET.to_vec(),
            realm: REALM.to_owned(),
        };
        assert_eq!(
            handler.key_for("2000:alice", 2000),
            Err(Rejection::Expired { expiry: 2000 })
        );
        assert_eq!(
            handler.key_for("2000:alice", 3000),
            Err(Rejection::Expired { expiry: 2000 })
        );
        assert_eq!(handler.key_for("alice", 0), Err(Rejection::Malformed));
        assert_eq!(handler.key_for("2000", 0), Err(Rejection::Malformed));
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let cfg = config(loopback());
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("test secret"), "{shown}");
        assert!(shown.contains("[redacted]"));
        let handler = RestAuthHandler {
            secret: SECRET.to_vec(),
            realm: REALM.to_owned(),
        };
        assert!(!format!("{handler:?}").contains("test secret"));
    }

    #[test]
    fn the_peer_policy_refuses_internal_addresses_and_allows_public_ones() {
        let public = PeerPolicy {
            allow_loopback: false,
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
        ] {
            let ip: IpAddr = refused.parse().expect("valid ip");
            assert!(!public.allows(ip), "{refused} should be refused");
        }
        for allowed in ["203.0.113.7", "192.168.1.20", "10.0.0.5", "2001:db8::1"] {
            let ip: IpAddr = allowed.parse().expect("valid ip");
            assert!(public.allows(ip), "{allowed} should be allowed");
        }
        let local = PeerPolicy {
            allow_loopback: true,
        };
        assert!(local.allows("127.0.0.1".parse().expect("valid ip")));
        assert!(!local.allows("0.0.0.0".parse().expect("valid ip")));
    }

    #[test]
    fn wildcard_listeners_bind_relays_in_the_external_family() {
        let any4 = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        let any6 = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
        let public4: IpAddr = "203.0.113.7".parse().expect("valid ip");
        let public6: IpAddr = "2001:db8::1".parse().expect("valid ip");
        assert_eq!(relay_bind_host(any4, public4), "0.0.0.0");
        assert_eq!(relay_bind_host(any6, public4), "0.0.0.0");
        assert_eq!(relay_bind_host(any4, public6), "[::]");
        assert_eq!(relay_bind_host(loopback(), loopback()), "127.0.0.1");
        assert_eq!(
            relay_bind_host("2001:db8::2".parse().expect("valid ip"), public6),
            "[2001:db8::2]"
        );
    }
}
