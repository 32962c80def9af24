#!/usr/bin/env bash
# The demo in one command: a local rotel collector, the quickstart example exporting to it over
# OTLP, then what the collector received (span attributes and metric names), and a clean stop.
# Without an NVIDIA GPU the figures are host and process only; RESMON_NVML_LIB can point at a
# driver library elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --example quickstart
out=$(mktemp)
ROTEL_GRPC_PORT=${ROTEL_GRPC_PORT:-14317} ROTEL_HTTP_PORT=${ROTEL_HTTP_PORT:-14318} \
  otel-collector/run-rotel.sh > "$out" 2>&1 &
rotel=$!
trap 'kill $rotel 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/${ROTEL_HTTP_PORT:-14318}) 2>/dev/null && break
  sleep 0.1
done
OTEL_SERVICE_NAME=${OTEL_SERVICE_NAME:-otel-resmon-demo} \
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:${ROTEL_HTTP_PORT:-14318} \
OTEL_METRIC_EXPORT_INTERVAL=500 \
  target/debug/examples/quickstart
sleep 1
clean=$(sed 's/\x1b\[[0-9;]*m//g' "$out")
echo "== span attributes the collector received (last span):"
echo "$clean" | grep -E -- '-> resmon\.' | tail -n 20
echo "== metrics the collector received:"
echo "$clean" | grep -E -- '-> Name: ' | sort -u
