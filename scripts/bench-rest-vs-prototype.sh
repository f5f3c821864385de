#!/usr/bin/env bash
# One single-embedding v2 infer over REST/JSON (h2load --h1, one pre-encoded body as Python's
# json.dumps writes it) against arginator-server and against the prototype's FastAPI + uvicorn +
# PyTorch stack (scripts/prototype-rest-server.py) serving the same model.pt, alternating, ROUNDS
# rounds at 1 and 16 connections; prints req/s and the ratio of the best. Needs python3-fastapi and
# python3-uvicorn; says SKIPPED without them.
# Usage: scripts/bench-rest-vs-prototype.sh [BUILD_DIR] [ROUNDS] [REQUESTS]
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
ROUNDS=${2:-3}
N=${3:-6000}
if ! /usr/bin/python3 -c "import fastapi, uvicorn" 2>/dev/null; then
  echo "bench-rest-vs-prototype: SKIPPED: apt-get install python3-fastapi python3-uvicorn"
  exit 0
fi
W=$(mktemp -d /tmp/arginator-bench-prototype-XXXXXX)
bash scripts/machine-line.sh
"$B/bin/arginator-train" gen-data --out "$W/data" --scale 0.05 >/dev/null
"$B/bin/arginator-train" fit --config configs/train/binary.yaml data.dir="$W/data" \
  experiment.epochs=2 output.repository="$W/models" output.report_dir="$W/reports" >/dev/null 2>&1
MODEL="$W/models/betalactamase-binary/1"
/usr/bin/python3 - "$MODEL" "$W/rest.json" <<'PY'
import json, sys
row = json.load(open(f"{sys.argv[1]}/model.json"))["golden"]["examples"][0]["input"]
json.dump({"inputs": [{"name": "embedding", "shape": [1, len(row)], "datatype": "FP32", "data": row}],
           "outputs": [{"name": "probabilities"}]}, open(sys.argv[2], "w"))
PY
"$B/bin/arginator-server" --model-repository "$W/models" --port 0 --metrics-port -1 --rest-port 0 \
  --host 127.0.0.1 >"$W/server.log" 2>&1 &
echo $! >"$W/server.pid"
PROTO_PORT=$(/usr/bin/python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
OPENBLAS_NUM_THREADS=1 /usr/bin/python3 scripts/prototype-rest-server.py "$MODEL" "$PROTO_PORT" >"$W/prototype.log" 2>&1 &
echo $! >"$W/prototype.pid"
trap 'kill $(cat "$W/server.pid") $(cat "$W/prototype.pid") 2>/dev/null; rm -rf "$W"' EXIT
for _ in $(seq 1 300); do grep -q ': SERVING' "$W/server.log" && break; sleep 0.1; done
REST=$(sed -n 's/.*REST (Open Inference Protocol v2) on http:\/\/[0-9.]*:\([0-9]*\).*/\1/p' "$W/server.log" | head -1)
for _ in $(seq 1 300); do
  curl -sf -o /dev/null -H 'content-type: application/json' --data @"$W/rest.json" \
    "http://127.0.0.1:$PROTO_PORT/v2/models/betalactamase-binary/infer" && break
  sleep 0.2
done
rate() {  # $1 port, $2 connections, $3 requests
  h2load --h1 -H 'content-type: application/json' -d "$W/rest.json" -c "$2" -n "$3" \
    "http://127.0.0.1:$1/v2/models/betalactamase-binary/infer" 2>&1 |
    sed -n 's/^finished in.* \([0-9.]*\) req\/s.*/\1/p'
}
best_a=0 best_p=0
for c in 1 16; do
  rate "$REST" "$c" 500 >/dev/null; rate "$PROTO_PORT" "$c" 200 >/dev/null  # warm-up
  for r in $(seq 1 "$ROUNDS"); do
    a=$(rate "$REST" "$c" "$N")
    p=$(rate "$PROTO_PORT" "$c" $((N / 5)))
    printf 'c=%-2d round %d: arginator-server %8.0f req/s   prototype %7.0f req/s   ratio %.1f\n' "$c" "$r" "$a" "$p" "$(echo "$a / $p" | bc -l)"
    best_a=$(echo "$a $best_a" | awk '{print ($1 > $2) ? $1 : $2}')
    best_p=$(echo "$p $best_p" | awk '{print ($1 > $2) ? $1 : $2}')
  done
done
printf 'best of c=1 and c=16: arginator-server %.0f req/s, prototype %.0f req/s: %.1fx\n' "$best_a" "$best_p" "$(echo "$best_a / $best_p" | bc -l)"
