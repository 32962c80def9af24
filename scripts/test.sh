#!/usr/bin/env bash
# The project's one test command: installs what the tests need, then runs every check.
#   scripts/test.sh            fmt, clippy, the full test suite (fake NVML driver), docs
#   RESMON_TEST_REAL_GPU=1 scripts/test.sh   also the tests against a real NVIDIA driver
# It needs nothing in the cargo cache: it fetches every crate first (CARGO_HOME may be empty).
set -euo pipefail
cd "$(dirname "$0")/.."

# Every crate of the lockfile, for every platform and feature, before anything runs offline
# (`cargo deny --offline` reads them all; a cache that happens to hold them hides this step).
cargo fetch --locked

# NVIDIA's nvml.h, so the fake NVML driver is compiled against the real ABI.
scripts/fetch-nvml-header.sh
command -v cc >/dev/null || { echo "a C compiler (cc) is needed for the fake NVML driver" >&2; exit 1; }
# Debian's nginx (the TLS front in front of rotel) and openssl (the tests' certificates), for
# tests/tls.rs; prometheus (the server tests/prometheus.rs scrapes with) and chromium (the
# browser that renders its graph page); python3-yaml (tests/readme.rs parses the README's
# Kubernetes manifest); as root here (CI is), else ask for them.
if ! command -v nginx >/dev/null || ! command -v openssl >/dev/null \
  || ! command -v prometheus >/dev/null || ! command -v chromium >/dev/null \
  || ! python3 -c 'import yaml' 2>/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      nginx openssl prometheus chromium python3-yaml
  else
    echo "the tests need nginx, openssl, prometheus, chromium and python3-yaml: sudo apt-get install nginx openssl prometheus chromium python3-yaml" >&2
    exit 1
  fi
fi

# Every test run's output is kept so the last line can total them.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
run_tests() { "$@" 2>&1 | tee -a "$log"; }

cargo fmt --all -- --check
# Security: test-only parts (the fake NVML driver is compiled by the test harness, never by a
# build script) and dev-dependencies stay out of what a user's build links.
if [ -e build.rs ]; then echo "build.rs appeared: check it does not build the fake driver" >&2; exit 1; fi
tree=$(cargo tree -e normal --prefix none --all-features)
for dev_only in tempfile criterion proptest; do
  if grep -q "^$dev_only v" <<<"$tree"; then
    echo "$dev_only is in the library's normal dependency tree" >&2; exit 1
  fi
done
echo "normal dependency tree: $(sort -u <<<"$tree" | wc -l) crates, no test-only one"
# rust-version in Cargo.toml is at least what every crate a user builds declares.
python3 scripts/check-msrv.py
# No module under src/ reaches back into a module that uses it (siblings form no cycle).
python3 scripts/check-layering.py
# Licences, banned crates and sources of every dependency (policy: deny.toml). The advisories
# check needs the RustSec database from GitHub, which the CI machine cannot download.
command -v cargo-deny >/dev/null || cargo install cargo-deny --locked --version 0.20.2
cargo deny --offline check --hide-inclusion-graph bans licenses sources
cargo clippy --all-targets -- -D warnings
# Every feature alone, and none: each compiles and passes clippy.
for features in "" nvml otlp tower axum prometheus; do
  echo "clippy: --no-default-features --features '$features'"
  cargo clippy --all-targets --no-default-features --features "$features" -- -D warnings
done
# The docs as docs.rs builds them (every feature), warnings denied, and the package as
# crates.io gets it (its file list and size; building it is the verify step). The verify
# build gets a target dir of its own: in the shared one the packaged copy has the same
# fingerprint as the work tree's crate, and later builds would take the copy's for fresh.
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --all-features
CARGO_TARGET_DIR=target/package-verify cargo package --locked --allow-dirty 2>&1 |
  grep -Ev '^warning: ignoring (test|bench) |^ +(Compiling|Checking) '

# The end-to-end tests run the examples as programs: build them under their own names.
cargo build --examples
run_tests cargo test --all-targets
run_tests cargo test --doc
run_tests cargo test --no-default-features --all-targets
# The benchmarks build and run once each (no timing), so they cannot rot.
cargo bench --benches -- --test
# The span path's cost in instructions against a bare tracing-opentelemetry span (callgrind:
# repeatable where timings on a shared machine are not); fails above its gate.
scripts/span-instructions.sh
# The README's demo: target dir elsewhere, taken ports, a failure midway.
scripts/test-demo.sh

if [ "${RESMON_TEST_REAL_GPU:-0}" = "1" ]; then
  run_tests cargo test --test real_gpu -- --ignored --nocapture
fi

# One closing line over every `cargo test` run above.
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "%d passed, %d failed, %d skipped\n", p, f, i }' "$log"
