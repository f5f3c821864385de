#!/usr/bin/env bash
# Classifying a file end to end (`arginator-client classify`, the whole process: read, classify,
# write CSV) against the raw forward at 1,024 rows, side by side, for the two layouts labs hand in:
# one NPY matrix and a per-protein HDF5 file (bio_embeddings' layout: one dataset per protein).
# Usage: scripts/bench-classify-file.sh [BUILD_DIR] [ROWS] [ROUNDS]; best of ROUNDS each.
set -euo pipefail
BUILD=${1:-build} ROWS=${2:-30000} ROUNDS=${3:-3}
BIN="$BUILD/bin"
WORK=$(mktemp -d)
SERVER_PID=""
trap '[ -n "$SERVER_PID" ] && kill $SERVER_PID 2>/dev/null; rm -rf "$WORK"' EXIT
bash "$(dirname "$0")/machine-line.sh"
# shellcheck source=scripts/bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"
bench_model "$BUILD" "$WORK"
bench_proteins "$WORK" "$ROWS" h5
"$BIN/arginator-server" --model-repository "$WORK/models" --port 0 --metrics-port -1 --rest-port -1 \
  --host 127.0.0.1 --set batching.max_batch_size=1024 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
  PORT=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$WORK/server.log" | head -1)
  [ -n "$PORT" ] && grep -q 'serving betalactamase-binary version' "$WORK/server.log" && break
  sleep 0.2
done
forward=$("$BIN/arginator-bench-forward" "$WORK/models/betalactamase-binary/1" --batches 1024 \
  --seconds 2 --format json | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)[0]['samples_per_s'])")
best() {  # best rate (ROWS / wall seconds) of ROUNDS runs of "$@"
  local best=0
  for _ in $(seq "$ROUNDS"); do
    local t0 t1
    t0=$(date +%s.%N); "$@" >/dev/null 2>"$WORK/last.log"; t1=$(date +%s.%N)
    best=$(echo "$ROWS / ($t1 - $t0)" | bc -l | awk -v b="$best" '{print ($1 > b) ? $1 : b}')
  done
  echo "$best"
}
classify() {
  "$BIN/arginator-client" classify --target 127.0.0.1:$PORT --model betalactamase-binary \
    --input "$1" --output "$WORK/out.csv" --batch 1024 --stream always
}
read_only() { "$BIN/arginator-client" inspect --input "$1"; }
npy=$(best classify "$WORK/proteins.npy"); grep classified "$WORK/last.log" >&2
h5=$(best classify "$WORK/proteins.h5"); grep classified "$WORK/last.log" >&2
h5_read=$(best read_only "$WORK/proteins.h5")
printf '\n%s embeddings; raw forward at 1,024 rows: %.0f/s\n\n' "$ROWS" "$forward"
printf '| input | end to end embeddings/s | vs raw forward |\n|---|---:|---:|\n'
printf '| NPY matrix | %.0f | %.2f |\n' "$npy" "$(echo "$npy / $forward" | bc -l)"
printf '| per-protein HDF5 | %.0f | %.2f |\n' "$h5" "$(echo "$h5 / $forward" | bc -l)"
printf '| per-protein HDF5, reading only (`inspect`) | %.0f | %.2f |\n' "$h5_read" "$(echo "$h5_read / $forward" | bc -l)"
