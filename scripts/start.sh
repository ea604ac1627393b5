#!/usr/bin/env bash
# Builds everything and starts visavis on https://localhost:8443 (self-signed certificate).
# Extra arguments go to the server, e.g. `scripts/start.sh --stun stun:stun.example.org:3478`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
VISAVIS_SETUP_BROWSERS=0 source scripts/setup.sh

say "building the web app (trunk build --release)"
trunk build --release
say "building the server (cargo build --release)"
cargo build --release -p visavis
say "starting visavis on https://localhost:8443 (Ctrl-C stops it)"
exec target/release/visavis --static-dir dist "$@"
