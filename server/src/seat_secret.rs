//! The seat-token secret: 32 random bytes kept in `<data-dir>/seat-secret`, so tokens issued
//! before a restart still verify after it.
//!
//! The file holds the secret as 64 hex digits (and a newline). It is created with mode 0600 on
//! first start and reused afterwards; a file that exists but does not hold a secret stops
//! start-up rather than being silently replaced, since replacing it would void every seat.

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::Path;

use anyhow::{anyhow, Context};
use rand::rngs::OsRng;
use rand::TryRngCore;

use crate::seat_token::SECRET_BYTES;

/// The file name inside the data directory.
pub const SEAT_SECRET_FILE: &str = "seat-secret";

/// Reads the secret from `data_dir`, creating the directory and the file if they are missing.
pub fn load_or_create(data_dir: &Path) -> anyhow::Result<[u8; SECRET_BYTES]> {
    let path = data_dir.join(SEAT_SECRET_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => return parse(&text).with_context(|| malformed(&path)),
        Err(err) if err.kind() == ErrorKind::NotFound => {}
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    }
    fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data directory {}", data_dir.display()))?;
    let mut secret = [0u8; SECRET_BYTES];
    OsRng
        .try_fill_bytes(&mut secret)
        .map_err(|err| anyhow!("the operating system gave no random bytes: {err}"))?;
    match create_private(&path, format!("{}\n", to_hex(&secret)).as_bytes()) {
        Ok(()) => {
            tracing::info!(path = %path.display(), "generated a seat-token secret");
            Ok(secret)
        }
        // Another process created it between our read and our write: use theirs, so both agree.
        Err(err) if err.kind() == ErrorKind::AlreadyExists => {
            let text =
                fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            parse(&text).with_context(|| malformed(&path))
        }
        Err(err) => Err(err).with_context(|| format!("writing {}", path.display())),
    }
}

/// Reads the secret from a file every node of a cluster is given; it must exist.
pub fn load_file(path: &Path) -> anyhow::Result<[u8; SECRET_BYTES]> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse(&text).with_context(|| malformed(path))
}

fn malformed(path: &Path) -> String {
    format!(
        "{} does not hold a seat-token secret (64 hex digits); fix or delete it \
         (deleting it invalidates the seat tokens of calls in progress)",
        path.display()
    )
}

/// Creates `path` (failing if it exists) readable by its owner only, and writes `contents`.
fn create_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse(text: &str) -> anyhow::Result<[u8; SECRET_BYTES]> {
    let hex = text.trim().as_bytes();
    // Checked up front: `from_str_radix` alone would also take a sign, as in "+f".
    if !hex.iter().all(u8::is_ascii_hexdigit) {
        return Err(anyhow!("found a character that is not a hex digit"));
    }
    if hex.len() != 2 * SECRET_BYTES {
        return Err(anyhow!(
            "expected {} hex digits, found {} characters",
            2 * SECRET_BYTES,
            hex.len()
        ));
    }
    let mut secret = [0u8; SECRET_BYTES];
    for (byte, pair) in secret.iter_mut().zip(hex.chunks_exact(2)) {
        let digits = std::str::from_utf8(pair).map_err(|_| anyhow!("not hex"))?;
        *byte = u8::from_str_radix(digits, 16).map_err(|_| anyhow!("not hex"))?;
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_created_once_and_reused() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let data = dir.path().join("nested");
        let first = load_or_create(&data).expect("the secret is created");
        let second = load_or_create(&data).expect("the secret is read back");
        assert_eq!(first, second);
        assert_ne!(first, [0u8; SECRET_BYTES]);
        let text = fs::read_to_string(data.join(SEAT_SECRET_FILE)).expect("the file exists");
        assert_eq!(text, format!("{}\n", to_hex(&first)));
    }

    #[test]
    fn each_data_directory_gets_its_own_secret() {
        let one = tempfile::tempdir().expect("a temporary directory");
        let two = tempfile::tempdir().expect("a temporary directory");
        assert_ne!(
            load_or_create(one.path()).expect("created"),
            load_or_create(two.path()).expect("created")
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_secret_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("a temporary directory");
        load_or_create(dir.path()).expect("the secret is created");
        let mode = fs::metadata(dir.path().join(SEAT_SECRET_FILE))
            .expect("the file exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn an_existing_secret_written_by_hand_is_used() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        fs::write(dir.path().join(SEAT_SECRET_FILE), format!("  {hex}\r\n")).expect("written");
        let secret = load_or_create(dir.path()).expect("a valid secret");
        assert_eq!(secret[..4], [0x00, 0x11, 0x22, 0x33]);
        assert_eq!(secret[31], 0xff);
    }

    #[test]
    fn a_malformed_secret_is_a_clear_error_and_is_left_alone() {
        for bad in [
            String::new(),
            "abc".to_owned(),
            "zz".repeat(SECRET_BYTES),
            "ab".repeat(SECRET_BYTES + 1),
            "+f".repeat(SECRET_BYTES),
            "é".repeat(SECRET_BYTES),
        ] {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let path = dir.path().join(SEAT_SECRET_FILE);
            fs::write(&path, &bad).expect("written");
            let err = load_or_create(dir.path()).expect_err("a malformed secret is refused");
            let text = format!("{err:#}");
            assert!(text.contains("seat-secret"), "{text}");
            assert!(text.contains("64 hex digits"), "{text}");
            assert_eq!(fs::read_to_string(&path).expect("still there"), bad);
        }
    }
}
