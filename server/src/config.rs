//! The server's configuration: command-line flags, each also readable from an environment variable.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::path::PathBuf;

use clap::{ArgAction, Parser};

use crate::cluster::NodeId;

/// How visavis is configured. Every flag has a `VISAVIS_*` environment variable.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "visavis",
    version,
    about = "Self-hosted two-person video calls"
)]
pub struct Config {
    /// The address to listen on.
    #[arg(long, env = "VISAVIS_LISTEN", default_value = "0.0.0.0:8443")]
    pub listen: SocketAddr,

    /// A PEM certificate chain. Without it (and --tls-key), a self-signed certificate is
    /// generated on first start and kept in the data directory.
    #[arg(long, env = "VISAVIS_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key for --tls-cert.
    #[arg(long, env = "VISAVIS_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Serve plain HTTP, for use behind a reverse proxy or on localhost. Together with
    /// --turn-tls-listen, --tls-cert/--tls-key may still be given: they are then used for TURN
    /// over TLS only.
    #[arg(long, env = "VISAVIS_NO_TLS")]
    pub no_tls: bool,

    /// The directory of the Trunk build to serve.
    #[arg(long, env = "VISAVIS_STATIC_DIR", default_value = "dist")]
    pub static_dir: PathBuf,

    /// Where generated state is kept: the self-signed certificate and the secret that signs
    /// seat tokens (`seat-secret`, created on first start).
    #[arg(long, env = "VISAVIS_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// A STUN server URL handed to browsers, e.g. `stun:stun.example.org:3478`. Repeatable, or
    /// comma-separated in the environment variable. None by default, which suits a LAN or a
    /// server with a public address; an empty value gives an empty list.
    #[arg(long = "stun", env = "VISAVIS_STUN", value_delimiter = ',')]
    pub stun: Vec<String>,

    /// An external TURN server URL handed to browsers (`turn:` or `turns:`, optionally with
    /// `?transport=udp|tcp`). Repeatable. Needs --turn-secret.
    #[arg(
        long = "turn-url",
        env = "VISAVIS_TURN_URLS",
        value_delimiter = ',',
        requires = "turn_secret"
    )]
    pub turn_urls: Vec<String>,

    /// The secret shared with the TURN server (coturn's `static-auth-secret`). Browsers get
    /// short-lived credentials derived from it, never the secret.
    #[arg(long, env = "VISAVIS_TURN_SECRET", hide_env_values = true)]
    pub turn_secret: Option<String>,

    /// How long handed-out TURN credentials stay valid, in seconds.
    #[arg(long, env = "VISAVIS_TURN_TTL", default_value_t = 3600)]
    pub turn_ttl: u64,

    /// Run the built-in TURN relay on this address, e.g. `0.0.0.0:3478`, over UDP and TCP on
    /// the same port. Needs --turn-secret. It is advertised to browsers automatically.
    #[arg(long, env = "VISAVIS_TURN_LISTEN", requires = "turn_secret")]
    pub turn_listen: Option<SocketAddr>,

    /// Also serve the built-in relay over TLS on this address, e.g. `0.0.0.0:5349` or
    /// `0.0.0.0:443`, with the server's certificate (--tls-cert, or the generated one).
    /// Needs --turn-listen.
    #[arg(long, env = "VISAVIS_TURN_TLS_LISTEN", requires = "turn_listen")]
    pub turn_tls_listen: Option<SocketAddr>,

    /// The port put into the advertised `turns:` URL, when a proxy in front of the TLS listener
    /// takes connections on another port (e.g. nginx `stream` on 443). Defaults to the bound
    /// --turn-tls-listen port.
    #[arg(long, env = "VISAVIS_TURN_TLS_PORT", requires = "turn_tls_listen")]
    pub turn_tls_port: Option<u16>,

    /// The host name put into the advertised `turn:`/`turns:` URLs instead of the external IP.
    /// Browsers check the TLS certificate against it, so TURN over TLS needs it in practice.
    #[arg(long, env = "VISAVIS_TURN_HOST")]
    pub turn_host: Option<String>,

    /// The most live allocations the built-in relay holds, over all transports.
    #[arg(long, env = "VISAVIS_TURN_MAX_ALLOCATIONS", default_value_t = 1000)]
    pub turn_max_allocations: usize,

    /// Let the built-in relay send to private-network peers (10/8, 172.16/12, 192.168/16,
    /// 100.64/10, fc00::/7) although its external IP is public. Loopback, link-local and
    /// multicast peers are always refused (loopback is allowed only for a loopback relay).
    #[arg(long, env = "VISAVIS_TURN_ALLOW_PRIVATE_PEERS")]
    pub turn_allow_private_peers: bool,

    /// The public address of this host, put into relay candidates and into the advertised
    /// `turn:` URL. Defaults to the --turn-listen address when that is not a wildcard.
    #[arg(long, env = "VISAVIS_TURN_EXTERNAL_IP")]
    pub turn_external_ip: Option<IpAddr>,

    /// The UDP ports the built-in relay allocates from, as `FIRST-LAST`.
    #[arg(long, env = "VISAVIS_TURN_RELAY_PORTS", default_value = "49160-49200", value_parser = parse_port_range)]
    pub turn_relay_ports: std::ops::RangeInclusive<u16>,

    /// The largest file one person may send to the other, in MiB. Files travel peer to peer;
    /// the limit protects the receiving browser's memory.
    #[arg(long, env = "VISAVIS_MAX_FILE_MB", default_value_t = 512)]
    pub max_file_mb: u64,

    /// Log format: `text` for people, `json` for log collectors.
    #[arg(long, env = "VISAVIS_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,

    /// Whether client IPs may appear in logs at all. Even when true they are logged at debug
    /// level only, never at the default info level.
    #[arg(long, env = "VISAVIS_LOG_IPS", default_value_t = true, action = ArgAction::Set)]
    pub log_ips: bool,

    /// An extra Origin allowed to open `/ws` (e.g. `https://app.example.org`). Repeatable. The
    /// page's own origin is always allowed; requests without an Origin header are allowed.
    #[arg(
        long = "allowed-origin",
        env = "VISAVIS_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,

    /// The most WebSocket connections open at once; more are refused with `server_busy`.
    #[arg(long, env = "VISAVIS_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// The most rooms open at once; joining a new room beyond it gets `server_busy`.
    #[arg(long, env = "VISAVIS_MAX_ROOMS", default_value_t = 5_000)]
    pub max_rooms: usize,

    /// How long a seat is held after its connection was lost without a goodbye (a network
    /// change, a reload, a server restart), in seconds. The person can take it back with their
    /// seat token meanwhile; after it, their partner gets `bye`.
    #[arg(long, env = "VISAVIS_RECONNECT_GRACE_SECS", default_value_t = 20)]
    pub reconnect_grace_secs: u64,

    /// How long a seat is held after its page said it is leaving (`pagehide`: the tab closed,
    /// navigated away or reloaded) and its socket then closed, in seconds: long enough for a
    /// reload to take the seat back, short enough that the other person of a closed tab soon
    /// gets `bye`.
    #[arg(long, env = "VISAVIS_LEAVING_GRACE_SECS", default_value_t = 3)]
    pub leaving_grace_secs: u64,

    /// Signaling messages one connection may send per second, on average.
    #[arg(long, env = "VISAVIS_MESSAGES_PER_SECOND", default_value = "20")]
    pub messages_per_second: NonZeroU32,

    /// Signaling messages one connection may send in a burst (call setup and ICE restarts send
    /// a few dozen candidates at once).
    #[arg(long, env = "VISAVIS_MESSAGE_BURST", default_value = "200")]
    pub message_burst: NonZeroU32,

    /// New WebSocket connections one IP may open per minute.
    #[arg(long, env = "VISAVIS_IP_CONNECTIONS_PER_MINUTE", default_value = "60")]
    pub ip_connections_per_minute: NonZeroU32,

    /// Joins one IP may make per minute.
    #[arg(long, env = "VISAVIS_IP_JOINS_PER_MINUTE", default_value = "60")]
    pub ip_joins_per_minute: NonZeroU32,

    /// Exempt loopback clients from the per-IP limits (for tests and benchmarks; do not use it
    /// behind a reverse proxy on the same host unless that proxy is a --trusted-proxy).
    #[arg(long, env = "VISAVIS_RATE_LIMIT_EXEMPT_LOOPBACK")]
    pub rate_limit_exempt_loopback: bool,

    /// A reverse proxy whose `X-Forwarded-For` header is believed. Repeatable. Without it, the
    /// client IP is the TCP peer's.
    #[arg(
        long = "trusted-proxy",
        env = "VISAVIS_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<IpAddr>,

    /// How many hub shards own the rooms (each room belongs to one, by a hash of its name;
    /// each shard is a thread). Default: one per HTTP worker thread, i.e. per core.
    #[arg(long, env = "VISAVIS_HUB_SHARDS", value_parser = parse_shards)]
    pub hub_shards: Option<usize>,

    /// Serve `/metrics` on this separate address (e.g. `127.0.0.1:9090`) instead of the main one.
    #[arg(long, env = "VISAVIS_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// Serve `/metrics` on the main address to requests carrying `Authorization: Bearer TOKEN`.
    /// Without this or --metrics-listen, `/metrics` is not served at all.
    #[arg(long, env = "VISAVIS_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// Cluster mode: share rooms with the other nodes using this Redis, e.g.
    /// `redis://10.0.0.5:6379/0`. Without it, visavis keeps every room in memory on its own.
    /// Every node of a cluster needs the same seat secret (--seat-secret-file, or a shared
    /// --data-dir); see docs/deployment.md.
    #[arg(long, env = "VISAVIS_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Cluster mode: this node's id, unique in the cluster (letters, digits, `-`, `_`, `.`).
    /// Default: a random one per start.
    #[arg(long, env = "VISAVIS_NODE_ID", requires = "redis_url", value_parser = parse_node_id)]
    pub node_id: Option<NodeId>,

    /// Read the seat-token secret (64 hex digits) from this file instead of
    /// <data-dir>/seat-secret. Give every node of a cluster the same file.
    #[arg(long, env = "VISAVIS_SEAT_SECRET_FILE")]
    pub seat_secret_file: Option<PathBuf>,
}

impl Config {
    /// Checks what clap cannot express: a certificate with --no-tls is only accepted when
    /// TURN over TLS will use it.
    pub fn validate(&self) -> Result<(), String> {
        if self.no_tls && self.tls_cert.is_some() && self.turn_tls_listen.is_none() {
            return Err(
                "--tls-cert/--tls-key with --no-tls are only used by --turn-tls-listen".to_owned(),
            );
        }
        Ok(())
    }

    /// How many HTTP worker threads serve requests: one per core, as actix-web would choose.
    pub fn workers(&self) -> usize {
        std::thread::available_parallelism().map_or(1, usize::from)
    }

    /// The STUN URLs with empty entries removed, so `--stun ''` means "no STUN".
    pub fn stun_urls(&self) -> Vec<String> {
        self.stun
            .iter()
            .map(|url| url.trim().to_owned())
            .filter(|url| !url.is_empty())
            .collect()
    }
}

/// Parses a node id.
fn parse_node_id(text: &str) -> Result<NodeId, String> {
    NodeId::try_from(text.trim().to_owned())
}

/// Parses a shard count: 1 to 1024.
fn parse_shards(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(shards @ 1..=1024) => Ok(shards),
        _ => Err(format!("{text:?} is not a shard count from 1 to 1024")),
    }
}

/// Parses `FIRST-LAST` into a port range.
fn parse_port_range(text: &str) -> Result<std::ops::RangeInclusive<u16>, String> {
    let (first, last) = text
        .split_once('-')
        .ok_or("expected FIRST-LAST, e.g. 49160-49200")?;
    let first: u16 = first
        .trim()
        .parse()
        .map_err(|_| format!("{first:?} is not a port"))?;
    let last: u16 = last
        .trim()
        .parse()
        .map_err(|_| format!("{last:?} is not a port"))?;
    if first == 0 || first > last {
        return Err(format!("{first}-{last} is not a range of ports"));
    }
    Ok(first..=last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_contract() {
        let config = Config::parse_from(["visavis"]);
        assert_eq!(
            config.listen,
            "0.0.0.0:8443".parse().expect("test fixture is valid")
        );
        assert!(!config.no_tls);
        assert_eq!(config.static_dir, PathBuf::from("dist"));
        assert!(config.stun_urls().is_empty());
        assert_eq!(config.reconnect_grace_secs, 20);
    }

    #[test]
    fn the_grace_period_is_configurable() {
        let config = Config::parse_from(["visavis", "--reconnect-grace-secs", "3"]);
        assert_eq!(config.reconnect_grace_secs, 3);
        assert!(Config::try_parse_from(["visavis", "--reconnect-grace-secs", "-1"]).is_err());
        assert_eq!(Config::parse_from(["visavis"]).leaving_grace_secs, 3);
        let config = Config::parse_from(["visavis", "--leaving-grace-secs", "1"]);
        assert_eq!(config.leaving_grace_secs, 1);
    }

    #[test]
    fn stun_is_repeatable_and_empty_values_vanish() {
        let config = Config::parse_from([
            "visavis", "--stun", "stun:a:1", "--stun", "stun:b:2", "--stun", "",
        ]);
        assert_eq!(config.stun_urls(), vec!["stun:a:1", "stun:b:2"]);
    }

    #[test]
    fn turn_flags_need_a_secret() {
        assert!(Config::try_parse_from(["visavis", "--turn-url", "turn:t:3478"]).is_err());
        assert!(Config::try_parse_from(["visavis", "--turn-listen", "0.0.0.0:3478"]).is_err());
        let config =
            Config::parse_from(["visavis", "--turn-url", "turn:t:3478", "--turn-secret", "s"]);
        assert_eq!(config.turn_urls, vec!["turn:t:3478"]);
        assert_eq!(config.turn_ttl, 3600);
    }

    #[test]
    fn turn_over_tls_needs_the_relay_and_a_certificate() {
        let base = [
            "visavis",
            "--turn-secret",
            "s",
            "--turn-tls-listen",
            "0.0.0.0:5349",
        ];
        assert!(Config::try_parse_from(base).is_err());
        let mut with_relay = base.to_vec();
        with_relay.extend([
            "--turn-listen",
            "0.0.0.0:3478",
            "--turn-host",
            "turn.example.org",
        ]);
        let config = Config::parse_from(&with_relay);
        assert_eq!(config.turn_host.as_deref(), Some("turn.example.org"));
        assert_eq!(config.turn_max_allocations, 1000);
    }

    #[test]
    fn relay_ports_are_a_range() {
        assert_eq!(parse_port_range("49160-49200"), Ok(49160..=49200));
        assert!(parse_port_range("5-1").is_err());
        assert!(parse_port_range("0-10").is_err());
        assert!(parse_port_range("abc").is_err());
    }

    #[test]
    fn tls_cert_needs_a_key() {
        assert!(Config::try_parse_from(["visavis", "--tls-cert", "c.pem"]).is_err());
    }

    #[test]
    fn a_certificate_with_no_tls_is_only_for_turn_over_tls() {
        let plain =
            Config::parse_from(["visavis", "--no-tls", "--tls-cert", "c", "--tls-key", "k"]);
        assert!(plain.validate().is_err());
        let turn_tls = Config::parse_from([
            "visavis",
            "--no-tls",
            "--tls-cert",
            "c",
            "--tls-key",
            "k",
            "--turn-secret",
            "s",
            "--turn-listen",
            "0.0.0.0:3478",
            "--turn-tls-listen",
            "0.0.0.0:443",
        ]);
        assert_eq!(turn_tls.validate(), Ok(()));
        assert_eq!(
            Config::parse_from(["visavis", "--no-tls"]).validate(),
            Ok(())
        );
    }
}
