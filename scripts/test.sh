#!/usr/bin/env bash
# Runs every check and test: formatting, lints, unit tests, server integration tests against the
# real server, and browser end-to-end tests in real headless browsers. Installs what is missing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/setup.sh

say "cargo fmt --check"
cargo fmt --all -- --check
say "building the web app (trunk build --release)"
trunk build --release
say "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p visavis-client --target wasm32-unknown-unknown -- -D warnings
say "the client core has no browser dependency"
if cargo tree -p visavis-client-core -e normal --prefix none | grep -E '^(web-sys|wasm-bindgen|js-sys|leptos)'; then
    echo "visavis-client-core must not depend on a browser crate (see ARCHITECTURE.md)" >&2
    exit 1
fi
say "cargo test (unit, integration and browser tests)"
cargo test --workspace --no-fail-fast
