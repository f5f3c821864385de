#!/usr/bin/env bash
# Two arginator-server binaries (a change's before and after) side by side on one model
# repository, both running, h2load alternating between them (one pre-encoded single-embedding
# arginator.v1 Classify frame, 1x1 and 4 connections x 16 streams, ROUNDS rounds of 3 s each), so
# a machine whose speed drifts during the run affects both alike. Prints req/s per round and the
# ratio of the means. FIT_ARGS adds trainer overrides to the model both serve (e.g.
# FIT_ARGS=decision.ood_components=16).
# Usage: scripts/bench-ab-servers.sh OLD_SERVER NEW_SERVER [BUILD_DIR] [ROUNDS]
set -euo pipefail
OLD_BIN=$(realpath "${1:?usage: bench-ab-servers.sh OLD_SERVER NEW_SERVER [BUILD_DIR] [ROUNDS]}")
NEW_BIN=$(realpath "${2:?usage: bench-ab-servers.sh OLD_SERVER NEW_SERVER [BUILD_DIR] [ROUNDS]}")
cd "$(dirname "$0")/.."
B=${3:-build}
ROUNDS=${4:-8}
W=$(mktemp -d /tmp/arginator-bench-ab-XXXXXX)
"$B/bin/arginator-train" gen-data --out "$W/data" --scale 0.05 >/dev/null
"$B/bin/arginator-train" fit --config configs/train/binary.yaml data.dir="$W/data" \
  experiment.epochs=2 ${FIT_ARGS:-} output.repository="$W/models" output.report_dir="$W/reports" >/dev/null 2>&1
"$B/bin/arginator-loadgen" --model betalactamase-binary --write-frame "$W/v1.frame" >/dev/null
start() {
  "$1" --model-repository "$W/models" --port 0 --metrics-port -1 --rest-port -1 --host 127.0.0.1 >"$W/$2.log" 2>&1 &
  echo $! > "$W/$2.pid"
  for _ in $(seq 1 300); do grep -q ': SERVING' "$W/$2.log" && break; sleep 0.1; done
  sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$W/$2.log" | head -1
}
OLD=$(start "$OLD_BIN" old)
NEW=$(start "$NEW_BIN" new)
trap 'kill $(cat "$W/old.pid") $(cat "$W/new.pid") 2>/dev/null; rm -rf "$W"' EXIT
G=(-H 'content-type: application/grpc' -H 'te: trailers')
rate() { h2load "${G[@]}" -d "$W/v1.frame" -c "$2" -m "$3" -D "$4" "http://127.0.0.1:$1/arginator.v1.Classifier/Classify" 2>&1 | sed -n 's/^finished in.* \([0-9.]*\) req\/s.*/\1/p'; }
for p in $OLD $NEW; do rate $p 1 1 1 >/dev/null; rate $p 4 16 1 >/dev/null; done
echo "old $OLD_BIN, new $NEW_BIN, $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')"
declare -A sum_old sum_new
for round in $(seq 1 "$ROUNDS"); do
  for cfg in "1 1" "4 16"; do
    read -r c m <<<"$cfg"
    o=$(rate "$OLD" "$c" "$m" 3); n=$(rate "$NEW" "$c" "$m" 3)
    echo "round $round ${c}x${m}: old $o new $n req/s"
    sum_old[$cfg]=$(awk -v a="${sum_old[$cfg]:-0}" -v b="$o" 'BEGIN{print a + b}')
    sum_new[$cfg]=$(awk -v a="${sum_new[$cfg]:-0}" -v b="$n" 'BEGIN{print a + b}')
  done
done
for cfg in "1 1" "4 16"; do
  awk -v c="${cfg/ /x}" -v n="${sum_new[$cfg]}" -v o="${sum_old[$cfg]}" -v r="$ROUNDS" \
    'BEGIN{printf "%s: new/old = %.3f (means of %d rounds)\n", c, n / o, r}'
done
