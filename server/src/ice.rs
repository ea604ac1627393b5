//! The ICE servers handed to each browser: the configured STUN URLs, plus TURN URLs with
//! short-lived credentials minted per connection from the shared secret.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use visavis_shared::{IceServer, ServerMessage};

use crate::config::Config;
use crate::turn::credentials;

/// What the server knows to build ICE server lists. The TURN secret stays here: only derived,
/// expiring credentials leave.
pub struct IceConfig {
    stun_urls: Vec<String>,
    turn_urls: Vec<String>,
    turn_secret: Option<Vec<u8>>,
    turn_ttl: Duration,
    max_file_bytes: u64,
}

/// An ICE server list for one connection, and when to hand out a fresh one.
#[derive(Debug, Clone, PartialEq)]
pub struct IssuedIce {
    /// The list for `RTCConfiguration.iceServers`.
    pub servers: Vec<IceServer>,
    /// When to send a fresh list, before the TURN credentials expire; `None` without TURN.
    pub refresh_in: Option<Duration>,
}

impl IceConfig {
    /// Builds the ICE configuration from the flags, plus the built-in relay's URLs if it runs
    /// (see [`builtin_relay_urls`]).
    pub fn new(config: &Config, builtin_relay_urls: Vec<String>) -> IceConfig {
        let mut turn_urls: Vec<String> = config
            .turn_urls
            .iter()
            .map(|url| url.trim().to_owned())
            .filter(|url| !url.is_empty())
            .collect();
        turn_urls.extend(builtin_relay_urls);
        IceConfig {
            stun_urls: config.stun_urls(),
            turn_urls,
            turn_secret: config.turn_secret.as_ref().map(|s| s.as_bytes().to_vec()),
            turn_ttl: Duration::from_secs(config.turn_ttl.max(60)),
            max_file_bytes: config.max_file_mb.saturating_mul(1024 * 1024),
        }
    }

    /// Mints the list for one connection at `now_unix`.
    pub fn issue_at(&self, now_unix: u64) -> IssuedIce {
        let mut servers = Vec::new();
        if !self.stun_urls.is_empty() {
            servers.push(IceServer {
                urls: self.stun_urls.clone(),
                username: None,
                credential: None,
            });
        }
        let mut refresh_in = None;
        if let (false, Some(secret)) = (self.turn_urls.is_empty(), &self.turn_secret) {
            // A random id per connection, so one leaked credential identifies one connection
            // and never a person.
            let id = format!("{:016x}", rand::random::<u64>());
            let issued = credentials::issue(secret, now_unix, self.turn_ttl, &id);
            let refresh_at = credentials::refresh_at(now_unix, issued.expires_at_unix);
            refresh_in = Some(Duration::from_secs(
                refresh_at.saturating_sub(now_unix).max(1),
            ));
            servers.push(IceServer {
                urls: self.turn_urls.clone(),
                username: Some(issued.username),
                credential: Some(issued.credential),
            });
        }
        IssuedIce {
            servers,
            refresh_in,
        }
    }

    /// The `config` message for one connection now, and when to send a fresh one.
    pub fn config_message(&self) -> (ServerMessage, Option<Duration>) {
        let issued = self.issue();
        let message = ServerMessage::Config {
            ice_servers: issued.servers,
            max_file_bytes: Some(self.max_file_bytes),
        };
        (message, issued.refresh_in)
    }

    /// Whether TURN credentials are handed out (and so need refreshing).
    pub fn has_turn(&self) -> bool {
        !self.turn_urls.is_empty() && self.turn_secret.is_some()
    }

    /// Mints the list for one connection now.
    pub fn issue(&self) -> IssuedIce {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.issue_at(now)
    }
}

/// The URLs that advertise the built-in relay: UDP and TCP on its port, and TLS when it runs.
/// `host` is the --turn-host name or the external IP; an IPv6 address gets brackets.
pub fn builtin_relay_urls(host: &str, port: u16, tls_port: Option<u16>) -> Vec<String> {
    let host = match host.parse::<std::net::Ipv6Addr>() {
        Ok(v6) => format!("[{v6}]"),
        Err(_) => host.to_owned(),
    };
    let mut urls = vec![
        format!("turn:{host}:{port}?transport=udp"),
        format!("turn:{host}:{port}?transport=tcp"),
    ];
    if let Some(tls_port) = tls_port {
        urls.push(format!("turns:{host}:{tls_port}?transport=tcp"));
    }
    urls
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn stun_only_needs_no_refresh() {
        let config = Config::parse_from(["visavis", "--stun", "stun:s:3478"]);
        let issued = IceConfig::new(&config, Vec::new()).issue_at(1_000);
        assert_eq!(issued.servers.len(), 1);
        assert_eq!(issued.refresh_in, None);
    }

    #[test]
    fn turn_gets_expiring_credentials_that_verify_and_a_refresh_before_expiry() {
        let config = Config::parse_from([
            "visavis",
            "--turn-url",
            "turn:t:3478",
            "--turn-secret",
            "s3cret",
            "--turn-ttl",
            "3600",
        ]);
        let issued = IceConfig::new(&config, Vec::new()).issue_at(1_000_000);
        let turn = &issued.servers[0];
        assert_eq!(turn.urls, vec!["turn:t:3478"]);
        let username = turn.username.as_deref().expect("test fixture is valid");
        assert_eq!(credentials::expiry_of(username), Some(1_003_600));
        assert_eq!(
            turn.credential.as_deref(),
            Some(credentials::password_for(b"s3cret", username).as_str())
        );
        let refresh = issued.refresh_in.expect("test fixture is valid");
        assert!(refresh < Duration::from_secs(3600) && refresh >= Duration::from_secs(60));
    }

    #[test]
    fn each_connection_gets_its_own_username() {
        let config =
            Config::parse_from(["visavis", "--turn-url", "turn:t:3478", "--turn-secret", "s"]);
        let ice = IceConfig::new(&config, Vec::new());
        assert_ne!(
            ice.issue_at(1).servers[0].username,
            ice.issue_at(1).servers[0].username
        );
    }

    #[test]
    fn the_builtin_relay_is_advertised_on_every_transport_with_one_credential() {
        let config = Config::parse_from(["visavis", "--turn-secret", "s"]);
        let urls = builtin_relay_urls("192.0.2.1", 3478, Some(5349));
        let issued = IceConfig::new(&config, urls).issue_at(1);
        assert_eq!(
            issued.servers[0].urls,
            vec![
                "turn:192.0.2.1:3478?transport=udp",
                "turn:192.0.2.1:3478?transport=tcp",
                "turns:192.0.2.1:5349?transport=tcp",
            ]
        );
        assert_eq!(issued.servers.len(), 1);
        assert!(issued.servers[0].credential.is_some());
    }

    #[test]
    fn relay_urls_use_the_host_name_and_bracket_ipv6() {
        assert_eq!(
            builtin_relay_urls("turn.example.org", 443, None),
            vec![
                "turn:turn.example.org:443?transport=udp",
                "turn:turn.example.org:443?transport=tcp",
            ]
        );
        assert_eq!(
            builtin_relay_urls("2001:db8::1", 3478, Some(443))[2],
            "turns:[2001:db8::1]:443?transport=tcp"
        );
    }

    #[test]
    fn the_secret_never_reaches_the_list() {
        let config = Config::parse_from([
            "visavis",
            "--turn-url",
            "turn:t:3478",
            "--turn-secret",
            "TOPSECRET",
        ]);
        let issued = IceConfig::new(&config, Vec::new()).issue_at(1);
        assert!(!serde_json::to_string(&issued.servers)
            .expect("test fixture is valid")
            .contains("TOPSECRET"));
    }
}
