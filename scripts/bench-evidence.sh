#!/usr/bin/env bash
# What evidence costs (issue 26): a binary model trained on the seed data's size with 60,000
# training proteins in its reference index (HNSW above 16,384), served; then, side by side in one
# run, with evidence off and with K nearest references per embedding:
#   - single-embedding requests (arginator-loadgen, v1 Classify): 1 connection x 1 (p50, p99, rate)
#     and 16 in flight (rate);
#   - bulk: arginator-client classify of a held-out file (~18,000 proteins, --batch 1024), whole
#     process, embeddings/s;
#   - the index itself: bench/reference_recall.py (recall of HNSW against exact, ms per query).
# Queries are a held-out sample of the same synthetic world (gen-data --sample-seed), never
# references. Usage: scripts/bench-evidence.sh [BUILD_DIR] [SECONDS] [K]
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
D=${2:-5}
K=${3:-5}
W=$(mktemp -d /tmp/arginator-bench-evidence-XXXXXX)
SERVER_PID=
cleanup() {
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"

"$B/bin/arginator-train" gen-data --out "$W/data" --scale 1 >/dev/null
"$B/bin/arginator-train" gen-data --out "$W/queries" --scale 0.3 --sample-seed 7 >/dev/null
"$B/bin/arginator-train" fit --config configs/train/binary.yaml data.dir="$W/data" \
  experiment.epochs=1 data.split.train=0.9 data.split.val=0.05 data.split.test=0.05 \
  output.repository="$W/models" output.report_dir="$W/reports" >"$W/fit.log" 2>&1 ||
  { cat "$W/fit.log"; exit 1; }
MODEL_DIR="$W/models/betalactamase-binary/1"
/usr/bin/python3 - "$MODEL_DIR/model.json" <<'EOF'
import json, sys
e = json.load(open(sys.argv[1]))["evidence"]
print(f"reference index: {e['count']} references, {e['index']}, {e['bytes'] / 2**20:.0f} MiB, "
      f"built in {e['build_seconds']:.1f} s")
EOF
QUERIES="$W/queries/non_betalactamase_embeddings_60k.h5"

"$B/bin/arginator-server" --model-repository "$W/models" --port 0 --metrics-port -1 \
  --rest-port -1 --host 127.0.0.1 >"$W/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 600); do grep -q ': SERVING' "$W/server.log" && break; sleep 0.1; done
PORT=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$W/server.log" | head -1)
TARGET=127.0.0.1:$PORT

loadgen() {  # $1 evidence, $2 concurrency: "rate p50 p99"
  "$B/bin/arginator-loadgen" --insecure --target "$TARGET" --model betalactamase-binary \
    --input "$QUERIES" --evidence "$1" -c "$2" -z "${D}s" --duration-stop wait --warmup 1s -O json |
    /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)
lat = {d["percentage"]: d["latency"] / 1e6 for d in r["latencyDistribution"]}
print("%.0f req/s, p50 %.3f ms, p99 %.3f ms, errors %d" % (r["rps"], lat[50], lat[99],
      sum(v for k, v in r["statusCodeDistribution"].items() if k != "OK")))'
}
echo "single-embedding v1 Classify, ${D} s each, alternating:"
for round in 1 2; do
  for c in 1 16; do
    echo "  round $round c=$c evidence 0: $(loadgen 0 "$c")"
    echo "  round $round c=$c evidence $K: $(loadgen "$K" "$c")"
  done
done

bulk() {  # $1 evidence: embeddings/s of the whole client process
  local start end rows
  start=$(date +%s.%N)
  "$B/bin/arginator-client" classify --target "$TARGET" --model betalactamase-binary \
    --input "$QUERIES" --output "$W/out.csv" --batch 1024 --evidence "$1" 2>/dev/null
  end=$(date +%s.%N)
  rows=$(($(wc -l <"$W/out.csv") - 1))
  awk -v n="$rows" -v s="$start" -v e="$end" 'BEGIN{printf "%d embeddings in %.2f s: %.0f/s", n, e - s, n / (e - s)}'
}
echo "bulk arginator-client classify --batch 1024, alternating:"
for round in 1 2; do
  echo "  round $round evidence 0: $(bulk 0)"
  echo "  round $round evidence $K: $(bulk "$K")"
done

kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
echo "the index alone (bench/reference_recall.py):"
/usr/bin/python3 bench/reference_recall.py "$MODEL_DIR" "$W"/queries/*.h5 --k "$K" | sed 's/^/  /'
