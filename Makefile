# streamwatch — the two commands a user needs are `make run` and `make test`.
SHELL := /bin/bash
CACHE ?= $(HOME)/.cache/streamwatch
TANSU_VERSION := 0.6.0
TANSU := $(CACHE)/tansu/bin/tansu
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# cmake: aws-lc-sys (a dependency of tansu) falls back to a CMake build where its cc build cannot run.
APT_PACKAGES := kcat tmux cmake prometheus-alertmanager
# kafka-python (2.2.x talks to the embedded broker; 3.x does not bootstrap) and lz4 for its codec.
PY_PACKAGES := 'kafka-python>=2.2,<2.3' lz4

.PHONY: run test check bench deps apt-deps py-deps tansu fmt clippy build check-patches

## Build in release mode and open the TUI on the embedded broker.
run:
	cargo build --release --locked
	./target/release/streamwatch

build:
	cargo build --release --locked

## Install what the tests need (kcat, tmux, cmake, prometheus-alertmanager via apt; kafka-python, lz4 via pip; tansu), then run every test.
test: deps check-patches
	mkdir -p target
	set -o pipefail; TANSU_BIN=$(TANSU) cargo test --locked --all-targets 2>&1 | tee target/test.log
	@awk '/^test result:/ { p += $$4; f += $$6 } END { print "tests: " p " passed, " f " failed" }' target/test.log

## The vendored crates are their crates.io releases plus the patch files in patches/*/changes.
check-patches:
	bash patches/check.sh

## Formatting, lints and tests.
check: fmt clippy test

fmt:
	cargo fmt --all -- --check

clippy:
	cargo clippy --locked --all-targets -- -D warnings

## Criterion micro-benchmarks and the end-to-end `streamwatch bench`.
bench:
	cargo bench --locked --bench core
	cargo build --release --locked
	./target/release/streamwatch bench --count 500000

deps: apt-deps py-deps tansu

apt-deps:
	@missing=""; for p in $(APT_PACKAGES); do command -v $$p >/dev/null || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing (apt)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

py-deps:
	@python3 -c 'import kafka, lz4' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check $(PY_PACKAGES)

## tansu, a Kafka-compatible server the integration tests run against (built once, cached).
tansu: $(TANSU)
$(TANSU): | apt-deps
	@echo "building tansu $(TANSU_VERSION) into $(CACHE)/tansu (once; several minutes)"
	cargo install tansu --version $(TANSU_VERSION) --features dynostore --root $(CACHE)/tansu
