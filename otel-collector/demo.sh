#!/usr/bin/env bash
# The demo in one command, on a fresh clone: installs and starts a local OTLP collector
# (rotel, from PyPI), runs the axum_server example exporting to it, sends a few chat requests,
# stops the server (which flushes its telemetry), and prints what the collector received: the
# requests' `resmon.` span attributes and the resource metrics.
#
#   otel-collector/demo.sh              # this machine's real figures (no GPU: CPU and RAM only)
#   otel-collector/demo.sh --fake-gpu   # plus a FAKE GPU (the test driver), to show GPU figures
#
# Ports: the collector listens on ROTEL_GRPC_PORT / ROTEL_HTTP_PORT (default 14317 / 14318), the
# server on DEMO_PORT (default 15001). A default port that is taken is replaced by a free one; a
# port you set that is taken is an error. The demo exits 1 unless the collector received the
# chat spans and the metrics, and stops everything it started on every path.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "demo: $*" >&2; exit 1; }
port_free() { python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# pick VAR DEFAULT: the port in $VAR if set (it must be free), else DEFAULT or a free one.
pick() {
  local var=$1 default=$2 chosen=${!1:-}
  if [ -n "$chosen" ]; then
    port_free "$chosen" || fail "port $chosen ($var) is already in use by another process: stop it or set $var to a free port"
    echo "$chosen"
  elif port_free "$default"; then
    echo "$default"
  else
    chosen=$(free_port)
    echo "demo: port $default is in use by another process; using $chosen instead (set $var to choose)" >&2
    echo "$chosen"
  fi
}
grpc=$(pick ROTEL_GRPC_PORT 14317)
http=$(pick ROTEL_HTTP_PORT 14318)
port=$(pick DEMO_PORT 15001)

if [ "${1:-}" = "--fake-gpu" ]; then
  RESMON_NVML_LIB=$(scripts/fake-gpu.sh)
  export RESMON_NVML_LIB
  echo "demo: using the FAKE NVML driver at $RESMON_NVML_LIB: the GPU figures below are made up"
fi

echo "demo: building the example (the first time takes a few minutes)"
# The binary's path as cargo reports it: right with CARGO_TARGET_DIR or a target-dir in
# .cargo/config.toml, where a fixed target/debug/... is not.
server_bin=$(cargo build --quiet --example axum_server --message-format=json-render-diagnostics |
  python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "axum_server" and m.get("executable"):
        print(m["executable"])')
[ -x "$server_bin" ] || fail "cargo reported no axum_server binary"

# Installed before it starts, so the process started below is the collector itself.
otel-collector/install-rotel.sh > /dev/null
out=$(mktemp)
rotel=
server=
# Stops everything this demo started, whatever failed before; never fails itself.
cleanup() {
  set +e
  for pid in $server $rotel; do
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  rm -f "$out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_port PORT PID: until PORT accepts, failing at once if PID (which should be
# listening there) exits.
wait_port() {
  for _ in $(seq 300); do
    kill -0 "$2" 2>/dev/null || return 1
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

ROTEL_GRPC_PORT=$grpc ROTEL_HTTP_PORT=$http otel-collector/run-rotel.sh > "$out" 2>&1 &
rotel=$!
echo "demo: collector (pid $rotel) on 127.0.0.1:$grpc (gRPC) and 127.0.0.1:$http (HTTP)"
wait_port "$http" "$rotel" || { cat "$out" >&2; fail "the collector did not start (above: what it printed)"; }

OTEL_SERVICE_NAME=${OTEL_SERVICE_NAME:-tutor-backend} \
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$http \
OTEL_METRIC_EXPORT_INTERVAL=1000 \
  "$server_bin" "127.0.0.1:$port" &
server=$!
echo "demo: server (pid $server) on 127.0.0.1:$port"
wait_port "$port" "$server" || fail "the server did not start"

python3 - "$port" <<'PY'
import json, sys, urllib.request
port = sys.argv[1]
for i, prompt in enumerate(["What is a CUDA stream?", "Explain memory coalescing " * 8, "Write a haiku about GPUs " * 20]):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/chat",
        data=json.dumps({"prompt": prompt, "session_id": f"demo-{i}"}).encode(),
        headers={"content-type": "application/json"})
    reply = json.load(urllib.request.urlopen(req))
    m = reply["performance_metrics"]
    print(f"demo: chat {i}: {m['response_time_seconds']:.3f} s, CPU {m['process_cpu_seconds']} s, RSS delta {m['rss_delta_bytes']} B")
status = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status"))
print(f"demo: /api/status: GPU status {status['gpu_status']['status']}, {len(status['inventory']['devices'])} device(s)")
PY
sleep 1.5
kill -TERM "$server"
wait "$server" || fail "the server did not stop cleanly (exit $?)"
server=
sleep 1
python3 - "$out" <<'PY'
import re, sys
text = re.sub(r"\x1b\[[0-9;]*m", "", open(sys.argv[1]).read())
# Spans: the last POST /api/chat span's resmon. attributes.
spans = re.split(r"\n\s*Name\s+:\s+", text)
chat = [s for s in spans[1:] if s.startswith("POST /api/chat")]
print(f"\n== {len(chat)} 'POST /api/chat' span(s) received; the last one's resource attributes:")
if chat:
    for key, value in re.findall(r"-> (resmon\.[\w.]+): (\w+\(.*\))", re.split(r"\nResource|Events:", chat[-1])[0]):
        print(f"   {key:45} {value}")
# Metrics: name, unit, last value seen.
print("\n== metrics received (last value):")
seen = {}
for block in text.split("Descriptor:")[1:]:
    name = re.search(r"-> Name: (\S+)", block)
    unit = re.search(r"-> Unit: ?(\S*)", block)
    value = re.findall(r"\nValue: (\S+)", block) or re.findall(r"\nCount: (\S+)", block)
    if name:
        seen[name.group(1)] = (unit.group(1) if unit else "", value[-1] if value else "")
shown = 0
for name in sorted(seen):
    if name.startswith(("hw.", "system.", "process.", "http.", "resmon.")):
        unit, value = seen[name]
        print(f"   {name:45} {unit:5} {value}")
        shown += 1
if len(chat) < 3 or shown == 0:
    sys.exit(f"\ndemo: FAILED: the collector received {len(chat)} of 3 chat spans and {shown} resource metrics")
PY
