#!/usr/bin/env bash
# `make demo`: the whole pipeline on synthetic data, narrated. Usage: scripts/demo.sh BUILD_DIR DEMO_DIR
set -euo pipefail
BUILD_DIR=${1:-build}
DEMO_DIR=${2:-$BUILD_DIR/demo}
TRAIN="$BUILD_DIR/bin/arginator-train"
SCALE=${DEMO_SCALE:-0.1}
GRPC_PORT=${DEMO_GRPC_PORT:-50051}
METRICS_PORT=${DEMO_METRICS_PORT:-9464}

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

rm -rf "$DEMO_DIR"
mkdir -p "$DEMO_DIR"

step "1/6 Generate a SYNTHETIC data set (scale $SCALE of the real data's size; not real proteins)"
"$TRAIN" gen-data --out "$DEMO_DIR/data" --scale "$SCALE" --seed 42

step "2/6 Train the binary model (beta-lactamase or not) and publish it"
"$TRAIN" fit --config configs/train/binary.yaml data.dir="$DEMO_DIR/data" \
  output.repository="$DEMO_DIR/models" output.report_dir="$DEMO_DIR/reports"

step "3/6 Train the multiclass model (Ambler class A/B/C/D or none); HDF5 parsing is cached now"
"$TRAIN" fit --config configs/train/multiclass.yaml data.dir="$DEMO_DIR/data" \
  output.repository="$DEMO_DIR/models" output.report_dir="$DEMO_DIR/reports"

step "4/6 'arginator-train eval': the published binary model on the whole data set (training rows included, so optimistic; point --data at held-out files for a fair score)"
"$TRAIN" eval --model "$DEMO_DIR/models/betalactamase-binary/1" --data "$DEMO_DIR/data"

step "5/6 What was published"
find "$DEMO_DIR/models" -name 'model.*' | sort
echo
echo "Reports (metrics.json, history.csv, training curves, ROC, confusion matrix):"
find "$DEMO_DIR/reports" -name '*.png' | sort
echo
step "6/6 Serve both models with arginator-server (gRPC :$GRPC_PORT, metrics :$METRICS_PORT), then stop it"
"$BUILD_DIR/bin/arginator-server" --config configs/server.yaml --model-repository "$DEMO_DIR/models" \
  --port "$GRPC_PORT" --metrics-port "$METRICS_PORT" --host 127.0.0.1 2>"$DEMO_DIR/server.log" &
SERVER_PID=$!
trap 'kill $SERVER_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$METRICS_PORT/healthz" >/dev/null && break
  sleep 0.1
done
cat "$DEMO_DIR/server.log"
echo "health: $(curl -s "http://127.0.0.1:$METRICS_PORT/healthz")"
echo "a few of its Prometheus metrics (http://127.0.0.1:$METRICS_PORT/metrics):"
curl -s "http://127.0.0.1:$METRICS_PORT/metrics" | grep -E '^arginator_(model_loads_total|model_versions_ready)' | sort
kill -TERM $SERVER_PID && wait $SERVER_PID
tail -2 "$DEMO_DIR/server.log"
trap - EXIT

echo
echo "Next: retrain with your own embeddings (the same HDF5 layout), or serve and call the models"
echo "as the README shows (grpcurl, ghz or any gRPC client through server reflection)."
