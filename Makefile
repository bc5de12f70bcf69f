# trawl: the commands a developer and CI run. See README.md.
#
#   make test    deps, rustfmt check, clippy (warnings are errors), all tests
#   make demo    trace a demo service live into Parquet (trawl run), then three SQL answers
#   make bench   criterion benches, then trawl vs babeltrace2 on a trace (trawl-compare)
#                and on live sessions (trawl-live-compare)
#   make fuzz    each fuzz target for FUZZ_SECONDS (installs cargo-fuzz; stable + RUSTC_BOOTSTRAP=1)
#
# CARGO_TARGET_DIR is honoured; COMPARE_ARGS is passed to trawl-compare
# (e.g. COMPARE_ARGS="--reps 5 --no-scaling"), LIVE_COMPARE_ARGS to
# trawl-live-compare (e.g. LIVE_COMPARE_ARGS="--iterations 2000000").

SHELL := /bin/bash
CARGO ?= cargo
FUZZ_SECONDS ?= 60
COMPARE_ARGS ?=
LIVE_COMPARE_ARGS ?=
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
# rustup's default install location, for a shell that has not sourced ~/.cargo/env.
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: help deps test demo bench fuzz release

help:
	@sed -n '3,10p' Makefile | sed 's/^# \{0,1\}//'

deps:
	@scripts/install-deps.sh

test: deps
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) test --workspace

# The trawl binary and the harness binaries, optimised.
release: deps
	$(CARGO) build --release -p trawl-pipelines -p trawl-benches --bins

demo: release
	@TARGET_DIR="$(TARGET_DIR)" scripts/demo.sh

bench: release
	$(CARGO) bench --workspace
	"$(TARGET_DIR)/release/trawl-compare" $(COMPARE_ARGS)
	"$(TARGET_DIR)/release/trawl-live-compare" $(LIVE_COMPARE_ARGS)

fuzz:
	@scripts/install-deps.sh --fuzz
	@scripts/fuzz.sh "$(FUZZ_SECONDS)"
