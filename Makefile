# trustlink: the entry point. `make demo` runs it locally, `make test` tests it.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
TMP := .tmp

.PHONY: setup test test-rust test-templates lint fmt build demo demo-enforced moto-start moto-stop bench clean

setup:
	@tools/setup.sh

## The whole test suite: unit and integration tests (each test binary starts its own moto
## server; the enforcement*.rs binaries their own fakecloud, which evaluates trust policies),
## and the template checks (cfn-lint, sam validate --lint, least privilege).
test: setup test-rust test-templates

test-rust: setup
	cargo test --workspace --locked

test-templates: setup
	$(VENV)/bin/python tools/check_templates.py
	$(VENV)/bin/python -m unittest tools.check_operations

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

fmt:
	cargo fmt --all

## arm64 bootstraps of every function in infra/template.yaml (.aws-sam/build/<LogicalId>/bootstrap):
## sam build runs cargo lambda (zig from .venv cross-compiles; no Docker), then
## tools/check_build.sh checks each one. Offline once the crates and the aarch64 Rust target
## are on this machine (the first run fetches what is missing).
build: setup
	@if command -v rustup >/dev/null && ! rustup target list --installed | grep -x aarch64-unknown-linux-gnu >/dev/null; then \
	  rustup target add aarch64-unknown-linux-gnu; fi
	cargo fetch --locked --target aarch64-unknown-linux-gnu --target x86_64-unknown-linux-gnu
	SAM_CLI_TELEMETRY=0 CARGO_NET_OFFLINE=true \
	  sam build --template-file infra/template.yaml --build-dir .aws-sam/build
	tools/check_build.sh infra/template.yaml .aws-sam/build

.PHONY: check-build
check-build:
	tools/check_build.sh infra/template.yaml .aws-sam/build

## The whole story on the local AWS stack: create the classic link, use it, rotate, delete.
## BACKEND=moto (default; says which checks it cannot make) or BACKEND=fakecloud (trust
## policies evaluated: shows the denials).
BACKEND ?= moto
demo: setup
	BACKEND=$(BACKEND) $(VENV)/bin/python tools/demo.py

demo-enforced: setup
	BACKEND=fakecloud $(VENV)/bin/python tools/demo.py

## Start-up time, memory and binary size of the release binaries (host target).
bench:
	cargo build --release --locked --bins
	cargo bench --locked -p trustlink-tests --bench cold_start
	$(MAKE) bench-calls

## The AWS calls of each operation, counted on the wire through the real binaries (tests/calls.rs,
## which also holds the ceilings), and the bytes each one logs at the default level.
.PHONY: bench-calls
bench-calls: setup
	@cargo test --locked -p trustlink-tests --test calls -- --nocapture --test-threads 1 2>/dev/null \
	  | sed -n 's/^.*calls[|] /calls| /p' \
	  | awk -F' [|] ' 'BEGIN { printf "%-50s %6s %5s %5s %5s %10s\n", "operation", "calls", "iam", "sts", "sm", "log bytes" } \
	    /^calls[|] gated/ { gated = $$2; next } \
	    /^calls[|]/ { op = $$1; sub(/^calls[|] /, "", op); x = (op ~ /x100/) ? 100 : 1; sub(/ [(]x100[)]/, "", op); \
	      printf "%-50s %6.2f %5.2f %5.2f %5.2f %10d\n", op, $$2/x, $$3/x, $$4/x, $$5/x, $$6/x } \
	    END { print "gated link: sts:AssumeRole on its role in a forced rotation: " gated }'

## A forced rotation of 200 links with 40 ms added to every AWS call, at concurrency 1 and 8
## (docs/scaling.md): minutes, so not part of `make bench`. The test profile: the time is the
## network's, and the test builds are already there.
.PHONY: bench-rotation
bench-rotation: setup
	cargo test --locked -p trustlink-tests --bench rotation_latency

## A moto server for manual use: port in .tmp/moto.port, stopped by `make moto-stop`.
moto-start: setup
	@mkdir -p $(TMP)
	@if [ -f $(TMP)/moto.pid ] && kill -0 $$(cat $(TMP)/moto.pid) 2>/dev/null; then \
	  echo "moto already running on port $$(cat $(TMP)/moto.port)"; exit 0; fi
	@rm -f $(TMP)/moto.port
	@nohup $(VENV)/bin/python tools/moto_server.py --until-signal --port-file $(TMP)/moto.port \
	  >$(TMP)/moto.log 2>&1 </dev/null & echo $$! > $(TMP)/moto.pid
	@for i in $$(seq 100); do [ -s $(TMP)/moto.port ] && break; sleep 0.1; done
	@[ -s $(TMP)/moto.port ] || { echo "moto did not start; see $(TMP)/moto.log"; exit 1; }
	@echo "moto on http://127.0.0.1:$$(cat $(TMP)/moto.port) (pid $$(cat $(TMP)/moto.pid))"
	@echo "export AWS_ENDPOINT_URL=http://127.0.0.1:$$(cat $(TMP)/moto.port) AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing"

moto-stop:
	@if [ -f $(TMP)/moto.pid ]; then kill $$(cat $(TMP)/moto.pid) 2>/dev/null || true; \
	  rm -f $(TMP)/moto.pid $(TMP)/moto.port; echo "moto stopped"; fi

clean:
	cargo clean
	rm -rf $(TMP) .aws-sam
