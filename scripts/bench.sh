#!/usr/bin/env bash
# Runs every benchmark and ends with one line per figure, `name value`, so runs compare.
#   scripts/bench.sh            all (about 4 minutes on 2 cores)
#   scripts/bench.sh --quick    a short run of each
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-nvml-header.sh
quick=${1:-}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
criterion_args=()
[ "$quick" = "--quick" ] && criterion_args=(--warm-up-time 0.2 --measurement-time 0.5)
cargo bench --bench sampler -- "${criterion_args[@]}" 2>&1 | tee -a "$log"
cargo bench --bench span_overhead -- "${criterion_args[@]}" 2>&1 | tee -a "$log"
cargo bench --bench http_overhead -- $quick 2>&1 | tee -a "$log"
echo
echo "== figures"
# Criterion's middle estimate, in ns, for each benchmark id.
python3 - "$log" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
scale = {"ps": 1e-3, "ns": 1, "µs": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9}
for m in re.finditer(r"^(\S+)\s*\n?\s*time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]", text, re.M):
    name, value, unit = m.group(1), float(m.group(2)), m.group(3)
    print(f"bench.{name}_ns {value * scale[unit]:.1f}")
for line in text.splitlines():
    if re.match(r"^(span_overhead|span_end|http|sampler|rss_after)\S* [-0-9.]+$", line):
        print(line)
PY
