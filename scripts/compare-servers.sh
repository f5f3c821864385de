#!/usr/bin/env bash
# Side by side: two arginator-server binaries (say the main build and one of an older commit in
# a git worktree), alternating, h2load on a pre-encoded single-embedding Classify frame; per round
# each prints its 4x16 rate and its 1x1 p50. Run on a quiet machine.
# Usage: scripts/compare-servers.sh BEFORE_BIN AFTER_BIN [ROUNDS] [BUILD]
set -euo pipefail
BEFORE=$1 AFTER=$2 ROUNDS=${3:-3} BUILD=${4:-build}
W=$(mktemp -d /tmp/arginator-compare-XXXXXX)
trap 'rm -rf "$W"' EXIT
"$BUILD/bin/arginator-train" gen-data --out "$W/data" --scale 0.05 >/dev/null
"$BUILD/bin/arginator-train" fit --config configs/train/binary.yaml data.dir="$W/data" \
  experiment.epochs=2 output.repository="$W/models" output.report_dir="$W/reports" >/dev/null 2>&1
"$BUILD/bin/arginator-loadgen" --model betalactamase-binary --write-frame "$W/frame" >/dev/null
run() {  # $1 label, $2 binary
  local rest=()  # binaries with the v2 REST port (default 8000) get it off; older ones lack it
  if "$2" --help | grep -q -- --rest-port; then rest=(--rest-port -1); fi
  "$2" --model-repository "$W/models" --port 0 --metrics-port -1 --host 127.0.0.1 "${rest[@]}" \
    >"$W/$1.log" 2>&1 &
  local pid=$! port=""
  for _ in $(seq 1 300); do
    port=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$W/$1.log" | head -1)
    [ -n "$port" ] && grep -q ': SERVING' "$W/$1.log" && break
    sleep 0.1
  done
  local url="http://127.0.0.1:$port/arginator.v1.Classifier/Classify"
  local a=(-H 'content-type: application/grpc' -H 'te: trailers' -d "$W/frame")
  h2load "${a[@]}" -c 4 -m 16 -D 1 "$url" >/dev/null 2>&1
  local rate
  rate=$(h2load "${a[@]}" -c 4 -m 16 -D 5 "$url" 2>&1 | sed -n 's/^finished in.* \([0-9.]*\) req\/s.*/\1/p')
  h2load "${a[@]}" -c 1 -m 1 -D 5 --log-file "$W/$1.1x1" "$url" >/dev/null 2>&1
  local p50
  p50=$(awk '{print $3}' "$W/$1.1x1" | sort -n | awk '{v[NR]=$1} END{print v[int(NR/2)]}')
  echo "$1: 4x16 $rate req/s; 1x1 p50 $p50 us"
  kill -TERM "$pid"
  wait "$pid" || true
}
for round in $(seq 1 "$ROUNDS"); do
  run "before-$round" "$BEFORE"
  run "after-$round" "$AFTER"
done
