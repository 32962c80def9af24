#!/usr/bin/env bash
# A local OTLP collector without Docker: rotel (PyPI, pinned), on 127.0.0.1:4317 (gRPC) and
# 127.0.0.1:4318 (HTTP), printing every span and metric it receives on stdout.
# Ports can be changed with ROTEL_GRPC_PORT and ROTEL_HTTP_PORT.
set -euo pipefail
bin=$("$(dirname "$0")/install-rotel.sh")
exec "$bin" start \
  --otlp-grpc-endpoint "127.0.0.1:${ROTEL_GRPC_PORT:-4317}" \
  --otlp-http-endpoint "127.0.0.1:${ROTEL_HTTP_PORT:-4318}" \
  --exporter blackhole \
  --debug-log traces --debug-log metrics --debug-log-verbosity detailed
