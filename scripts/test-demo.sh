#!/usr/bin/env bash
# The README's demo as a new user meets it, run by scripts/test.sh:
#   1. with CARGO_TARGET_DIR elsewhere, and again with a target-dir in .cargo/config.toml: it
#      prints the span table;
#   2. with a default port taken by another process: it works on another port;
#      with a port the caller chose taken: it fails, saying so;
#   3. failing midway (the server cannot start): it exits 1 and nothing it started still runs.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
listeners=()
config_made=
done_() {
  set +e
  for pid in "${listeners[@]}"; do kill "$pid" 2>/dev/null; done
  [ -n "$config_made" ] && rm -rf .cargo
  rm -rf "$tmp"
}
trap done_ EXIT
fail() { echo "test-demo: FAILED: $*" >&2; exit 1; }
# Holds a loopback port open, as another program would.
hold_port() {
  python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(3600)' "$1" &
  listeners+=($!)
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  fail "could not hold port $1"
}
expect_table() {
  grep -q "== 3 'POST /api/chat' span(s) received" "$1" || { cat "$1"; fail "$2: no span table"; }
  grep -q "resmon.process.cpu.time.delta" "$1" || { cat "$1"; fail "$2: no resmon attributes"; }
}
# The pids the demo reported must all be gone.
expect_nothing_left() {
  local pids
  pids=$(sed -n 's/.*(pid \([0-9]*\)).*/\1/p' "$1")
  [ -n "$pids" ] || { cat "$1"; fail "$2: the demo reported no pids"; }
  for pid in $pids; do
    if kill -0 "$pid" 2>/dev/null; then
      ps -o pid,args -p "$pid" >&2
      fail "$2: pid $pid started by the demo is still running"
    fi
  done
}

elsewhere="$tmp/elsewhere"
echo "test-demo: 1a. CARGO_TARGET_DIR=$elsewhere"
CARGO_TARGET_DIR="$elsewhere" otel-collector/demo.sh > "$tmp/1a" 2>&1 || { cat "$tmp/1a"; fail "1a exited $?"; }
expect_table "$tmp/1a" 1a
[ -x "$elsewhere/debug/examples/axum_server" ] || fail "1a: the example was not built in CARGO_TARGET_DIR"
expect_nothing_left "$tmp/1a" 1a

echo "test-demo: 1b. target-dir in .cargo/config.toml"
[ ! -e .cargo ] || fail "a .cargo folder exists here already; this test writes its own"
mkdir .cargo && config_made=1
printf '[build]\ntarget-dir = "%s"\n' "$elsewhere" > .cargo/config.toml
(unset CARGO_TARGET_DIR; otel-collector/demo.sh) > "$tmp/1b" 2>&1 || { cat "$tmp/1b"; fail "1b exited $?"; }
rm -rf .cargo && config_made=
expect_table "$tmp/1b" 1b

echo "test-demo: 2a. the default collector port taken by another process"
hold_port 14318
# Built already (1a): the same target dir.
CARGO_TARGET_DIR="$elsewhere" otel-collector/demo.sh > "$tmp/2a" 2>&1 || { cat "$tmp/2a"; fail "2a exited $?"; }
grep -q "port 14318 is in use by another process; using" "$tmp/2a" || { cat "$tmp/2a"; fail "2a: no word of the taken port"; }
expect_table "$tmp/2a" 2a

echo "test-demo: 2b. a collector port the caller chose, taken"
status=0
ROTEL_HTTP_PORT=14318 CARGO_TARGET_DIR="$elsewhere" otel-collector/demo.sh > "$tmp/2b" 2>&1 || status=$?
[ "$status" = 1 ] || { cat "$tmp/2b"; fail "2b: exit $status, expected 1"; }
grep -q "port 14318 (ROTEL_HTTP_PORT) is already in use" "$tmp/2b" || { cat "$tmp/2b"; fail "2b: the message does not say the port is taken"; }

echo "test-demo: 3. the server fails to start"
status=0
OTEL_EXPORTER_OTLP_PROTOCOL=bogus CARGO_TARGET_DIR="$elsewhere" otel-collector/demo.sh > "$tmp/3" 2>&1 || status=$?
[ "$status" = 1 ] || { cat "$tmp/3"; fail "3: exit $status, expected 1"; }
grep -q "the server did not start" "$tmp/3" || { cat "$tmp/3"; fail "3: no word of the server"; }
expect_nothing_left "$tmp/3" 3

echo "test-demo: passed (target dir elsewhere, config target-dir, taken ports, failure midway)"
