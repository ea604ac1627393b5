//! Where things are: the workspace, the client build the app serves, the target directory and
//! the directory failing tests leave their diagnostics in.

use std::path::{Path, PathBuf};

/// The root of the cargo workspace (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| manifest_dir.to_path_buf())
}

/// The client build served by the app. Panics if it has not been built: a browser test that
/// cannot run must fail loudly rather than pass by skipping.
pub fn dist_dir() -> PathBuf {
    let dist = workspace_root().join("dist");
    if !dist.join("index.html").is_file() {
        panic!(
            "{} is missing: the browser tests need the client build. \
             Run `trunk build --release` first (it builds client-wasm into {}).",
            dist.join("index.html").display(),
            dist.display()
        );
    }
    dist
}

/// The cargo target directory (`CARGO_TARGET_DIR` if set, else `<workspace>/target`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        None => workspace_root().join("target"),
    }
}

/// Where failing tests leave screenshots and browser logs.
pub fn screenshot_dir() -> PathBuf {
    target_dir().join("e2e-screenshots")
}
