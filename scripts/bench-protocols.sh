#!/usr/bin/env bash
# One server, one model, ROWS embeddings per request (default 1), side by side in one run:
# arginator.v1 Classify, the v2 protocol's ModelInfer over gRPC (raw and typed contents), and v2
# over REST (JSON, and the binary tensor extension), each driven by h2load (HTTP/2 for gRPC, --h1
# for REST) with pre-encoded requests, so the client costs little. Prints req/s (and embeddings/s
# when ROWS > 1) and p50 per protocol.
# Usage: scripts/bench-protocols.sh [BUILD_DIR] [SECONDS] [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SECS=${2:-5}
ROWS=${3:-1}
PY=/usr/bin/python3
W=$(mktemp -d /tmp/arginator-bench-protocols-XXXXXX)
SERVER_PID=""
trap '[[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$W"' EXIT

"$BUILD/bin/arginator-train" gen-data --out "$W/data" --scale 0.05 >/dev/null
"$BUILD/bin/arginator-train" fit --config configs/train/binary.yaml data.dir="$W/data" \
  experiment.epochs=2 output.repository="$W/models" output.report_dir="$W/reports" >/dev/null 2>&1
"$BUILD/bin/arginator-loadgen" --model betalactamase-binary --batch "$ROWS" --packed \
  --write-frame "$W/v1.frame" >/dev/null

# The same rows (the model's golden inputs, repeated to ROWS) in every encoding.
"$PY" - "$BUILD/python" "$W" "$ROWS" <<'EOF'
import json, struct, sys
sys.path.insert(0, sys.argv[1])
from inference import grpc_predict_v2_pb2 as pb
w, rows = sys.argv[2], int(sys.argv[3])
card = json.load(open(f"{w}/models/betalactamase-binary/1/model.json"))
golden = [e["input"] for e in card["golden"]["examples"]]
dim = len(golden[0])
row = [v for i in range(rows) for v in golden[i % len(golden)]]  # ROWS x dim, flat
def frame(message):
    data = message.SerializeToString()
    return b"\0" + struct.pack(">I", len(data)) + data
for raw in (True, False):
    r = pb.ModelInferRequest(model_name="betalactamase-binary")
    t = r.inputs.add(name="embedding", datatype="FP32", shape=[rows, dim])
    if raw:
        r.raw_input_contents.append(struct.pack(f"<{len(row)}f", *row))
    else:
        t.contents.fp32_contents.extend(row)
    open(f"{w}/v2-{'raw' if raw else 'typed'}.frame", "wb").write(frame(r))
body = {"inputs": [{"name": "embedding", "shape": [rows, dim], "datatype": "FP32", "data": row}],
        "outputs": [{"name": "probabilities"}]}
open(f"{w}/rest.json", "w").write(json.dumps(body))
header = json.dumps({"inputs": [{"name": "embedding", "shape": [rows, dim], "datatype": "FP32",
                                 "parameters": {"binary_data_size": 4 * len(row)}}],
                     "outputs": [{"name": "probabilities", "parameters": {"binary_data": True}}]})
open(f"{w}/rest.bin", "wb").write(header.encode() + struct.pack(f"<{len(row)}f", *row))
open(f"{w}/rest.bin.len", "w").write(str(len(header)))
EOF

"$BUILD/bin/arginator-server" --model-repository "$W/models" --port 0 --metrics-port -1 \
  --rest-port 0 --host 127.0.0.1 >"$W/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
  grep -q ': SERVING' "$W/server.log" && break
  sleep 0.1
done
GRPC=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$W/server.log" | head -1)
REST=$(sed -n 's/.*REST (Open Inference Protocol v2) on http:\/\/[0-9.]*:\([0-9]*\).*/\1/p' \
  "$W/server.log" | head -1)
G=(-H 'content-type: application/grpc' -H 'te: trailers')

run() {  # $1 label, $2 warm-up option, $3 measured option, rest: h2load arguments
  local label=$1 warm=$2 measured=$3
  shift 3
  # shellcheck disable=SC2086
  h2load "$@" $warm >/dev/null 2>&1
  local out rate p50 failed
  # shellcheck disable=SC2086
  out=$(h2load "$@" $measured --log-file "$W/$label.log" 2>&1)
  rate=$(sed -n 's/^finished in.* \([0-9.]*\) req\/s.*/\1/p' <<<"$out")
  p50=$(awk '{print $3}' "$W/$label.log" | sort -n | awk '{v[NR]=$1} END{print v[int(NR/2)]}')
  failed=$(sed -n 's/^requests: .* \([0-9]*\) failed.*/\1/p' <<<"$out")
  local per_row=""
  [[ "$ROWS" -gt 1 ]] && per_row=$(awk -v r="$rate" -v n="$ROWS" 'BEGIN{printf "  %9.0f embeddings/s", r * n}')
  printf '%-34s %9s req/s%s   p50 %6s us   failed %s\n' "$label" "$rate" "$per_row" "$p50" "${failed:-?}"
}
# gRPC runs for a duration; h2load --h1 with -D did not end against keep-alive connections here,
# so REST runs a count sized to take a few seconds.
GD=("-D 1" "-D $SECS")
echo "$ROWS embedding(s) per request, $SECS s each, $(nproc) cores"
for c in "1 1" "4 16"; do
  read -r conns streams <<<"$c"
  rest_conns=$((conns * streams > 8 ? 8 : conns))
  rest_n=$((rest_conns * 2000 * SECS / 5 / ROWS + 10 * rest_conns))
  RN=("-n $((rest_n / 10))" "-n $rest_n")
  echo "-- gRPC: $conns connection(s) x $streams stream(s); REST: $rest_conns connection(s) (rest.threads 8)"
  run "v1 Classify ${conns}x${streams}" "${GD[@]}" "${G[@]}" -d "$W/v1.frame" -c "$conns" \
    -m "$streams" "http://127.0.0.1:$GRPC/arginator.v1.Classifier/Classify"
  run "v2 gRPC raw ${conns}x${streams}" "${GD[@]}" "${G[@]}" -d "$W/v2-raw.frame" -c "$conns" \
    -m "$streams" "http://127.0.0.1:$GRPC/inference.GRPCInferenceService/ModelInfer"
  run "v2 gRPC typed ${conns}x${streams}" "${GD[@]}" "${G[@]}" -d "$W/v2-typed.frame" \
    -c "$conns" -m "$streams" "http://127.0.0.1:$GRPC/inference.GRPCInferenceService/ModelInfer"
  run "v2 REST JSON ${rest_conns}x1" "${RN[@]}" --h1 -H 'content-type: application/json' \
    -d "$W/rest.json" -c "$rest_conns" "http://127.0.0.1:$REST/v2/models/betalactamase-binary/infer"
  run "v2 REST binary ${rest_conns}x1" "${RN[@]}" --h1 -H 'content-type: application/octet-stream' \
    -H "inference-header-content-length: $(cat "$W/rest.bin.len")" -d "$W/rest.bin" \
    -c "$rest_conns" "http://127.0.0.1:$REST/v2/models/betalactamase-binary/infer"
done
