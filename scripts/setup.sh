#!/usr/bin/env bash
# Installs everything visavis needs to build and test, skipping what is already there:
# the wasm target, trunk, the wasm-bindgen CLI matching Cargo.lock, wasm-opt (npm binaryen, under
# .tools/), and Debian's browsers.
# Sourced by start.sh and test.sh; safe to run again.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

export PATH="$HOME/.cargo/bin:$PATH"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
fi

# trunk 0.22 needs a newer rustc than ours; 0.21 is pinned.
if ! trunk --version 2>/dev/null | grep -q '^trunk 0\.21\.'; then
    say "installing trunk 0.21"
    cargo install trunk --version '~0.21' --locked || cargo install trunk --version '~0.21'
fi

# The CLI must be exactly the wasm-bindgen version the client links, or the build breaks.
wbg_version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
if ! wasm-bindgen --version 2>/dev/null | grep -q " ${wbg_version}\$"; then
    say "installing wasm-bindgen-cli ${wbg_version}"
    cargo install wasm-bindgen-cli --version "=${wbg_version}" --locked \
        || cargo install wasm-bindgen-cli --version "=${wbg_version}"
fi

# wasm-opt shrinks the WASM in release builds (Trunk.toml names the version): binaryen from npm,
# installed under .tools/ in the repository, with no download of its own.
binaryen_version="132.0.0"
export PATH="$root/.tools/node_modules/.bin:$PATH"
if ! wasm-opt --version 2>/dev/null | grep -q "version ${binaryen_version%%.*} "; then
    if ! command -v npm >/dev/null; then
        say "installing npm from apt (for wasm-opt)"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
    fi
    say "installing wasm-opt (binaryen ${binaryen_version} from npm) under .tools/"
    npm install --prefix "$root/.tools" --no-audit --no-fund "binaryen@${binaryen_version}"
fi

if [ "${VISAVIS_SETUP_BROWSERS:-1}" = "1" ]; then
    missing=()
    command -v chromium >/dev/null || missing+=(chromium)
    command -v chromedriver >/dev/null || missing+=(chromium-driver)
    # coturn: the TURN tests run a real coturn on loopback.
    command -v turnserver >/dev/null || missing+=(coturn)
    # nginx with its stream module: the test of the documented TURN-on-443 configuration.
    [ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || missing+=(nginx libnginx-mod-stream)
    # Firefox ESR: the Chromium <-> Firefox interop tests (driven by geckodriver, below).
    command -v firefox-esr >/dev/null || missing+=(firefox-esr)
    # nftables: the degraded-link test drops packets inside its network namespace.
    command -v nft >/dev/null || missing+=(nftables)
    # redis-server: the cluster tests start their own Redis; haproxy: the cluster's balancer
    # (docs/deployment.md), which a test runs with the documented configuration.
    command -v redis-server >/dev/null || missing+=(redis-server)
    command -v haproxy >/dev/null || missing+=(haproxy)
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing ${missing[*]} from apt"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    fi
    if ! command -v geckodriver >/dev/null && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/geckodriver" ]; then
        say "installing geckodriver"
        cargo install geckodriver --locked || cargo install geckodriver
    fi
fi
