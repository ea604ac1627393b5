//! The built-in TURN relay: webrtc-rs's `turn` server on one UDP socket and, on the same
//! port, a TCP listener (plus optionally a TLS one), accepting only the short-lived REST-API
//! credentials from [`super::credentials`], with relay ports taken from a fixed range.
//!
//! The `turn` crate does the STUN/TURN protocol work; this module wires in the credential
//! check ([`super::auth`]), the stream listeners ([`super::stream`]), the caps and peer policy
//! ([`super::allocations`]), and a start/stop lifecycle that gives the listening ports back.
//!
//! Relay sockets (toward the peers) are UDP in the family of the external IP. Clients may
//! reach the relay over IPv4 or IPv6, whatever the listen addresses allow; an allocation
//! relays only to peers of the relay's own family (the crate has no dual-stack allocations).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::net::{TcpListener, UdpSocket};
use tokio_rustls::TlsAcceptor;
use turn::relay::relay_range::RelayAddressGeneratorRanges;
use turn::server::config::{ConnConfig, ServerConfig};
use turn::server::Server;
use webrtc_util::vnet::net::Net;
use webrtc_util::Conn;

use super::admission::{Admission, ConnectionLimits};
use super::allocations::{AllocationCaps, PendingSlot, RelayGenerator, TappedConn};
use super::auth::RestAuthHandler;
use super::metrics::{Transport, TurnMetrics};
use super::peer_policy::{is_private, PeerPolicy};
use super::stream::{StreamConn, StreamListener, StreamTimeouts};

pub use super::allocations::DEFAULT_MAX_ALLOCATIONS_PER_CREDENTIAL;

/// How long [`TurnRelay::stop`] waits for the `turn` crate's tasks to let go
/// of the listening socket before giving up.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Upper bound on random port picks per allocation; the crate's default of 10
/// fails too early when a small range is nearly full.
const MAX_PORT_PICKS: u16 = 512;

/// The default cap on live allocations in total.
pub const DEFAULT_MAX_ALLOCATIONS: usize = 1000;

/// Settings for [`TurnRelay::start`].
#[derive(Clone)]
pub struct RelayConfig {
    /// Where the relay listens for TURN clients over UDP and TCP (the same port), e.g.
    /// `0.0.0.0:3478`. Port 0 picks a free port (see [`TurnRelay::local_addr`]).
    pub listen: SocketAddr,
    /// TURN over TLS: where, and with which certificate.
    pub tls: Option<TlsListen>,
    /// The address put into relay candidates, i.e. the public IP. Relay
    /// sockets use this address's family. Loopback peers are only relayed to
    /// when this is itself a loopback address (tests, single-host setups), and
    /// private ones when this is private or `allow_private_peers` is set.
    pub external_ip: IpAddr,
    /// Ports for relay sockets, e.g. `49160..=49200`; must not include 0.
    pub relay_ports: RangeInclusive<u16>,
    /// The TURN realm, e.g. `"visavis"`.
    pub realm: String,
    /// The shared secret that signs credentials; never logged.
    pub secret: Vec<u8>,
    /// Relay to private-network peers even though the external IP is public.
    pub allow_private_peers: bool,
    /// Live allocations per credential at most.
    pub max_allocations_per_credential: usize,
    /// Live allocations in total at most.
    pub max_allocations: usize,
    /// Limits on new TCP/TLS connections.
    pub connection_limits: ConnectionLimits,
    /// Timeouts of TCP/TLS connections.
    pub stream_timeouts: StreamTimeouts,
    /// Where the relay counts what it does.
    pub metrics: TurnMetrics,
}

/// The TLS listener of a relay.
#[derive(Clone)]
pub struct TlsListen {
    /// Where to listen, e.g. `0.0.0.0:5349` or `[::]:443`.
    pub listen: SocketAddr,
    /// The server's certificate and key.
    pub config: Arc<rustls::ServerConfig>,
}

// By hand so that `{:?}` on the config (e.g. in a startup log) cannot leak
// the secret.
impl fmt::Debug for RelayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelayConfig")
            .field("listen", &self.listen)
            .field("tls_listen", &self.tls.as_ref().map(|tls| tls.listen))
            .field("external_ip", &self.external_ip)
            .field("relay_ports", &self.relay_ports)
            .field("realm", &self.realm)
            .field("secret", &"[redacted]")
            .field("allow_private_peers", &self.allow_private_peers)
            .field("max_allocations", &self.max_allocations)
            .finish_non_exhaustive()
    }
}

/// A running TURN relay. Stop it with [`TurnRelay::stop`]; merely dropping it
/// also shuts the `turn` server down, but without waiting for the ports.
pub struct TurnRelay {
    server: Server,
    // Kept so that `stop` can tell when the crate's tasks have dropped their
    // clones, i.e. when the port is really free again.
    socket: Arc<UdpSocket>,
    local_addr: SocketAddr,
    tcp: StreamListener,
    tls: Option<(StreamListener, SocketAddr)>,
    caps: Arc<AllocationCaps>,
    admission: Arc<Admission>,
}

impl fmt::Debug for TurnRelay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TurnRelay")
            .field("local_addr", &self.local_addr)
            .field("tls_addr", &self.tls_addr())
            .finish_non_exhaustive()
    }
}

impl TurnRelay {
    /// Binds the UDP and TCP listeners (and the TLS one if configured) and starts serving
    /// TURN on them.
    ///
    /// Fails on an empty secret or realm, an empty relay port range or one
    /// that includes port 0, or when a listen address cannot be bound.
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

        let (socket, tcp_listener, local_addr) = bind_udp_and_tcp(config.listen).await?;
        let socket = Arc::new(socket);
        let tls_listener = match &config.tls {
            Some(tls) => Some((
                TcpListener::bind(tls.listen)
                    .await
                    .with_context(|| format!("binding the TURN TLS listener on {}", tls.listen))?,
                TlsAcceptor::from(tls.config.clone()),
            )),
            None => None,
        };

        let admission = Admission::new(config.connection_limits.clone());
        let caps = AllocationCaps::new(
            config.max_allocations_per_credential,
            config.max_allocations,
        );
        let tcp = StreamListener::spawn(
            tcp_listener,
            None,
            config.stream_timeouts,
            admission.clone(),
            config.metrics.clone(),
        )
        .context("starting the TURN TCP listener")?;
        let tls = match tls_listener {
            Some((listener, acceptor)) => {
                let addr = listener
                    .local_addr()
                    .context("reading the TURN TLS address")?;
                let listener = StreamListener::spawn(
                    listener,
                    Some(acceptor),
                    config.stream_timeouts,
                    admission.clone(),
                    config.metrics.clone(),
                )
                .context("starting the TURN TLS listener")?;
                Some((listener, addr))
            }
            None => None,
        };

        let policy = PeerPolicy {
            allow_loopback: config.external_ip.is_loopback(),
            allow_private: config.allow_private_peers || is_private(config.external_ip),
        };
        let relays = RelaySettings {
            config: &config,
            policy,
            caps: caps.clone(),
            port_count: max_port - min_port + 1,
        };
        let udp_conn: Arc<dyn Conn + Send + Sync> = socket.clone();
        let mut conn_configs = vec![
            relays.conn_config(udp_conn, Transport::Udp, None),
            relays.conn_config(tcp.conn.clone(), Transport::Tcp, Some(tcp.conn.clone())),
        ];
        if let Some((tls, _)) = &tls {
            conn_configs.push(relays.conn_config(
                tls.conn.clone(),
                Transport::Tls,
                Some(tls.conn.clone()),
            ));
        }

        let server = Server::new(ServerConfig {
            conn_configs,
            realm: config.realm.clone(),
            auth_handler: Arc::new(RestAuthHandler::new(
                config.secret.clone(),
                config.realm.clone(),
            )),
            // Zero means the crate's default channel-binding lifetime.
            channel_bind_timeout: Duration::ZERO,
            alloc_close_notify: None,
        })
        .await
        .context("starting the TURN server")?;

        let tls_addr = tls.as_ref().map(|(_, addr)| *addr);
        tracing::info!(%local_addr, ?tls_addr, external_ip = %config.external_ip, min_port, max_port, "TURN relay listening on UDP and TCP");
        Ok(TurnRelay {
            server,
            socket,
            local_addr,
            tcp,
            tls,
            caps,
            admission,
        })
    }

    /// The actually bound UDP address, which TCP shares (useful when listening on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The actually bound TLS address, if TLS is on.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls.as_ref().map(|(_, addr)| *addr)
    }

    /// Live allocations over all transports.
    pub fn live_allocations(&self) -> usize {
        self.caps.live()
    }

    /// Open TCP and TLS client connections.
    pub fn open_connections(&self) -> usize {
        self.admission.open_connections()
    }

    /// Clients connected over TCP and over TLS now, as the listeners see them.
    pub fn connected_clients(&self) -> (usize, usize) {
        let tls = self
            .tls
            .as_ref()
            .map_or(0, |(tls, _)| tls.conn.client_count());
        (self.tcp.conn.client_count(), tls)
    }

    /// Closes all allocations and listeners, and waits until the listening
    /// ports can be bound again.
    pub async fn stop(self) -> anyhow::Result<()> {
        let TurnRelay {
            server,
            socket,
            local_addr,
            tcp,
            tls,
            ..
        } = self;
        server.close().await.context("closing the TURN server")?;
        tcp.stop().await;
        if let Some((tls, _)) = tls {
            tls.stop().await;
        }
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

/// What every listener's relay-address generator shares.
struct RelaySettings<'a> {
    config: &'a RelayConfig,
    policy: PeerPolicy,
    caps: Arc<AllocationCaps>,
    port_count: u16,
}

impl RelaySettings<'_> {
    /// The crate's per-listener config: the listener wrapped in a [`TappedConn`], and a
    /// [`RelayGenerator`] reading its notes.
    fn conn_config(
        &self,
        listener: Arc<dyn Conn + Send + Sync>,
        transport: Transport,
        stream: Option<Arc<StreamConn>>,
    ) -> ConnConfig {
        let pending = PendingSlot::default();
        let config = self.config;
        ConnConfig {
            conn: Arc::new(TappedConn::new(listener, pending.clone())),
            relay_addr_generator: Box::new(RelayGenerator {
                inner: RelayAddressGeneratorRanges {
                    relay_address: config.external_ip,
                    min_port: *config.relay_ports.start(),
                    max_port: *config.relay_ports.end(),
                    max_retries: self.port_count.clamp(10, MAX_PORT_PICKS),
                    address: relay_bind_host(config.listen.ip(), config.external_ip),
                    net: Arc::new(Net::new(None)),
                },
                policy: self.policy,
                transport,
                caps: self.caps.clone(),
                pending,
                stream,
                metrics: config.metrics.clone(),
            }),
        }
    }
}

/// The host part relay sockets bind to, formatted the way the crate's
/// `host:port` resolver expects. A wildcard listener gets wildcard relays of
/// the external address's family, since that is the family the relay
/// candidates advertise; so does a listener of the other family.
fn relay_bind_host(listen_ip: IpAddr, external_ip: IpAddr) -> String {
    let same_family = listen_ip.is_ipv4() == external_ip.is_ipv4();
    let ip = if listen_ip.is_unspecified() || !same_family {
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

/// How many port pairs to try when the configured port is 0 and the port UDP got is already
/// taken for TCP by someone else.
const EPHEMERAL_PAIR_ATTEMPTS: usize = 8;

/// Binds UDP on `listen`, then TCP on the very port UDP got. With port 0 the system picks a
/// free UDP port, which may be in use for TCP: then another pair is tried.
async fn bind_udp_and_tcp(
    listen: SocketAddr,
) -> anyhow::Result<(UdpSocket, TcpListener, SocketAddr)> {
    let mut attempt = 1;
    loop {
        let socket = UdpSocket::bind(listen)
            .await
            .with_context(|| format!("binding the TURN listener on {listen}"))?;
        let local_addr = socket
            .local_addr()
            .context("reading the TURN listener's address")?;
        match TcpListener::bind(local_addr).await {
            Ok(tcp) => return Ok((socket, tcp, local_addr)),
            Err(error)
                if listen.port() == 0
                    && error.kind() == std::io::ErrorKind::AddrInUse
                    && attempt < EPHEMERAL_PAIR_ATTEMPTS =>
            {
                attempt += 1;
            }
            Err(error) => {
                return Err(error)
                    .with_context(|| format!("binding the TURN TCP listener on {local_addr}"))
            }
        }
    }
}

#[cfg(test)]
mod tests;
