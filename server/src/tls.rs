//! TLS with rustls: the operator's PEM files, or a self-signed certificate generated on first
//! start and kept in the data directory so browsers see the same one after a restart.

use std::fs;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, Context};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::Config;

const GENERATED_CERT_FILE: &str = "self-signed-cert.pem";
const GENERATED_KEY_FILE: &str = "self-signed-key.pem";

/// Builds the rustls server configuration for `config`.
pub fn server_config(config: &Config) -> anyhow::Result<rustls::ServerConfig> {
    let (cert_path, key_path) = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => (cert.clone(), key.clone()),
        _ => ensure_self_signed(&config.data_dir)?,
    };
    let certs = read_certs(&cert_path)?;
    let key = read_key(&key_path)?;
    // The provider is named explicitly so the build does not depend on which rustls crypto
    // features other crates happen to switch on.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("choosing TLS versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the TLS certificate and key do not match")?;
    Ok(tls)
}

/// Returns the paths of the generated certificate and key, generating them if absent.
fn ensure_self_signed(data_dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let cert_path = data_dir.join(GENERATED_CERT_FILE);
    let key_path = data_dir.join(GENERATED_KEY_FILE);
    if cert_path.exists() && key_path.exists() {
        return Ok((cert_path, key_path));
    }
    fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data directory {}", data_dir.display()))?;
    let names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let generated = rcgen::generate_simple_self_signed(names)
        .context("generating a self-signed certificate")?;
    fs::write(&cert_path, generated.cert.pem())
        .with_context(|| format!("writing {}", cert_path.display()))?;
    write_private(&key_path, generated.key_pair.serialize_pem().as_bytes())?;
    tracing::info!(path = %cert_path.display(), "generated a self-signed TLS certificate");
    Ok((cert_path, key_path))
}

/// Writes a file readable by its owner only, since it holds a private key.
fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("writing {}", path.display()))?;
        file.write_all(contents)?;
        Ok(())
    }
    #[cfg(not(unix))]
    {
        fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
    }
}

fn read_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let file = fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let certs = rustls_pemfile::certs(&mut BufReader::new(file))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("reading certificates from {}", path.display()))?;
    if certs.is_empty() {
        return Err(anyhow!("{} holds no PEM certificate", path.display()));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    let file = fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    rustls_pemfile::private_key(&mut BufReader::new(file))
        .with_context(|| format!("reading the private key from {}", path.display()))?
        .ok_or_else(|| anyhow!("{} holds no PEM private key", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn a_self_signed_certificate_is_generated_once_and_reused() {
        let dir = tempfile::tempdir().expect("test fixture is valid");
        let data = dir.path().to_str().expect("test fixture is valid");
        let config = Config::parse_from(["visavis", "--data-dir", data]);
        server_config(&config).expect("test fixture is valid");
        let first = fs::read(dir.path().join(GENERATED_CERT_FILE)).expect("test fixture is valid");
        server_config(&config).expect("test fixture is valid");
        let second = fs::read(dir.path().join(GENERATED_CERT_FILE)).expect("test fixture is valid");
        assert_eq!(first, second);
    }

    #[test]
    fn a_missing_certificate_file_is_a_clear_error() {
        let config = Config::parse_from([
            "visavis",
            "--tls-cert",
            "/nonexistent/c.pem",
            "--tls-key",
            "/nonexistent/k.pem",
        ]);
        let err = server_config(&config).unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/c.pem"));
    }
}
