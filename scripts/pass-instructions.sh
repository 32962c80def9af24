#!/usr/bin/env bash
# The sampler pass's cost in instructions (valgrind's callgrind): one `sample_now()` with 1 and
# 8 fake H200s, at the H200 cost preset and at none ("plain"), counted over the whole program
# and every thread, so the count stays comparable when the pass moves onto the sampler's own
# threads. Each case runs at two pass counts; the difference over the extra passes is the cost
# of one pass, without start-up and shutdown. See benches/pass_instructions.rs.
#   scripts/pass-instructions.sh                 prints the counts
#   scripts/pass-instructions.sh --compare FILE  also compares with an earlier output (FILE)
#                                                and fails when a count rose by more than
#                                                RESMON_PASS_INSTRUCTION_RISE_MAX (0.03)
# The h200 counts include the fake driver spinning out an H200's call costs, whose length in
# instructions depends on how fast valgrind runs (measured 2026-12 on 2 cores: about 3 % of
# the count with 1 GPU, 17 % with 8, varying by about 1 % of the count between runs); the
# plain counts are the pass's own work alone (run to run within 0.5 %).
set -euo pipefail
cd "$(dirname "$0")/.."
compare=
if [ "${1:-}" = --compare ]; then compare=${2:?--compare needs a file}; fi
max_rise=${RESMON_PASS_INSTRUCTION_RISE_MAX:-0.03}
small=${RESMON_PASS_SMALL:-10} large=${RESMON_PASS_LARGE:-50}
command -v valgrind >/dev/null || {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -qq valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
  fi
}
command -v valgrind >/dev/null || { echo "valgrind is needed for the pass instruction count" >&2; exit 1; }
bin=$(cargo bench --bench pass_instructions --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("target", {}).get("name") == "pass_instructions" and m.get("executable"):
        print(m["executable"])')
[ -x "$bin" ] || { echo "pass_instructions bench binary not built" >&2; exit 1; }
# RESMON_PASS_BIN: count another build (a copy kept for a before/after comparison).
bin=${RESMON_PASS_BIN:-$bin}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count() { # gpus passes preset -> instructions of the whole program, every thread
  valgrind --tool=callgrind --callgrind-out-file="$out/cg.$1.$2.$3" --separate-threads=no \
    "$bin" "$1" "$2" "$3" >/dev/null 2>"$out/log.$1.$2.$3" || {
    cat "$out/log.$1.$2.$3" >&2; exit 1; }
  awk '/^(summary|totals):/ { print $2; exit }' "$out/cg.$1.$2.$3"
}
results=$out/results
: >"$results"
for preset in plain h200; do
  for gpus in 1 8; do
    a=$(count "$gpus" "$small" "$preset")
    b=$(count "$gpus" "$large" "$preset")
    echo "pass_instructions.${preset}_x${gpus} $(( (b - a) / (large - small) ))" | tee -a "$results"
  done
done
[ -z "$compare" ] && exit 0
python3 - "$compare" "$results" "$max_rise" <<'PY'
import sys
def read(path):
    return {k: int(v) for k, v in (l.split()[:2] for l in open(path) if l.startswith("pass_instructions."))}
before, after, max_rise = read(sys.argv[1]), read(sys.argv[2]), float(sys.argv[3])
failed = []
for key, now in after.items():
    if key not in before:
        continue
    rise = (now - before[key]) / before[key]
    print(f"{key}: {before[key]} -> {now} ({rise:+.1%})")
    if rise > max_rise:
        failed.append(f"{key} rose {rise:+.1%}, above {max_rise:.0%}")
if failed:
    sys.exit("\n".join(failed))
print(f"pass instruction gate: every count within {max_rise:+.0%}")
PY
