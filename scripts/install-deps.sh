#!/usr/bin/env bash
# Installs what trawl's build, tests, demo and benches need on Debian/Ubuntu.
#
# Idempotent and quiet: it first asks dpkg-query / command -v what is already
# there (well under 2 s when everything is present) and only then calls apt-get
# (one `apt-get update`, one `apt-get install`) or rustup/cargo for what is missing.
#
#   scripts/install-deps.sh          system packages + the pinned Rust toolchain
#   scripts/install-deps.sh --fuzz   also cargo-fuzz (for `make fuzz`; runs on stable with RUSTC_BOOTSTRAP=1)
#
# Runs as root directly, or through sudo when not root.
set -euo pipefail

# Why each package is here:
#   lttng-tools          lttng, lttng-sessiond, lttng-relayd: the tests record real traces
#   liblttng-ust-dev     the UST tracer and liblttng-ust-libc-wrapper.so.1 (LD_PRELOAD)
#   babeltrace2          the reference decoder the tests and the comparison harness check against
#   time                 /usr/bin/time -v, for peak RSS by hand
#   build-essential      cc (the harness compiles a tiny malloc/free loop), linkers for cargo
#   pkg-config           build scripts of -sys crates
#   ca-certificates curl rustup's installer and crates.io over TLS
#   git                  cargo git dependencies and the repository itself
#   docker.io            dockerd: the enrichment tests start a private one (vfs storage, own socket)
#   busybox-static       the root filesystem of the test image (`docker import`, no registry)
#   prometheus           a real Prometheus (and promtool) that the exporter's tests start
#                        to scrape /metrics and to run every dashboard query against
PACKAGES=(
    lttng-tools
    liblttng-ust-dev
    babeltrace2
    time
    build-essential
    pkg-config
    ca-certificates
    curl
    git
    docker.io
    busybox-static
    prometheus
)

want_fuzz=0
for arg in "$@"; do
    case "$arg" in
        --fuzz) want_fuzz=1 ;;
        -h | --help)
            sed -n '2,12p' "$0"
            exit 0
            ;;
        *)
            echo "install-deps: unknown argument: $arg" >&2
            exit 2
            ;;
    esac
done

log() { echo "install-deps: $*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        log "need root to run: $* (run this script as root or install sudo)"
        exit 1
    fi
}

# --- Debian packages --------------------------------------------------------
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
    # One dpkg-query for all packages; unknown packages print nothing on stdout.
    installed="$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)"
    for pkg in "${PACKAGES[@]}"; do
        if ! grep -qx "$pkg installed" <<<"$installed"; then
            missing+=("$pkg")
        fi
    done
else
    # Not Debian: say what is needed, check the commands that matter, go on.
    for cmd in lttng lttng-sessiond lttng-relayd babeltrace2 cc; do
        command -v "$cmd" >/dev/null 2>&1 || log "not a Debian system and '$cmd' is missing; install it by hand"
    done
fi

# python3 with venv: the tests read trawl's Parquet files with pyarrow (below).
# Checked by what python3 can do, not by package name (pyenv and the like count).
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    if command -v dpkg-query >/dev/null 2>&1; then
        missing+=(python3 python3-venv)
    else
        log "not a Debian system and python3 with venv is missing; install it by hand"
    fi
fi

if [ "${#missing[@]}" -gt 0 ]; then
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Rust -------------------------------------------------------------------
# rust-toolchain.toml pins the version; rustup installs it on the first cargo call.
if [ -x "$HOME/.cargo/bin/cargo" ] && ! command -v cargo >/dev/null 2>&1; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
    log "installing rustup (minimal profile); add \$HOME/.cargo/bin to PATH"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
        sh -s -- -y -q --profile minimal --default-toolchain none >/dev/null
    export PATH="$HOME/.cargo/bin:$PATH"
fi
# The pinned toolchain (with rustfmt and clippy) is fetched by rustup when first
# used; do it here so that `make test` output is not interleaved with downloads.
repo_root="$(cd "$(dirname "$0")/.." && pwd)"
if command -v rustup >/dev/null 2>&1; then
    channel="$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$repo_root/rust-toolchain.toml")"
    if [ -n "$channel" ] && ! rustup toolchain list | grep -q "^$channel"; then
        log "installing Rust $channel"
        (cd "$repo_root" && rustup toolchain install "$channel" --profile minimal -c rustfmt -c clippy >/dev/null)
    fi
fi

# --- pyarrow ----------------------------------------------------------------
# An engine we did not write reads every Parquet file trawl writes (tests of
# `trawl convert`). A venv under the user's cache dir, so the system Python is
# left alone; the tests look for it there (or at $TRAWL_PYTHON).
venv="${XDG_CACHE_HOME:-$HOME/.cache}/trawl/venv"
if ! "$venv/bin/python" -c 'import pyarrow' >/dev/null 2>&1; then
    log "installing pyarrow into $venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check pyarrow
fi

# --- fuzzing (only on request) ----------------------------------------------
if [ "$want_fuzz" -eq 1 ]; then
    if ! command -v cargo-fuzz >/dev/null 2>&1; then
        log "installing cargo-fuzz"
        cargo install --quiet --locked cargo-fuzz
    fi
fi
