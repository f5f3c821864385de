#!/usr/bin/env bash
# One server, one model, one embedding per request, side by side in one run: arginator.v1
# Classify, the v2 protocol's ModelInfer over gRPC (raw and typed contents), and v2 over REST
# (JSON, and the binary tensor extension), each driven by h2load (HTTP/2 for gRPC, --h1 for REST)
# with pre-encoded requests, so the client costs little. Prints req/s and p50 per protocol.
# Usage: scripts/bench-protocols.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SECS=${2:-5}
PY=/usr/bin/python3
W=$(mktemp -d /tmp/arginator-bench-protocols-XXXXXX)
SERVER_PID=""
trap '[[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$W"' EXIT

"$BUILD/bin/arginator-train" gen-data --out "$W/data" --scale 0.05 >/dev/null
"$BUILD/bin/arginator-train" fit --config configs/train/binary.yaml data.dir="$W/data" \
  experiment.epochs=2 output.repository="$W/models" output.report_dir="$W/reports" >/dev/null 2>&1
"$BUILD/bin/arginator-loadgen" --model betalactamase-binary --write-frame "$W/v1.frame" >/dev/null

# The same embedding (the model's first golden input) in every encoding.
"$PY" - "$BUILD/python" "$W" <<'EOF'
import json, struct, sys
sys.path.insert(0, sys.argv[1])
from inference import grpc_predict_v2_pb2 as pb
w = sys.argv[2]
card = json.load(open(f"{w}/models/betalactamase-binary/1/model.json"))
row = card["golden"]["examples"][0]["input"]
def frame(message):
    data = message.SerializeToString()
    return b"\0" + struct.pack(">I", len(data)) + data
for raw in (True, False):
    r = pb.ModelInferRequest(model_name="betalactamase-binary")
    t = r.inputs.add(name="embedding", datatype="FP32", shape=[1, len(row)])
    if raw:
        r.raw_input_contents.append(struct.pack(f"<{len(row)}f", *row))
    else:
        t.contents.fp32_contents.extend(row)
    open(f"{w}/v2-{'raw' if raw else 'typed'}.frame", "wb").write(frame(r))
body = {"inputs": [{"name": "embedding", "shape": [1, len(row)], "datatype": "FP32", "data": row}],
        "outputs": [{"name": "probabilities"}]}
open(f"{w}/rest.json", "w").write(json.dumps(body))
header = json.dumps({"inputs": [{"name": "embedding", "shape": [1, len(row)], "datatype": "FP32",
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
  printf '%-34s %9s req/s   p50 %6s us   failed %s\n' "$label" "$rate" "$p50" "${failed:-?}"
}
# gRPC runs for a duration; h2load --h1 with -D did not end against keep-alive connections here,
# so REST runs a count sized to take a few seconds.
GD=("-D 1" "-D $SECS")
echo "one embedding per request, $SECS s each, $(nproc) cores"
for c in "1 1" "4 16"; do
  read -r conns streams <<<"$c"
  rest_conns=$((conns * streams > 8 ? 8 : conns))
  rest_n=$((rest_conns * 2000 * SECS / 5))
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
