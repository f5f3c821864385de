#!/usr/bin/env bash
# Concurrency 1 (issue 29): one single-embedding v1 Classify at a time, p50 and p99 of
# arginator-loadgen (-c 1, one connection) against the no-op server (the same gRPC stack, a
# handler that answers at once), the served fp32 binary model and its int8 compression (a quarter
# of the weights' bytes: the option docs/benchmarks.md names for the cold-cache forward),
# alternating ROUNDS rounds of 3 s each so drift hits all three alike. Prints each round and the
# medians, with the machine line.
# Usage: scripts/bench-latency-c1.sh [BUILD_DIR] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
ROUNDS=${2:-5}
W=$(mktemp -d /tmp/arginator-bench-c1-XXXXXX)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; rm -rf "$W"' EXIT
bash scripts/machine-line.sh
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
bench_model "$B" "$W"
"$B/bin/arginator-train" compress --model "$W/models/betalactamase-binary/1" --method int8 \
  --tolerance 0.5 data.dir="$W/data" >/dev/null 2>&1
start() {  # name binary args...: starts it, prints its gRPC port
  local name=$1; shift
  "$@" >"$W/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 300); do grep -q 'listening on' "$W/$name.log" && break; sleep 0.1; done
  sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$W/$name.log" | head -1
}
NOOP=$(start noop "$B/bin/arginator-noop-server" --port 0)
SERVED=$(start served "$B/bin/arginator-server" --model-repository "$W/models" --port 0 \
  --metrics-port -1 --rest-port -1 --host 127.0.0.1 --set models.policy=all)
for _ in $(seq 1 300); do grep -q ': SERVING' "$W/served.log" && break; sleep 0.1; done
p50p99() {  # port [loadgen args]: "p50 p99" in us
  local port=$1; shift
  "$B/bin/arginator-loadgen" --insecure --target "127.0.0.1:$port" --model betalactamase-binary \
    -c 1 --connections 1 -z 3s --duration-stop ignore -O json "$@" |
    /usr/bin/python3 -c 'import json, sys
d = {p["percentage"]: p["latency"] for p in json.load(sys.stdin)["latencyDistribution"]}
print("%.0f %.0f" % (d[50] / 1e3, d[99] / 1e3))'
}
for target in "$NOOP" "$SERVED --model-version 1" "$SERVED --model-version 2"; do
  # shellcheck disable=SC2086
  p50p99 $target >/dev/null  # warm-up
done
declare -A all
for round in $(seq 1 "$ROUNDS"); do
  line="round $round:"
  for name in noop fp32 int8; do
    case $name in
      noop) read -r p50 p99 <<<"$(p50p99 "$NOOP")" ;;
      fp32) read -r p50 p99 <<<"$(p50p99 "$SERVED" --model-version 1)" ;;
      int8) read -r p50 p99 <<<"$(p50p99 "$SERVED" --model-version 2)" ;;
    esac
    all[$name]="${all[$name]:-} $p50"
    line="$line $name p50 $p50 us (p99 $p99)"
  done
  echo "$line"
done
median() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
n=$(median "${all[noop]}"); f=$(median "${all[fp32]}"); i=$(median "${all[int8]}")
awk -v n="$n" -v f="$f" -v i="$i" 'BEGIN{printf "medians: no-op %d us, fp32 %d us (%.2fx), int8 %d us (%.2fx)\n", n, f, f / n, i, i / n}'
