#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for $1 seconds (default 60) each.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
export PATH="$HOME/.cargo/bin:$PATH"

if [ ! -f fuzz/Cargo.toml ]; then
    echo "fuzz: no fuzz targets yet (fuzz/Cargo.toml does not exist)"
    exit 0
fi
# The workspace pins a stable toolchain; libFuzzer instrumentation needs nightly.
targets="$(cargo +nightly fuzz list)"
if [ -z "$targets" ]; then
    echo "fuzz: fuzz/ has no targets"
    exit 0
fi
for target in $targets; do
    echo "fuzz: $target for ${seconds}s"
    cargo +nightly fuzz run "$target" -- -max_total_time="$seconds"
done
