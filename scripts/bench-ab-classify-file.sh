#!/usr/bin/env bash
# A change's before and after classifying the same NPY matrix end to end: each side is an
# arginator-client and an arginator-server binary (give the same client twice to compare servers,
# the same server twice to compare clients); both servers run on one model repository and the two
# sides alternate run by run, so a machine whose speed drifts affects both alike. Prints each
# run's rate (rows / wall seconds of the whole client process) and the client's CPU per row (user
# + system, getrusage), then the ratios of the means; fails if the two sides' results differ.
# Usage: scripts/bench-ab-classify-file.sh OLD_CLIENT OLD_SERVER NEW_CLIENT NEW_SERVER [BUILD_DIR] [ROWS] [ROUNDS]
set -euo pipefail
USAGE="usage: bench-ab-classify-file.sh OLD_CLIENT OLD_SERVER NEW_CLIENT NEW_SERVER [BUILD_DIR] [ROWS] [ROUNDS]"
OLD_BIN=$(realpath "${1:?$USAGE}") OLD_SERVER=$(realpath "${2:?$USAGE}")
NEW_BIN=$(realpath "${3:?$USAGE}") NEW_SERVER=$(realpath "${4:?$USAGE}")
cd "$(dirname "$0")/.."
B=${5:-build} ROWS=${6:-30000} ROUNDS=${7:-5}
W=$(mktemp -d /tmp/arginator-bench-ab-file-XXXXXX)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; rm -rf "$W"' EXIT
bash scripts/machine-line.sh
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
bench_model "$B" "$W"
bench_proteins "$W" "$ROWS"
start() {  # start SERVER NAME -> its port
  "$1" --model-repository "$W/models" --port 0 --metrics-port -1 --rest-port -1 --host 127.0.0.1 \
    --set batching.max_batch_size=1024 >"$W/$2.log" 2>&1 &
  echo $! >"$W/$2.pid"
  for _ in $(seq 1 300); do grep -q ': SERVING' "$W/$2.log" && break; sleep 0.1; done
  sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$W/$2.log" | head -1
}
OLD_PORT=$(start "$OLD_SERVER" old); PIDS+=("$(cat "$W/old.pid")")
NEW_PORT=$(start "$NEW_SERVER" new); PIDS+=("$(cat "$W/new.pid")")
# run CLIENT PORT OUT -> "rows/s cpu-us-per-row"
run() {
  /usr/bin/python3 - "$ROWS" "$1" classify --target "127.0.0.1:$2" --model betalactamase-binary \
    --input "$W/proteins.npy" --output "$3" --batch 1024 --stream always <<'PY'
import resource, subprocess, sys, time
rows, command = int(sys.argv[1]), sys.argv[2:]
t0 = time.monotonic()
subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
wall = time.monotonic() - t0
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{rows / wall:.0f} {(usage.ru_utime + usage.ru_stime) / rows * 1e6:.2f}")
PY
}
run "$OLD_BIN" "$OLD_PORT" "$W/old.csv" >/dev/null; run "$NEW_BIN" "$NEW_PORT" "$W/new.csv" >/dev/null  # warm
cmp -s "$W/old.csv" "$W/new.csv" || { echo "the two sides wrote different results" >&2; exit 1; }
echo "old $OLD_BIN + $OLD_SERVER, new $NEW_BIN + $NEW_SERVER, $ROWS rows, --batch 1024"
so=0 sn=0 co=0 cn=0
for round in $(seq 1 "$ROUNDS"); do
  read -r o oc <<<"$(run "$OLD_BIN" "$OLD_PORT" "$W/old.csv")"
  read -r n nc <<<"$(run "$NEW_BIN" "$NEW_PORT" "$W/new.csv")"
  echo "round $round: old $o new $n rows/s, client CPU old $oc new $nc us/row"
  so=$(awk -v a="$so" -v b="$o" 'BEGIN{print a + b}'); sn=$(awk -v a="$sn" -v b="$n" 'BEGIN{print a + b}')
  co=$(awk -v a="$co" -v b="$oc" 'BEGIN{print a + b}'); cn=$(awk -v a="$cn" -v b="$nc" 'BEGIN{print a + b}')
done
awk -v so="$so" -v sn="$sn" -v co="$co" -v cn="$cn" -v r="$ROUNDS" 'BEGIN{printf "rows/s new/old = %.3f (%.0f / %.0f), client CPU per row new/old = %.3f (%.2f / %.2f us; means of %d rounds)\n", sn / so, sn / r, so / r, cn / co, cn / r, co / r, r}'
