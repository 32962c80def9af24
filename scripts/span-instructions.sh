#!/usr/bin/env bash
# The span path's cost in instructions (valgrind's callgrind), against a bare
# tracing-opentelemetry span in the same run: a gate CI can trust on a noisy machine.
#   scripts/span-instructions.sh            prints the counts and checks the gate
# Each stack runs at two span counts; the difference over the extra spans is the cost of one
# span, without set-up. Only `run_spans` on the main thread is counted.
set -euo pipefail
cd "$(dirname "$0")/.."
# The most the layer may add, in instructions, per instruction of a bare span (measured
# 2026-12-04: see BENCHMARKS.md).
max_ratio=${RESMON_SPAN_INSTRUCTION_RATIO_MAX:-0.50}
command -v valgrind >/dev/null || {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -qq valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
  fi
}
command -v valgrind >/dev/null || { echo "valgrind is needed for the span instruction gate" >&2; exit 1; }
bin=$(cargo bench --bench span_instructions --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("target", {}).get("name") == "span_instructions" and m.get("executable"):
        print(m["executable"])')
[ -x "$bin" ] || { echo "span_instructions bench binary not built" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count() { # mode spans -> instructions in run_spans on the main thread
  valgrind --tool=callgrind --callgrind-out-file="$out/cg.$1.$2" --separate-threads=yes \
    --collect-atstart=no --toggle-collect='*run_spans*' "$bin" "$1" "$2" >/dev/null 2>"$out/log.$1.$2" || {
    cat "$out/log.$1.$2" >&2; exit 1; }
  awk '/^(summary|totals):/ { print $2; exit }' "$out/cg.$1.$2-01"
}
small=500 large=1500
b1=$(count baseline $small); b2=$(count baseline $large)
r1=$(count resmon $small); r2=$(count resmon $large)
python3 - "$b1" "$b2" "$r1" "$r2" "$small" "$large" "$max_ratio" <<'PY'
import sys
b1, b2, r1, r2, small, large = map(int, sys.argv[1:7])
max_ratio = float(sys.argv[7])
base = (b2 - b1) / (large - small)
with_layer = (r2 - r1) / (large - small)
ratio = (with_layer - base) / base
print(f"span_instructions.baseline {base:.0f}")
print(f"span_instructions.with_resource_layer {with_layer:.0f}")
print(f"span_instructions.added {with_layer - base:.0f}")
print(f"span_instructions.ratio {ratio:.3f}")
if not (base > 0 and with_layer > base):
    sys.exit("span instruction counts make no sense: the layer must cost something")
if ratio > max_ratio:
    sys.exit(f"the span path adds {ratio:.3f} instructions per instruction of a bare span, above the gate {max_ratio}")
print(f"span instruction gate: {ratio:.3f} <= {max_ratio}")
PY
