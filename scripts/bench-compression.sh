#!/usr/bin/env bash
# `make bench-compression`: fp32 against its int8 and pruned versions (issue 15), side by side in
# one run: test macro F1, model size, raw forward by batch size, served bulk throughput.
# Usage: scripts/bench-compression.sh [BUILD_DIR]; SCALE (default 1: ~67k synthetic proteins),
# SECS per measurement (default 5). Results: BUILD_DIR/bench-compression/compression.md (+ JSON).
set -euo pipefail
BUILD=${1:-build}
SCALE=${SCALE:-1}
SECS=${SECS:-5}
BIN="$BUILD/bin"
OUT="$BUILD/bench-compression"
rm -rf "$OUT" && mkdir -p "$OUT"
PY=/usr/bin/python3
say() { printf '\n== %s\n' "$*" >&2; }

say "data (synthetic, scale $SCALE) and the fp32 binary model"
"$BIN/arginator-train" gen-data --out "$OUT/data" --scale "$SCALE" >/dev/null
"$BIN/arginator-train" fit --config configs/train/binary.yaml data.dir="$OUT/data" \
  output.repository="$OUT/models" output.report_dir="$OUT/reports" >"$OUT/fit.log"
V1="$OUT/models/betalactamase-binary/1"

say "compress: int8 (v2) and prune 50% + 3 epochs of fine-tuning (v3)"
"$BIN/arginator-train" compress --model "$V1" --method int8 >"$OUT/int8.log"
"$BIN/arginator-train" compress --model "$V1" --method prune --prune.fraction 0.5 \
  --prune.finetune_epochs 3 >"$OUT/prune.log"
grep -h "Test macro F1" "$OUT/int8.log" "$OUT/prune.log" >&2

say "raw forward by batch size, the three side by side"
"$BIN/arginator-bench-forward" "$V1" "$OUT/models/betalactamase-binary/2" \
  "$OUT/models/betalactamase-binary/3" --batches 1,4,16,64,256,1024 --seconds 2 --format json \
  >"$OUT/forward.json"

say "served bulk: 1,024 embeddings per request (packed), each version in turn, two rounds"
"$BIN/arginator-server" --model-repository "$OUT/models" --port 0 --metrics-port -1 \
  --rest-port -1 --host 127.0.0.1 --set models.policy=all --set batching.max_batch_size=1024 \
  >"$OUT/server.log" 2>&1 &
SERVER_PID=$!
trap 'kill $SERVER_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  PORT=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$OUT/server.log" | head -1)
  [ -n "$PORT" ] && [ "$(grep -c 'serving betalactamase-binary version' "$OUT/server.log")" -ge 3 ] && break
  sleep 0.2
done
[ -n "${PORT:-}" ] || { echo "server did not start: $OUT/server.log" >&2; exit 1; }
for round in 1 2; do
  for v in 1 2 3; do
    "$BIN/arginator-loadgen" --insecure --model betalactamase-binary --model-version $v \
      --batch 1024 --packed -c 2 -z 1s 127.0.0.1:$PORT >/dev/null  # warm-up
    "$BIN/arginator-loadgen" --insecure --model betalactamase-binary --model-version $v \
      --batch 1024 --packed -c 2 -z "${SECS}s" --duration-stop ignore -O json \
      127.0.0.1:$PORT >"$OUT/bulk-v$v-r$round.json"
  done
done
kill $SERVER_PID; wait $SERVER_PID || true; trap - EXIT

{ bash "$(dirname "$0")/machine-line.sh"; echo; } | tee "$OUT/compression.md"
"$PY" - "$OUT" "$SCALE" <<'PYEOF' | tee -a "$OUT/compression.md"
import json, sys
out, scale = sys.argv[1], sys.argv[2]
cards = {v: json.load(open(f"{out}/models/betalactamase-binary/{v}/model.json")) for v in (1, 2, 3)}
fwd = json.load(open(f"{out}/forward.json"))
batches = sorted({r["batch"] for r in fwd})
speed = {(r["version"], r["batch"]): r["samples_per_s"] for r in fwd}
size = {r["version"]: r["size_bytes"] for r in fwd}
bulk = {v: max(json.load(open(f"{out}/bulk-v{v}-r{r}.json"))["embeddingsPerSecond"] for r in (1, 2))
        for v in (1, 2, 3)}
def f1(v):
    c = cards[v]
    return c["compression"]["macro_f1"]["compressed"] if "compression" in c else \
        cards[2]["compression"]["macro_f1"]["parent"]
kinds = {1: "fp32", 2: "int8 (onednn)", 3: "pruned 50% + 3 epochs"}
print(f"Synthetic data, scale {scale}; binary FFNN {cards[1]['architecture']['layers']}; "
      f"1 intra-op thread.\n")
print("| version | kind | test macro F1 (vs fp32) | model.pt bytes (vs fp32) | " +
      " | ".join(f"forward @{b} samples/s (vs fp32)" for b in batches) +
      " | served bulk emb/s (vs fp32) |")
print("|---|---|---:|---:|" + "---:|" * len(batches) + "---:|")
for v in (1, 2, 3):
    row = [f"v{v}", kinds[v], f"{f1(v):.4f} ({f1(v) - f1(1):+.4f})",
           f"{size[v]:,} ({size[v] / size[1]:.2f}x)"]
    row += [f"{speed[(v, b)]:,.0f} ({speed[(v, b)] / speed[(1, b)]:.2f}x)" for b in batches]
    row.append(f"{bulk[v]:,.0f} ({bulk[v] / bulk[1]:.2f}x)")
    print("| " + " | ".join(row) + " |")
PYEOF
