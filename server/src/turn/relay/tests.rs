//! The relay against the `turn` crate's real client, over UDP, TCP and TLS.

use std::time::{SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use turn::client::{Client, ClientConfig};

use super::*;
use crate::turn::credentials::{issue, password_for};
use crate::turn::stream_client as client;

const SECRET: &[u8] = b"test secret";
const REALM: &str = "visavis";
/// Generous bound on any single network step, so a bug hangs no test.
const STEP: Duration = Duration::from_secs(10);
/// How long a test waits to be sure that nothing arrives.
const QUIET: Duration = Duration::from_millis(700);

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// A self-signed certificate for `localhost`: the server's TLS config and the certificate for
/// the client to trust.
fn test_tls() -> (
    Arc<rustls::ServerConfig>,
    rustls::pki_types::CertificateDer<'static>,
) {
    let generated =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert generates");
    let cert = generated.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::try_from(generated.key_pair.serialize_der())
        .expect("key converts");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .expect("cert and key match");
    (Arc::new(config), cert)
}

struct Fixture {
    relay: TurnRelay,
    ca: rustls::pki_types::CertificateDer<'static>,
    metrics: TurnMetrics,
}

fn config_on(
    listen: &str,
    external_ip: IpAddr,
) -> (RelayConfig, rustls::pki_types::CertificateDer<'static>) {
    let (tls, ca) = test_tls();
    let listen: SocketAddr = listen.parse().expect("valid address");
    let mut tls_listen = listen;
    tls_listen.set_port(0);
    let config = RelayConfig {
        listen,
        tls: Some(TlsListen {
            listen: tls_listen,
            config: tls,
        }),
        external_ip,
        relay_ports: 41000..=41999,
        realm: REALM.to_owned(),
        secret: SECRET.to_vec(),
        allow_private_peers: false,
        max_allocations_per_credential: DEFAULT_MAX_ALLOCATIONS_PER_CREDENTIAL,
        max_allocations: DEFAULT_MAX_ALLOCATIONS,
        connection_limits: ConnectionLimits {
            exempt_loopback: true,
            ..ConnectionLimits::default()
        },
        stream_timeouts: StreamTimeouts::default(),
        metrics: TurnMetrics::new(),
    };
    (config, ca)
}

fn config(external_ip: IpAddr) -> (RelayConfig, rustls::pki_types::CertificateDer<'static>) {
    config_on("127.0.0.1:0", external_ip)
}

async fn start(config: RelayConfig, ca: rustls::pki_types::CertificateDer<'static>) -> Fixture {
    let metrics = config.metrics.clone();
    let relay = TurnRelay::start(config).await.expect("relay starts");
    Fixture { relay, ca, metrics }
}

fn loopback() -> IpAddr {
    IpAddr::V4(Ipv4Addr::LOCALHOST)
}

/// How a test client reaches the relay.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Via {
    Udp,
    Tcp,
    Tls,
}

const ALL: [Via; 3] = [Via::Udp, Via::Tcp, Via::Tls];

impl Fixture {
    fn server(&self, via: Via) -> SocketAddr {
        match via {
            Via::Udp | Via::Tcp => self.relay.local_addr(),
            Via::Tls => self.relay.tls_addr().expect("TLS is on"),
        }
    }

    async fn conn(&self, via: Via) -> Arc<dyn Conn + Send + Sync> {
        let server = self.server(via);
        match via {
            Via::Udp => {
                let bind = if server.is_ipv4() {
                    "127.0.0.1:0"
                } else {
                    "[::1]:0"
                };
                Arc::new(UdpSocket::bind(bind).await.expect("client binds"))
            }
            Via::Tcp => Arc::new(client::tcp(server).await.expect("TCP connects")),
            Via::Tls => Arc::new(
                client::tls(server, "localhost", self.ca.clone())
                    .await
                    .expect("TLS connects and the certificate verifies"),
            ),
        }
    }

    /// A `turn` client over `via` asking for an allocation.
    async fn allocate(
        &self,
        via: Via,
        username: &str,
        password: &str,
    ) -> Result<(Client, impl Conn, Arc<dyn Conn + Send + Sync>), turn::Error> {
        let server = self.server(via).to_string();
        let conn = self.conn(via).await;
        let client = Client::new(ClientConfig {
            stun_serv_addr: server.clone(),
            turn_serv_addr: server,
            username: username.to_owned(),
            password: password.to_owned(),
            realm: REALM.to_owned(),
            software: String::new(),
            rto_in_ms: 0,
            conn: conn.clone(),
            vnet: None,
        })
        .await?;
        client.listen().await?;
        let relay_conn = tokio::time::timeout(STEP, client.allocate())
            .await
            .map_err(|_| turn::Error::Other("allocation timed out".to_owned()))??;
        Ok((client, relay_conn, conn))
    }

    fn counter(&self, vec: &prometheus::IntCounterVec, label: &str) -> u64 {
        vec.with_label_values(&[label]).get()
    }

    /// Waits (bounded) until `done` holds.
    async fn eventually(&self, what: &str, done: impl Fn(&TurnRelay) -> bool) {
        let deadline = tokio::time::Instant::now() + STEP;
        while !done(&self.relay) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting: {what}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn credentials(id: &str) -> crate::turn::TurnCredentials {
    issue(SECRET, now_unix(), Duration::from_secs(600), id)
}

/// Sends client → peer and peer → client through the allocation.
async fn relays_both_ways(relay_conn: &impl Conn, peer: &UdpSocket) {
    let relayed = relay_conn.local_addr().expect("relayed address");
    let peer_addr = peer.local_addr().expect("peer address");
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
    // A payload of a multiple of four bytes: ChannelData without padding over a stream.
    relay_conn
        .send_to(b"twelve bytes", peer_addr)
        .await
        .expect("client sends");
    let (n, _) = tokio::time::timeout(STEP, peer.recv_from(&mut buf))
        .await
        .expect("peer receives in time")
        .expect("peer receives");
    assert_eq!(&buf[..n], b"twelve bytes");
    peer.send_to(b"hello client", relayed)
        .await
        .expect("peer sends");
    let (n, from) = tokio::time::timeout(STEP, relay_conn.recv_from(&mut buf))
        .await
        .expect("client receives in time")
        .expect("client receives");
    assert_eq!(&buf[..n], b"hello client");
    assert_eq!(from, peer_addr);
}

#[tokio::test]
async fn minted_credentials_get_an_allocation_that_relays_over_every_transport() {
    let (config, ca) = config(loopback());
    let fx = start(config, ca).await;
    assert_ne!(fx.relay.local_addr().port(), 0);
    for via in ALL {
        let creds = credentials(&format!("{via:?}"));
        let (client, relay_conn, _) = fx
            .allocate(via, &creds.username, &creds.credential)
            .await
            .unwrap_or_else(|err| panic!("{via:?}: valid credentials get an allocation: {err}"));
        let relayed = relay_conn.local_addr().expect("relayed address");
        assert_eq!(relayed.ip(), loopback());
        assert!((41000..=41999).contains(&relayed.port()), "{relayed}");
        let peer = UdpSocket::bind("127.0.0.1:0").await.expect("peer binds");
        relays_both_ways(&relay_conn, &peer).await;
        relay_conn.close().await.expect("relay conn closes");
        client.close().await.expect("client closes");
    }
    for transport in ["udp", "tcp", "tls"] {
        assert_eq!(
            fx.counter(&fx.metrics.allocations_granted, transport),
            1,
            "{transport}"
        );
        assert!(
            fx.counter(&fx.metrics.relayed_bytes, transport) >= 22,
            "{transport}"
        );
    }
    fx.relay.stop().await.expect("relay stops");
}

#[tokio::test]
async fn bad_credentials_are_refused_over_every_transport() {
    let (config, ca) = config(loopback());
    let fx = start(config, ca).await;
    for via in ALL {
        let good = credentials("alice");
        let wrong = fx.allocate(via, &good.username, "not-the-password").await;
        assert!(
            wrong.is_err(),
            "{via:?}: a wrong password must not get an allocation"
        );

        let expired = issue(SECRET, now_unix() - 120, Duration::from_secs(60), "bob");
        let rejected = fx
            .allocate(via, &expired.username, &expired.credential)
            .await;
        assert!(rejected.is_err(), "{via:?}: an expired username must fail");

        let forged = issue(b"other secret", now_unix(), Duration::from_secs(600), "eve");
        let forged = fx.allocate(via, &forged.username, &forged.credential).await;
        assert!(
            forged.is_err(),
            "{via:?}: another secret's credentials must fail"
        );

        let malformed = fx
            .allocate(via, "alice", &password_for(SECRET, "alice"))
            .await;
        assert!(
            malformed.is_err(),
            "{via:?}: a username without an expiry must fail"
        );
    }
    assert_eq!(fx.relay.live_allocations(), 0);
    fx.relay.stop().await.expect("relay stops");
}

#[tokio::test]
async fn a_public_relay_refuses_loopback_and_private_peers_over_every_transport() {
    // TEST-NET-1 address: advertised, never actually bound.
    let external = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let (config, ca) = config(external);
    let fx = start(config, ca).await;
    let peer = UdpSocket::bind("127.0.0.1:0").await.expect("peer binds");
    let peer_addr = peer.local_addr().expect("peer address");
    for via in ALL {
        let creds = credentials(&format!("dave-{via:?}"));
        let (client, relay_conn, _) = fx
            .allocate(via, &creds.username, &creds.credential)
            .await
            .expect("allocation");
        assert_eq!(relay_conn.local_addr().expect("relayed").ip(), external);
        relay_conn
            .send_to(b"to a host service", peer_addr)
            .await
            .expect("client sends");
        // A private address is refused too (nothing listens there; the send must not fail).
        relay_conn
            .send_to(b"to the LAN", "10.1.2.3:9".parse().expect("valid address"))
            .await
            .expect("client sends");
        let mut buf = [0u8; 1500];
        let got = tokio::time::timeout(QUIET, peer.recv_from(&mut buf)).await;
        assert!(
            got.is_err(),
            "{via:?}: a loopback peer must receive nothing"
        );
        relay_conn.close().await.expect("relay conn closes");
        client.close().await.expect("client closes");
    }
    fx.relay.stop().await.expect("relay stops");
}

#[tokio::test]
async fn allocations_are_capped_per_credential_and_in_total() {
    let (mut config, ca) = config(loopback());
    config.max_allocations_per_credential = 2;
    config.max_allocations = 3;
    let fx = start(config, ca).await;
    let carol = credentials("carol");
    let first = fx
        .allocate(Via::Udp, &carol.username, &carol.credential)
        .await
        .expect("first");
    let second = fx
        .allocate(Via::Tcp, &carol.username, &carol.credential)
        .await
        .expect("second");
    assert!(
        fx.allocate(Via::Tls, &carol.username, &carol.credential)
            .await
            .is_err(),
        "a third allocation for one credential must be refused"
    );
    assert_eq!(
        fx.counter(&fx.metrics.allocations_refused, "credential_cap"),
        1
    );
    let dan = credentials("dan");
    let third = fx
        .allocate(Via::Tls, &dan.username, &dan.credential)
        .await
        .expect("another credential");
    let erin = credentials("erin");
    assert!(
        fx.allocate(Via::Udp, &erin.username, &erin.credential)
            .await
            .is_err(),
        "the total cap must hold"
    );
    assert_eq!(fx.counter(&fx.metrics.allocations_refused, "total_cap"), 1);
    assert_eq!(fx.relay.live_allocations(), 3);

    // Ending the TCP connection ends its allocation, which frees its place.
    second.2.close().await.expect("the TCP connection ends");
    fx.eventually("the TCP allocation is gone", |relay| {
        relay.live_allocations() == 2
    })
    .await;
    let again = fx
        .allocate(Via::Tcp, &carol.username, &carol.credential)
        .await
        .expect("a freed place can be used again");
    drop((first, second, third, again));
    fx.relay.stop().await.expect("relay stops");
}

#[tokio::test]
async fn silent_and_garbage_clients_are_closed_and_leave_nothing_behind() {
    let (mut config, ca) = config(loopback());
    config.stream_timeouts = StreamTimeouts {
        first_message: Duration::from_millis(300),
        ..StreamTimeouts::default()
    };
    let fx = start(config, ca).await;
    let tcp = fx.relay.local_addr();
    let tls = fx.relay.tls_addr().expect("TLS is on");

    // Garbage, and an HTTP request on the TURN port (which frames as ChannelData of an
    // impossible length): each is answered by closing.
    let mut buf = [0u8; 64];
    for bytes in [
        &b"\xc0\x01 not TURN at all"[..],
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    ] {
        let mut garbage = TcpStream::connect(tcp).await.expect("connects");
        garbage.write_all(bytes).await.expect("writes");
        let n = tokio::time::timeout(STEP, garbage.read(&mut buf))
            .await
            .expect("closed in time")
            .unwrap_or(0);
        assert_eq!(n, 0, "nothing is answered to garbage");
    }

    // Silence, over TCP and over TLS (no handshake at all).
    for addr in [tcp, tls] {
        let mut silent = TcpStream::connect(addr).await.expect("connects");
        let n = tokio::time::timeout(STEP, silent.read(&mut buf))
            .await
            .expect("closed in time")
            .unwrap_or(0);
        assert_eq!(n, 0, "a silent client is closed");
    }

    // A TLS client that completes the handshake and then says nothing.
    let quiet = client::tls(tls, "localhost", fx.ca.clone())
        .await
        .expect("handshake");
    let mut frame = [0u8; 1500];
    assert!(
        tokio::time::timeout(STEP, quiet.recv_from(&mut frame))
            .await
            .expect("closed in time")
            .is_err(),
        "a silent TLS client is closed"
    );

    fx.eventually("no connection is left", |relay| {
        relay.open_connections() == 0 && relay.connected_clients() == (0, 0)
    })
    .await;
    assert_eq!(fx.counter(&fx.metrics.connections_closed, "garbage"), 1);
    assert_eq!(fx.counter(&fx.metrics.connections_closed, "too_large"), 1);
    assert_eq!(fx.counter(&fx.metrics.connections_closed, "silent"), 2);
    assert_eq!(fx.counter(&fx.metrics.connections_refused, "handshake"), 1);
    assert_eq!(fx.relay.live_allocations(), 0);
    fx.relay.stop().await.expect("relay stops");
}

#[tokio::test]
async fn an_idle_connection_without_allocation_is_closed() {
    let (mut config, ca) = config(loopback());
    config.stream_timeouts = StreamTimeouts {
        unallocated_idle: Duration::from_millis(300),
        ..StreamTimeouts::default()
    };
    let fx = start(config, ca).await;
    // A client that sends one valid message (a refused Allocate) and then nothing.
    let refused = fx.allocate(Via::Tcp, "bad", "bad").await;
    assert!(refused.is_err());
    fx.eventually("the idle connection is closed", |relay| {
        relay.open_connections() == 0
    })
    .await;
    assert_eq!(fx.counter(&fx.metrics.connections_closed, "idle"), 1);
    fx.relay.stop().await.expect("relay stops");
}

#[tokio::test]
async fn new_connections_per_ip_are_rate_limited() {
    let (mut config, ca) = config(loopback());
    config.connection_limits = ConnectionLimits {
        new_per_ip_per_minute: std::num::NonZeroU32::new(2).expect("non-zero"),
        exempt_loopback: false,
        ..ConnectionLimits::default()
    };
    let fx = start(config, ca).await;
    let creds = credentials("frank");
    let _one = fx
        .allocate(Via::Tcp, &creds.username, &creds.credential)
        .await
        .expect("first connection");
    let _two = fx
        .allocate(Via::Tls, &creds.username, &creds.credential)
        .await
        .expect("second connection");
    let mut third = TcpStream::connect(fx.relay.local_addr())
        .await
        .expect("the kernel accepts");
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(STEP, third.read(&mut buf))
        .await
        .expect("closed in time")
        .unwrap_or(0);
    assert_eq!(n, 0, "the third connection in a minute is closed at once");
    assert_eq!(fx.counter(&fx.metrics.connections_refused, "rate_limit"), 1);
    // UDP is not affected.
    assert!(fx
        .allocate(Via::Udp, &creds.username, &creds.credential)
        .await
        .is_ok());
    fx.relay.stop().await.expect("relay stops");
}

#[tokio::test]
async fn a_client_that_does_not_read_holds_only_its_own_queue() {
    let (config, ca) = config(loopback());
    let fx = start(config, ca).await;
    // The slow client allocates over TCP, lets the peer in, and then never reads again.
    let slow_creds = credentials("slow");
    let slow_conn = client::tcp(fx.relay.local_addr()).await.expect("connects");
    let slow_conn = Arc::new(slow_conn);
    let server = fx.relay.local_addr().to_string();
    let slow = Client::new(ClientConfig {
        stun_serv_addr: server.clone(),
        turn_serv_addr: server,
        username: slow_creds.username.clone(),
        password: slow_creds.credential.clone(),
        realm: REALM.to_owned(),
        software: String::new(),
        rto_in_ms: 0,
        conn: slow_conn.clone(),
        vnet: None,
    })
    .await
    .expect("client");
    slow.listen().await.expect("listens");
    let slow_relay = tokio::time::timeout(STEP, slow.allocate())
        .await
        .expect("in time")
        .expect("allocates");
    let peer = UdpSocket::bind("127.0.0.1:0").await.expect("peer binds");
    relays_both_ways(&slow_relay, &peer).await;
    slow_conn.pause_reading();
    let relayed = slow_relay.local_addr().expect("relayed address");
    let chunk = [7u8; 1200];
    // Until the kernel's socket buffers are full and the connection's queue overflows.
    let deadline = tokio::time::Instant::now() + STEP;
    while fx
        .metrics
        .dropped_messages
        .with_label_values(&["tcp"])
        .get()
        == 0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing was ever dropped"
        );
        for _ in 0..200 {
            peer.send_to(&chunk, relayed).await.expect("peer sends");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // Meanwhile someone else is served normally, over TCP too.
    let other = credentials("other");
    let (client, relay_conn, _) = fx
        .allocate(Via::Tcp, &other.username, &other.credential)
        .await
        .expect("another client allocates");
    let other_peer = UdpSocket::bind("127.0.0.1:0").await.expect("peer binds");
    relays_both_ways(&relay_conn, &other_peer).await;
    client.close().await.expect("closes");
    fx.relay.stop().await.expect("relay stops");
}

#[tokio::test]
async fn ipv6_listeners_serve_every_transport() {
    let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
    let (config, ca) = config_on("[::1]:0", v6);
    let fx = start(config, ca).await;
    assert!(fx.relay.local_addr().is_ipv6());
    for via in ALL {
        let creds = credentials(&format!("v6-{via:?}"));
        let (client, relay_conn, _) = fx
            .allocate(via, &creds.username, &creds.credential)
            .await
            .unwrap_or_else(|err| panic!("{via:?} over IPv6: {err}"));
        assert_eq!(relay_conn.local_addr().expect("relayed").ip(), v6);
        let peer = UdpSocket::bind("[::1]:0").await.expect("peer binds");
        relays_both_ways(&relay_conn, &peer).await;
        relay_conn.close().await.expect("closes");
        client.close().await.expect("closes");
    }
    fx.relay.stop().await.expect("relay stops");
}

#[tokio::test]
async fn stopping_the_relay_frees_its_ports() {
    let (config, ca) = config(loopback());
    let fx = start(config, ca).await;
    let addr = fx.relay.local_addr();
    let tls = fx.relay.tls_addr().expect("TLS is on");
    // An open TCP connection must not keep the port.
    let _open = TcpStream::connect(addr).await.expect("connects");
    fx.relay.stop().await.expect("relay stops");
    UdpSocket::bind(addr)
        .await
        .expect("the UDP port can be bound again");
    TcpListener::bind(addr)
        .await
        .expect("the TCP port can be bound again");
    TcpListener::bind(tls)
        .await
        .expect("the TLS port can be bound again");
}

#[tokio::test]
async fn bad_configurations_are_refused_at_start() {
    let mut no_secret = config(loopback()).0;
    no_secret.secret.clear();
    assert!(TurnRelay::start(no_secret).await.is_err());

    let mut zero_port = config(loopback()).0;
    zero_port.relay_ports = 0..=10;
    assert!(TurnRelay::start(zero_port).await.is_err());

    let mut inverted = config(loopback()).0;
    // Built with `new` because the literal form is (rightly) a lint error.
    inverted.relay_ports = RangeInclusive::new(50000, 40000);
    assert!(TurnRelay::start(inverted).await.is_err());

    let mut no_realm = config(loopback()).0;
    no_realm.realm.clear();
    assert!(TurnRelay::start(no_realm).await.is_err());
}

#[test]
fn debug_output_never_shows_the_secret() {
    let cfg = config(loopback()).0;
    let shown = format!("{cfg:?}");
    assert!(!shown.contains("test secret"), "{shown}");
    assert!(shown.contains("[redacted]"));
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
    // A listener of the other family does not decide the relays' family.
    assert_eq!(
        relay_bind_host(IpAddr::V6(Ipv6Addr::LOCALHOST), loopback()),
        "0.0.0.0"
    );
    assert_eq!(
        relay_bind_host("2001:db8::2".parse().expect("valid ip"), public6),
        "[2001:db8::2]"
    );
}
