//! Building and running the whole server: the `Application` tests start on `127.0.0.1:0`.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle, Service};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Compress;
use actix_web::{web, App, HttpResponse, HttpServer};
use anyhow::{anyhow, Context};
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::cluster::{ClusterHandle, NodeId};
use crate::config::Config;
use crate::hub::HubHandle;
use crate::ice::{builtin_relay_urls, IceConfig};
use crate::limits::{ConnectionSlots, IpLimits};
use crate::metrics::Metrics;
use crate::rooms::{RoomBudget, Rooms};
use crate::routes::{self, cache_control_for, metrics_response, AppState};
use crate::seat_secret;
use crate::seat_token::SeatSigner;
use crate::security::SecurityHeaders;
use crate::tls;
use crate::turn::relay::DEFAULT_MAX_ALLOCATIONS_PER_CREDENTIAL;
use crate::turn::{ConnectionLimits, RelayConfig, StreamTimeouts, TlsListen, TurnRelay};

/// How long a graceful shutdown waits for open requests before closing them.
const SHUTDOWN_TIMEOUT_SECS: u64 = 5;

/// How often idle per-IP entries are forgotten.
const IP_TABLE_SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// A bound, ready-to-run server.
pub struct Application {
    port: u16,
    server: Server,
    metrics_server: Option<(u16, Server)>,
    relay: Option<TurnRelay>,
}

impl Application {
    /// Binds the listeners and prepares the server. Must run inside a Tokio runtime, which the
    /// room hub is spawned on.
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        config.validate().map_err(|problem| anyhow!(problem))?;
        let listener = TcpListener::bind(config.listen)
            .with_context(|| format!("binding {}", config.listen))?;
        let port = listener.local_addr()?.port();
        let metrics = Arc::new(Metrics::new());
        let workers = config.workers();
        let hub = HubHandle::start(
            shard_rooms(&config, config.hub_shards.unwrap_or(workers))?,
            metrics.clone(),
        )
        .context("starting the hub shards")?;
        let hub = match &config.redis_url {
            None => hub,
            Some(url) => {
                let node = config.node_id.clone().unwrap_or_else(random_node_id);
                let cluster = ClusterHandle::start(url, node, hub.clone(), metrics.cluster.clone())
                    .context("starting cluster mode")?;
                hub.with_cluster(cluster)
            }
        };
        let relay = start_relay(&config, &metrics).await?;
        let relay_urls = relay
            .as_ref()
            .map(|(_, urls)| urls.clone())
            .unwrap_or_default();
        let relay = relay.map(|(relay, _)| relay);
        let index_html = std::fs::read_to_string(config.static_dir.join("index.html")).unwrap_or_else(|_| {
            tracing::warn!(dir = %config.static_dir.display(), "no index.html in the static directory; run `trunk build --release`");
            String::new()
        });
        let security = Arc::new(SecurityHeaders::new(&index_html, !config.no_tls));
        let ip_limits = Arc::new(IpLimits::new(
            config.ip_connections_per_minute,
            config.ip_joins_per_minute,
            config.rate_limit_exempt_loopback,
        ));
        spawn_ip_table_sweeper(ip_limits.clone());
        let state = web::Data::new(AppState {
            hub,
            ice: Arc::new(IceConfig::new(&config, relay_urls)),
            static_dir: config.static_dir.clone(),
            metrics: metrics.clone(),
            ip_limits,
            slots: ConnectionSlots::new(config.max_connections),
            allowed_origins: config.allowed_origins.clone(),
            trusted_proxies: config.trusted_proxies.clone(),
            messages_per_second: config.messages_per_second,
            message_burst: config.message_burst,
            log_ips: config.log_ips,
            metrics_token: config.metrics_token.clone(),
        });

        let static_dir = config.static_dir.clone();
        let http = HttpServer::new(move || {
            let static_dir = static_dir.clone();
            let security = security.clone();
            App::new()
                .app_data(state.clone())
                .wrap(Compress::default())
                .wrap_fn(move |req, srv| {
                    let cache = cache_control_for(req.path());
                    let host = req.connection_info().host().to_owned();
                    let security = security.clone();
                    let response = srv.call(req);
                    async move {
                        let mut response = response.await?;
                        let headers = response.headers_mut();
                        if !headers.contains_key(header::CACHE_CONTROL) {
                            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
                        }
                        security.apply(Some(&host), headers);
                        Ok(response)
                    }
                })
                .configure(move |cfg| routes::configure(cfg, static_dir))
        })
        .workers(workers)
        // Signaling is small messages, often two or three in a row (`config` then `created`,
        // a burst of candidates). With Nagle's algorithm on (the OS default, which actix
        // keeps), the second waits for the browser's delayed ACK of the first: tens of
        // milliseconds per burst, on every hop of a call's set-up.
        .tcp_nodelay(true)
        .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS);

        let scheme = if config.no_tls { "http" } else { "https" };
        let http = if config.no_tls {
            http.listen(listener)?
        } else {
            http.listen_rustls_0_23(listener, tls::server_config(&config)?)?
        };
        tracing::info!(address = %config.listen, port, scheme, "listening");

        let metrics_server = match config.metrics_listen {
            Some(address) => Some(metrics_server(address, metrics)?),
            None => None,
        };
        Ok(Application {
            port,
            server: http.run(),
            metrics_server,
            relay,
        })
    }

    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the separate metrics listener, if one was configured.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_server.as_ref().map(|(port, _)| *port)
    }

    /// The address of the built-in TURN relay (UDP and TCP), if it runs.
    pub fn relay_addr(&self) -> Option<std::net::SocketAddr> {
        self.relay.as_ref().map(TurnRelay::local_addr)
    }

    /// The address of the built-in relay's TLS listener, if it runs.
    pub fn relay_tls_addr(&self) -> Option<std::net::SocketAddr> {
        self.relay.as_ref().and_then(TurnRelay::tls_addr)
    }

    /// A handle that can stop the server gracefully.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until the server is stopped (SIGTERM, Ctrl-C, or a handle).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let metrics_handle = self.metrics_server.map(|(_, metrics)| {
            let handle = metrics.handle();
            tokio::spawn(metrics);
            handle
        });
        let result = self.server.await;
        if let Some(handle) = metrics_handle {
            handle.stop(true).await;
        }
        if let Some(relay) = self.relay {
            if let Err(err) = relay.stop().await {
                tracing::warn!(error = %err, "the TURN relay did not stop cleanly");
            }
        }
        result
    }
}

/// The room state of each of `shards` hub shards: the seat-token secret from the data
/// directory (so tokens survive a restart) in each, an RNG of its own seeded from the OS, and
/// one room budget for all, so `--max-rooms` counts every shard's rooms together.
fn shard_rooms(config: &Config, shards: usize) -> anyhow::Result<Vec<Rooms>> {
    let secret = match &config.seat_secret_file {
        Some(path) => seat_secret::load_file(path)?,
        None => seat_secret::load_or_create(&config.data_dir)?,
    };
    let budget = RoomBudget::new(config.max_rooms);
    (0..shards.max(1))
        .map(|_| {
            let rng = StdRng::try_from_os_rng()
                .map_err(|err| anyhow!("the operating system gave no random seed: {err}"))?;
            Ok(Rooms::new(SeatSigner::new(&secret), rng)
                .with_room_budget(budget.clone())
                .with_grace(Duration::from_secs(config.reconnect_grace_secs))
                .with_leaving_grace(Duration::from_secs(config.leaving_grace_secs)))
        })
        .collect()
}

/// A node id for a node started without --node-id: random, so two nodes never share one.
fn random_node_id() -> NodeId {
    let id = format!("node-{:08x}", rand::random::<u32>());
    // Always valid: letters, digits and a dash.
    NodeId::try_from(id).unwrap_or_else(|_| unreachable!("a valid node id"))
}

/// A one-route server for `/metrics` on its own address, typically private.
fn metrics_server(
    address: std::net::SocketAddr,
    metrics: Arc<Metrics>,
) -> anyhow::Result<(u16, Server)> {
    let listener = TcpListener::bind(address)
        .with_context(|| format!("binding the metrics listener {address}"))?;
    let port = listener.local_addr()?.port();
    let metrics = web::Data::from(metrics);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(metrics.clone())
            .route(
                "/metrics",
                web::get()
                    .to(|metrics: web::Data<Metrics>| async move { metrics_response(&metrics) }),
            )
            .default_service(web::to(HttpResponse::NotFound))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    tracing::info!(%address, "metrics listening");
    Ok((port, server))
}

fn spawn_ip_table_sweeper(ip_limits: Arc<IpLimits>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(IP_TABLE_SWEEP_INTERVAL);
        loop {
            tick.tick().await;
            ip_limits.forget_idle();
        }
    });
}

/// Starts the built-in TURN relay when `--turn-listen` is set, and returns it with the URLs to
/// advertise to browsers.
async fn start_relay(
    config: &Config,
    metrics: &Metrics,
) -> anyhow::Result<Option<(TurnRelay, Vec<String>)>> {
    let (Some(listen), Some(secret)) = (config.turn_listen, &config.turn_secret) else {
        return Ok(None);
    };
    let external_ip = match config.turn_external_ip {
        Some(ip) => ip,
        None if !listen.ip().is_unspecified() => listen.ip(),
        None => anyhow::bail!(
            "--turn-listen {listen} is a wildcard address; set --turn-external-ip to this host's public IP"
        ),
    };
    let tls = match config.turn_tls_listen {
        Some(listen) => Some(TlsListen {
            listen,
            config: Arc::new(tls::server_config(config)?),
        }),
        None => None,
    };
    if tls.is_some() && config.turn_host.is_none() {
        tracing::warn!("TURN over TLS without --turn-host: browsers check the certificate against the external IP");
    }
    let relay = TurnRelay::start(RelayConfig {
        listen,
        tls,
        external_ip,
        relay_ports: config.turn_relay_ports.clone(),
        realm: "visavis".into(),
        secret: secret.as_bytes().to_vec(),
        allow_private_peers: config.turn_allow_private_peers,
        max_allocations_per_credential: DEFAULT_MAX_ALLOCATIONS_PER_CREDENTIAL,
        max_allocations: config.turn_max_allocations,
        connection_limits: ConnectionLimits {
            exempt_loopback: config.rate_limit_exempt_loopback,
            trusted_proxies: config.trusted_proxies.clone(),
            ..ConnectionLimits::default()
        },
        stream_timeouts: StreamTimeouts::default(),
        metrics: metrics.turn.clone(),
    })
    .await
    .context("starting the built-in TURN relay")?;
    let host = config
        .turn_host
        .clone()
        .unwrap_or_else(|| external_ip.to_string());
    let port = relay.local_addr().port();
    let tls_port = relay
        .tls_addr()
        .map(|addr| config.turn_tls_port.unwrap_or(addr.port()));
    tracing::info!(
        port,
        ?tls_port,
        "built-in TURN relay listening (udp, tcp, tls if set)"
    );
    Ok(Some((relay, builtin_relay_urls(&host, port, tls_port))))
}
