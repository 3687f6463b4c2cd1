#!/usr/bin/env bash
# PHOLD: p2psim's kernel against the plain binary-heap reference, side by side.
#
#   benches/phold-compare.sh                    # 1,000 and 100,000 LPs, 10 events each, 10^7 events
#   benches/phold-compare.sh 1000 10 10000000   # one size: LPS EVENTS_PER_LP TOTAL_EVENTS
#
# Builds shared/bench/phold_ref.cpp (g++ -O2) and `target/release/phold`, runs
# the two alternately RUNS times (default 3) per size, and prints each side's
# median events/s and the ratio p2psim / reference.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
src=${PHOLD_REF_SRC:-$root/../shared/bench/phold_ref.cpp}
runs=${RUNS:-3}
target=${CARGO_TARGET_DIR:-$root/target}
ref=$(mktemp -d)/phold_ref
trap 'rm -rf "$(dirname "$ref")"' EXIT

if [ $# -eq 0 ]; then
    set -- 1000 10 10000000 100000 10 10000000
elif [ $(($# % 3)) -ne 0 ]; then
    echo "usage: $0 [LPS EVENTS_PER_LP TOTAL_EVENTS]..." >&2
    exit 2
fi

g++ -O2 -o "$ref" "$src"
(cd "$root" && cargo build --release --quiet -p benches --bin phold)
phold=$target/release/phold

rate() { "$@" | awk '/^events_per_sec:/ { print $2 }'; }
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

while [ $# -gt 0 ]; do
    args=("$1" "$2" "$3")
    shift 3
    ref_runs=() sim_runs=()
    for _ in $(seq "$runs"); do
        ref_runs+=("$(rate "$ref" "${args[@]}")")
        sim_runs+=("$(rate "$phold" "${args[@]}")")
    done
    r=$(median "${ref_runs[@]}")
    s=$(median "${sim_runs[@]}")
    echo "phold ${args[*]}"
    echo "  reference  events_per_sec median $r  (runs: ${ref_runs[*]})"
    echo "  p2psim     events_per_sec median $s  (runs: ${sim_runs[*]})"
    awk -v s="$s" -v r="$r" 'BEGIN { printf "  ratio      %.2fx\n", s / r }'
done
