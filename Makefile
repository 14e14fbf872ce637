# The two commands of the README: `make run` and `make test`. Both set up what they need first.
SHELL := /bin/bash
.DEFAULT_GOAL := run

# cargo-leptos compiles the output name into the server; every other build must see the same
# value or cargo rebuilds Leptos back and forth. Cargo.toml is its one source.
export LEPTOS_OUTPUT_NAME := $(shell sed -n 's/^output-name = "\(.*\)"/\1/p' Cargo.toml)
TOOLS := source target/tools.env

.PHONY: run test test-rust test-e2e bench bench-peers bootstrap build-release fmt lint

bootstrap:
	@scripts/bootstrap.sh

## Build for release, migrate, seed the demo workspace on first run, and serve on :3000, with
## the provider simulator on :3100 (loopback) standing in for the demo tenants' provider.
SIMULATOR := 127.0.0.1:3100
run: bootstrap
	$(TOOLS) && cargo leptos build --release
	target/release/tenantpilot provider-sim --demo --addr $(SIMULATOR) & simulator=$$!; \
	trap 'kill $$simulator 2>/dev/null' EXIT; \
	LEPTOS_SITE_ROOT=target/site target/release/tenantpilot serve --demo --demo-provider-url http://$(SIMULATOR) \
	  --sample-provider-url http://$(SIMULATOR) --egress-allow 127.0.0.1

## Everything: unit and integration tests on SQLite and PostgreSQL, then the browser suite.
test:
	@scripts/bootstrap.sh --test
	scripts/with-postgres.sh $(MAKE) --no-print-directory test-rust test-e2e

# Tests run in parallel (one per core): each has its own database, runtime and router. Pages
# that once never finished were a panic on a disposed route memo (see `ErrorView`'s
# `current_path`) and a route-list walk beside a render (see `router::page_routes`);
# TEST_DEADLINE still names any test that hangs.
test-rust:
	cargo test --workspace --locked

test-e2e:
	$(TOOLS) && cargo leptos build
	cd end2end && TENANTPILOT_BIN=../target/debug/tenantpilot npm test

## Speed numbers (release build), on SQLite and PostgreSQL; see the README for the latest.
## First what the browser downloads (wasm, js, css; raw and gzipped) from the release build,
## and Monitoring's time to interactive on it (the browser suite's measurement).
bench:
	@scripts/bootstrap.sh --test
	$(TOOLS) && cargo leptos build --release
	scripts/page-weight.sh
	cd end2end && TENANTPILOT_BIN=../target/release/tenantpilot \
	  node --test --test-name-pattern='time to interactive' tests/operations.test.mjs
	scripts/with-postgres.sh cargo bench -p tenantpilot-server --bench operations
	for backend in sqlite postgres; do \
	  scripts/with-postgres.sh cargo bench -p tenantpilot-server --bench operations -- long-poll $$backend || exit 1; \
	  scripts/with-postgres.sh cargo bench -p tenantpilot-server --bench operations -- backup-window $$backend || exit 1; \
	  scripts/with-postgres.sh cargo bench -p tenantpilot-server --bench operations -- live-feed $$backend || exit 1; \
	done

## TenantPilot's engine beside graphile-worker on the same PostgreSQL, in the same run: no-op
## jobs' enqueue rate (32 adders), drain rate and enqueue-to-start latency, with the ratios.
bench-peers:
	scripts/with-postgres.sh benches/peers/run.sh

## The pages' view! macros by leptosfmt (settings in leptosfmt.toml), then the rest by rustfmt.
fmt:
	@scripts/bootstrap.sh --lint
	$(TOOLS) && leptosfmt --config-file leptosfmt.toml --quiet app/src
	cargo fmt --all

lint:
	@scripts/bootstrap.sh --lint
	cargo fmt --all -- --check
	$(TOOLS) && leptosfmt --config-file leptosfmt.toml --check --quiet app/src
	cargo clippy --workspace --all-targets -- -D warnings
