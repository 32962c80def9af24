#!/usr/bin/env bash
# Builds the test suite's fake NVML driver (tests/fake_nvml/fake_nvml.c, against NVIDIA's
# nvml.h) into target/fake-gpu/, configured as one NVIDIA H100 with this demo's process using
# memory on it, and prints the path to give RESMON_NVML_LIB. The figures are made up: a demo of
# the GPU path on a machine without a GPU, nothing more.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-nvml-header.sh >&2
dir=target/fake-gpu
mkdir -p "$dir"
cc -std=c11 -O2 -shared -fPIC -I target/nvml-include tests/fake_nvml/fake_nvml.c \
  -o "$dir/libnvidia-ml.so.1" -lpthread
cat > "$dir/fake-nvml.conf" <<'CONF'
# A fake GPU for the demo (see scripts/fake-gpu.sh). Not real figures.
driver_version=550.54.15
cuda_driver_version=12040
gpu.0.name=NVIDIA H100 80GB HBM3 (fake)
gpu.0.uuid=GPU-fa4e0000-0000-4000-8000-000000000000
gpu.0.pci_bus_id=0000:01:00.0
gpu.0.memory_total=85899345920
gpu.0.memory_used=21474836480
gpu.0.memory_reserved=536870912
gpu.0.utilization_gpu=63
gpu.0.utilization_memory=41
gpu.0.temperature=58
gpu.0.power_mw=312000
gpu.0.energy_mj=987654321
gpu.0.mig_current=0
gpu.0.compute_processes=self:8589934592
CONF
echo "$PWD/$dir/libnvidia-ml.so.1"
