#!/usr/bin/env bash
# `make demo`: the whole pipeline on synthetic data, narrated. Usage: scripts/demo.sh BUILD_DIR DEMO_DIR
set -euo pipefail
BUILD_DIR=${1:-build}
DEMO_DIR=${2:-$BUILD_DIR/demo}
TRAIN="$BUILD_DIR/bin/arginator-train"
SCALE=${DEMO_SCALE:-0.1}
GRPC_PORT=${DEMO_GRPC_PORT:-50051}
METRICS_PORT=${DEMO_METRICS_PORT:-9464}
REST_PORT=${DEMO_REST_PORT:-8000}
TARGET=127.0.0.1:$GRPC_PORT
CLIENT="$BUILD_DIR/bin/arginator-client"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

rm -rf "$DEMO_DIR"
mkdir -p "$DEMO_DIR"

step "1/9 Generate a SYNTHETIC data set (scale $SCALE of the real data's size; not real proteins)"
"$TRAIN" gen-data --out "$DEMO_DIR/data" --scale "$SCALE" --seed 42

step "2/9 Train the binary model (beta-lactamase or not) and publish it"
"$TRAIN" fit --config configs/train/binary.yaml data.dir="$DEMO_DIR/data" \
  output.repository="$DEMO_DIR/models" output.report_dir="$DEMO_DIR/reports"

step "3/9 Train the multiclass model (Ambler class A/B/C/D or none); HDF5 parsing is cached now"
"$TRAIN" fit --config configs/train/multiclass.yaml data.dir="$DEMO_DIR/data" \
  output.repository="$DEMO_DIR/models" output.report_dir="$DEMO_DIR/reports"

step "4/9 'arginator-train eval': the published binary model on the whole data set (training rows included, so optimistic; point --data at held-out files for a fair score)"
"$TRAIN" eval --model "$DEMO_DIR/models/betalactamase-binary/1" --data "$DEMO_DIR/data"

step "5/9 What was published"
find "$DEMO_DIR/models" -name 'model.*' | sort
echo
echo "Reports (metrics.json, history.csv, training curves, ROC, confusion matrix):"
find "$DEMO_DIR/reports" -name '*.png' | sort
echo
step "6/9 Start arginator-server in the background (gRPC 127.0.0.1:$GRPC_PORT, REST :$REST_PORT, metrics :$METRICS_PORT)"
"$BUILD_DIR/bin/arginator-server" --config configs/server.yaml --model-repository "$DEMO_DIR/models" \
  --port "$GRPC_PORT" --metrics-port "$METRICS_PORT" --rest-port "$REST_PORT" --host 127.0.0.1 \
  2>"$DEMO_DIR/server.log" &
SERVER_PID=$!
trap 'kill $SERVER_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  "$CLIENT" health --target "$TARGET" --deadline 1 >/dev/null 2>&1 && break
  sleep 0.2
done
cat "$DEMO_DIR/server.log"
"$CLIENT" health --target "$TARGET"
"$CLIENT" models --target "$TARGET"

step "7/9 Classify a held-out synthetic sample (new proteins, same generator) with each model"
"$TRAIN" gen-data --out "$DEMO_DIR/sample" --scale 0.001 --seed 42 --sample-seed 7 >/dev/null
SAMPLE="$DEMO_DIR/sample/card_class_c_embeddings.h5"
for model in betalactamase-binary betalactamase-class; do
  echo "--- $model on $SAMPLE (20 class C proteins)"
  "$CLIENT" classify --target "$TARGET" --model "$model" --input "$SAMPLE" \
    --output "$DEMO_DIR/results-$model.csv"
  head -4 "$DEMO_DIR/results-$model.csv" | cut -d, -f1,2,5-8 | column -t -s,
done
echo "--- the Open Inference Protocol (KServe v2) over REST: curl, two embeddings of the sample"
/usr/bin/python3 - "$SAMPLE" >"$DEMO_DIR/v2-request.json" <<'EOF'
import json, sys
import h5py
with h5py.File(sys.argv[1]) as f:
    rows = [list(map(float, f[k][()])) for k in list(f)[:2]]
print(json.dumps({"id": "demo", "inputs": [{"name": "embedding", "shape": [2, len(rows[0])],
      "datatype": "FP32", "data": rows}], "outputs": [{"name": "label"}, {"name": "score"}]}))
EOF
echo "curl -s -d @v2-request.json http://127.0.0.1:$REST_PORT/v2/models/betalactamase-class/infer"
curl -s -d @"$DEMO_DIR/v2-request.json" \
  "http://127.0.0.1:$REST_PORT/v2/models/betalactamase-class/infer"
echo

step "8/9 A five-second load test: 'arginator-loadgen' (closed loop, 8 workers, 1 embedding per request)"
"$BUILD_DIR/bin/arginator-loadgen" --insecure --model betalactamase-binary -c 8 -z 5s \
  --warmup 1s --duration-stop wait "$TARGET"

step "9/9 Metrics are at http://127.0.0.1:$METRICS_PORT/metrics (Prometheus text); a few lines:"
curl -s "http://127.0.0.1:$METRICS_PORT/metrics" \
  | grep -E '^arginator_(requests_total|model_versions_ready|out_of_distribution_total)' | sort
echo "stopping the server (SIGTERM: NOT_SERVING, drain, exit 0)"
kill -TERM $SERVER_PID && wait $SERVER_PID
sed -n "/received SIGTERM/,\$p" "$DEMO_DIR/server.log"
trap - EXIT

echo
echo "Next: train on your own embeddings and labels (docs/training.md, \"Train on your own data\"), serve them, and call the"
echo "server from arginator-client, the C++ library, Python (client/python) or grpcurl/ghz."
