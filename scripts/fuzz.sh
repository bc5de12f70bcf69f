#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for $1 seconds (default 60) each,
# seeded from the conformance corpus (fuzz/corpus is gitignored).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
export PATH="$HOME/.cargo/bin:$PATH"
# cargo-fuzz passes nightly-only flags (-Z sanitizer); the pinned stable
# toolchain accepts them with RUSTC_BOOTSTRAP=1, and no nightly is needed.
export RUSTC_BOOTSTRAP=1

mkdir -p fuzz/corpus/metadata fuzz/corpus/packet
data=../shared/data
if [ -d "$data" ]; then
    i=0
    while IFS= read -r f; do
        i=$((i + 1))
        cp "$f" "fuzz/corpus/metadata/seed$i"
    done < <(find "$data/ctf-traces" "$data/kernel-metadata" -name metadata -o -name '*.metadata')
fi
# The packet target's seed: a packet of every field kind, from the assembler.
TRAWL_WRITE_FUZZ_SEED=1 cargo test --quiet -p trawl-source-lttng --test decode write_fuzz_seed
for target in $(cd fuzz && cargo fuzz list); do
    echo "fuzz: $target for ${seconds}s"
    (cd fuzz && cargo fuzz run "$target" -- -max_total_time="$seconds" -rss_limit_mb=2048)
done
