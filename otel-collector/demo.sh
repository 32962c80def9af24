#!/usr/bin/env bash
# The demo in one command, on a fresh clone: installs and starts a local OTLP collector
# (rotel, from PyPI), runs the axum_server example exporting to it, sends a few chat requests,
# stops the server (which flushes its telemetry), and prints what the collector received: the
# requests' `resmon.` span attributes and the resource metrics.
#
#   otel-collector/demo.sh              # this machine's real figures (no GPU: CPU and RAM only)
#   otel-collector/demo.sh --fake-gpu   # plus a FAKE GPU (the test driver), to show GPU figures
set -euo pipefail
cd "$(dirname "$0")/.."
grpc=${ROTEL_GRPC_PORT:-14317}
http=${ROTEL_HTTP_PORT:-14318}
port=${DEMO_PORT:-15001}
if [ "${1:-}" = "--fake-gpu" ]; then
  RESMON_NVML_LIB=$(scripts/fake-gpu.sh)
  export RESMON_NVML_LIB
  echo "demo: using the FAKE NVML driver at $RESMON_NVML_LIB: the GPU figures below are made up"
fi
echo "demo: building the example (the first time takes a few minutes)"
cargo build --quiet --example axum_server
out=$(mktemp)
ROTEL_GRPC_PORT=$grpc ROTEL_HTTP_PORT=$http otel-collector/run-rotel.sh > "$out" 2>&1 &
rotel=$!
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; kill "$rotel" 2>/dev/null; rm -f "$out"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
wait_port "$http" || { echo "demo: the collector did not start"; cat "$out"; exit 1; }
OTEL_SERVICE_NAME=${OTEL_SERVICE_NAME:-tutor-backend} \
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$http \
OTEL_METRIC_EXPORT_INTERVAL=1000 \
  target/debug/examples/axum_server "127.0.0.1:$port" &
server=$!
wait_port "$port" || { echo "demo: the server did not start"; exit 1; }
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
kill -TERM "$server"; wait "$server" || true; server=
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
for name in sorted(seen):
    if name.startswith(("hw.", "system.", "process.", "http.", "resmon.")):
        unit, value = seen[name]
        print(f"   {name:45} {unit:5} {value}")
PY
