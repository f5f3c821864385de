#!/usr/bin/env bash
# Two arginator-server binaries (a change's before and after) side by side on one model
# repository, both running, h2load alternating between them (one pre-encoded single-embedding
# arginator.v1 Classify frame, 1x1 and 4 connections x 16 streams, ROUNDS rounds of 3 s each), so
# a machine whose speed drifts during the run affects both alike. Prints req/s and the server's
# CPU time per request (user + system, from /proc) per round and the ratios of the means: on a
# shared VM whose neighbours take cycles, CPU per request varies far less than req/s. FIT_ARGS adds trainer overrides to the model both serve (e.g.
# FIT_ARGS=decision.ood_components=16). SERVER_CPUS / LOAD_CPUS (taskset lists, e.g. 1 and 0) pin the
# servers and h2load to cores of their own, so the load generator does not take the server's core.
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
  ${SERVER_CPUS:+taskset -c "$SERVER_CPUS"} "$1" --model-repository "$W/models" --port 0 --metrics-port -1 --rest-port -1 --host 127.0.0.1 >"$W/$2.log" 2>&1 &
  echo $! > "$W/$2.pid"
  for _ in $(seq 1 300); do grep -q ': SERVING' "$W/$2.log" && break; sleep 0.1; done
  sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$W/$2.log" | head -1
}
OLD=$(start "$OLD_BIN" old)
NEW=$(start "$NEW_BIN" new)
trap 'kill $(cat "$W/old.pid") $(cat "$W/new.pid") 2>/dev/null; rm -rf "$W"' EXIT
G=(-H 'content-type: application/grpc' -H 'te: trailers')
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# rate PORT PID CONNECTIONS STREAMS SECONDS -> "req/s cpu-us-per-request"
rate() {
  local before after out
  before=$(cpu_ticks "$2")
  out=$(${LOAD_CPUS:+taskset -c "$LOAD_CPUS"} h2load "${G[@]}" -d "$W/v1.frame" -c "$3" -m "$4" -D "$5" "http://127.0.0.1:$1/arginator.v1.Classifier/Classify" 2>&1)
  after=$(cpu_ticks "$2")
  awk -v rps="$(sed -n 's/^finished in.* \([0-9.]*\) req\/s.*/\1/p' <<<"$out")" \
    -v n="$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' <<<"$out")" \
    -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%s %.1f\n", rps, t / hz / n * 1e6}'
}
OLD_PID=$(cat "$W/old.pid"); NEW_PID=$(cat "$W/new.pid")
for s in "$OLD $OLD_PID" "$NEW $NEW_PID"; do read -r p pid <<<"$s"; rate "$p" "$pid" 1 1 1 >/dev/null; rate "$p" "$pid" 4 16 1 >/dev/null; done
echo "old $OLD_BIN, new $NEW_BIN, $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')"
declare -A sum_old sum_new cpu_old cpu_new
add() { awk -v a="${1:-0}" -v b="$2" 'BEGIN{print a + b}'; }
for round in $(seq 1 "$ROUNDS"); do
  for cfg in "1 1" "4 16"; do
    read -r c m <<<"$cfg"
    read -r o oc <<<"$(rate "$OLD" "$OLD_PID" "$c" "$m" 3)"
    read -r n nc <<<"$(rate "$NEW" "$NEW_PID" "$c" "$m" 3)"
    echo "round $round ${c}x${m}: old $o new $n req/s, server CPU old $oc new $nc us/request"
    sum_old[$cfg]=$(add "${sum_old[$cfg]:-}" "$o"); sum_new[$cfg]=$(add "${sum_new[$cfg]:-}" "$n")
    cpu_old[$cfg]=$(add "${cpu_old[$cfg]:-}" "$oc"); cpu_new[$cfg]=$(add "${cpu_new[$cfg]:-}" "$nc")
  done
done
for cfg in "1 1" "4 16"; do
  awk -v c="${cfg/ /x}" -v n="${sum_new[$cfg]}" -v o="${sum_old[$cfg]}" -v cn="${cpu_new[$cfg]}" \
    -v co="${cpu_old[$cfg]}" -v r="$ROUNDS" \
    'BEGIN{printf "%s: req/s new/old = %.3f, CPU per request new/old = %.3f (%.1f / %.1f us; means of %d rounds)\n", c, n / o, cn / co, cn / r, co / r, r}'
done
