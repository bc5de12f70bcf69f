#!/usr/bin/env bash
# `make demo`: a live LTTng session traced on this machine (a demo service with
# its own tracepoints, and `ls`, under the libc wrapper), read while it is
# recorded by `trawl run` with the demo pipeline (pipelines/examples/demo.toml:
# live relay -> Parquet), then three SQL answers. Run through `make demo`,
# which installs the dependencies and builds the release binaries first.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${TARGET_DIR:-${CARGO_TARGET_DIR:-target}}"
bin="$target/release"

for b in trawl trawl-demo; do
    if [ ! -x "$bin/$b" ]; then
        echo "demo: $bin/$b is missing: run 'make demo' (it builds it)" >&2
        exit 1
    fi
done
exec "$bin/trawl-demo" --out "$target/trawl-demo" --seconds "${DEMO_SECONDS:-20}"
