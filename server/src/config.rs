//! The server's configuration: command-line flags, each also readable from an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

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

    /// Serve plain HTTP, for use behind a reverse proxy or on localhost.
    #[arg(long, env = "VISAVIS_NO_TLS", conflicts_with_all = ["tls_cert", "tls_key"])]
    pub no_tls: bool,

    /// The directory of the Trunk build to serve.
    #[arg(long, env = "VISAVIS_STATIC_DIR", default_value = "dist")]
    pub static_dir: PathBuf,

    /// Where generated state (the self-signed certificate) is kept.
    #[arg(long, env = "VISAVIS_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// A STUN server URL handed to browsers, e.g. `stun:stun.example.org:3478`. Repeatable, or
    /// comma-separated in the environment variable. None by default, which suits a LAN or a
    /// server with a public address; an empty value gives an empty list.
    #[arg(long = "stun", env = "VISAVIS_STUN", value_delimiter = ',')]
    pub stun: Vec<String>,

    /// Log format: `text` for people, `json` for log collectors.
    #[arg(long, env = "VISAVIS_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
}

impl Config {
    /// The STUN URLs with empty entries removed, so `--stun ''` means "no STUN".
    pub fn stun_urls(&self) -> Vec<String> {
        self.stun
            .iter()
            .map(|url| url.trim().to_owned())
            .filter(|url| !url.is_empty())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_contract() {
        let config = Config::parse_from(["visavis"]);
        assert_eq!(config.listen, "0.0.0.0:8443".parse().unwrap());
        assert!(!config.no_tls);
        assert_eq!(config.static_dir, PathBuf::from("dist"));
        assert!(config.stun_urls().is_empty());
    }

    #[test]
    fn stun_is_repeatable_and_empty_values_vanish() {
        let config = Config::parse_from([
            "visavis", "--stun", "stun:a:1", "--stun", "stun:b:2", "--stun", "",
        ]);
        assert_eq!(config.stun_urls(), vec!["stun:a:1", "stun:b:2"]);
    }

    #[test]
    fn tls_cert_needs_a_key() {
        assert!(Config::try_parse_from(["visavis", "--tls-cert", "c.pem"]).is_err());
    }

    #[test]
    fn no_tls_conflicts_with_a_certificate() {
        assert!(Config::try_parse_from([
            "visavis",
            "--no-tls",
            "--tls-cert",
            "c",
            "--tls-key",
            "k"
        ])
        .is_err());
    }
}
