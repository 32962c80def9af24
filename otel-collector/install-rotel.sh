#!/usr/bin/env bash
# Installs the rotel OTLP collector (PyPI, pinned) into a venv under target/ and prints the path
# of its binary. Idempotent; used by the tests and the local demo.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/rotel-venv
version=0.0.1a15
mkdir -p target
# Tests running in parallel install once: the others wait for the lock.
exec 9>target/rotel-venv.lock
flock 9
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2
fi
if ! "$venv/bin/python" -c "import rotel" 2>/dev/null; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "rotel==$version" >&2
fi
bin=$("$venv/bin/python" -c 'import os, rotel; print(os.path.join(os.path.dirname(rotel.__file__), "rotel-agent"))')
[ -x "$bin" ] || { echo "rotel-agent not found at $bin" >&2; exit 1; }
echo "$bin"
