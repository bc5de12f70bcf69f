#!/usr/bin/env bash
# `make demo`: record a real LTTng-UST trace of a common program (ls, under the
# libc wrapper, with every container context, streamed live through a private
# lttng-relayd) and decode it with `trawl cat`. Run through `make demo`, which
# installs the dependencies and builds the release binaries first.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${TARGET_DIR:-${CARGO_TARGET_DIR:-target}}"
bin="$target/release"
out="$target/trawl-demo"
program=(/bin/ls -lR /usr/share/doc)

for b in trawl trawl-record; do
    if [ ! -x "$bin/$b" ]; then
        echo "demo: $bin/$b is missing: run 'make demo' (it builds it)" >&2
        exit 1
    fi
done

echo "== recording: ${program[*]} (libc wrapper, live session via a private lttng-relayd)"
start=$(date +%s.%N)
trace="$("$bin/trawl-record" --out "$out" -- "${program[@]}" | tail -n 1)"
end=$(date +%s.%N)
printf '   trace: %s (%s, recorded in %.1f s)\n' "$trace" "$(du -sh "$trace" | cut -f1)" "$(awk "BEGIN { print $end - $start }")"

echo "== reference (babeltrace2): event counts by class"
TZ=UTC babeltrace2 "$trace" |
    sed -n 's/.* \(lttng_ust_libc:[a-z_]*\): .*/\1/p' | sort | uniq -c | sort -rn | sed 's/^/   /'

if "$bin/trawl" cat --help 2>/dev/null | grep -q -- '--format'; then
    echo "== trawl cat --format none (decode only)"
    time "$bin/trawl" cat --format none "$trace"
    echo "== trawl cat (first 10 lines)"
    { TZ=UTC "$bin/trawl" cat "$trace" || true; } | head -n 10 | cut -c1-220
    echo "== trawl cat vs babeltrace2, whole text output (TZ=UTC)"
    if cmp -s <(TZ=UTC "$bin/trawl" cat "$trace" 2>/dev/null) <(TZ=UTC babeltrace2 "$trace"); then
        echo "   identical"
    else
        echo "   DIFFERENT: first differing lines:"
        diff <(TZ=UTC "$bin/trawl" cat "$trace" 2>&1) <(TZ=UTC babeltrace2 "$trace") | head -n 6 | cut -c1-220 | sed 's/^/   /' || true
    fi
else
    echo "== trawl cat is not in this build yet: it lands with the pipeline issue."
    echo "   What exists today: the recording harness above, trawl-compare, and the"
    echo "   trawl binary skeleton ($bin/trawl). babeltrace2's view of the same trace:"
    # head closes the pipe early: babeltrace2's SIGPIPE is expected here.
    { TZ=UTC babeltrace2 "$trace" || true; } | head -n 3 | cut -c1-220 | sed 's/^/   /'
fi
