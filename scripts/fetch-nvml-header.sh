#!/usr/bin/env bash
# Fetches NVIDIA's own nvml.h (PyPI package nvidia-nvml-dev-cu12) into target/nvml-include,
# so the fake NVML driver used by the tests is compiled against the real ABI. Not committed.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=target/nvml-include
if [ -f "$dest/nvml.h" ]; then
  exit 0
fi
version="${NVML_DEV_VERSION:-12.9.79}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: \
  --platform manylinux2014_x86_64 -d "$tmp" "nvidia-nvml-dev-cu12==$version"
mkdir -p "$dest"
python3 - "$tmp" "$dest" <<'PY'
import pathlib, sys, zipfile
src, dest = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
wheel = next(src.glob("*.whl"))
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith("/include/nvml.h"))
    (dest / "nvml.h").write_bytes(z.read(name))
PY
echo "nvml.h from nvidia-nvml-dev-cu12==$version in $dest"
