#!/usr/bin/env bash
# Two arginator-server binaries (a change's before and after) side by side on one model
# repository, both running, h2load --h1 alternating between them with one pre-encoded v2 REST JSON
# body (one embedding, as Python's json.dumps writes it) at 1 and 8 connections, ROUNDS rounds,
# so a machine whose speed drifts affects both alike. Prints req/s per round, the server CPU per
# request (from /proc) and the ratio of the means.
# Usage: scripts/bench-ab-rest.sh OLD_SERVER NEW_SERVER [BUILD_DIR] [ROUNDS] [REQUESTS]
set -euo pipefail
OLD_BIN=$(realpath "${1:?usage: bench-ab-rest.sh OLD_SERVER NEW_SERVER [BUILD_DIR] [ROUNDS] [REQUESTS]}")
NEW_BIN=$(realpath "${2:?usage: bench-ab-rest.sh OLD_SERVER NEW_SERVER [BUILD_DIR] [ROUNDS] [REQUESTS]}")
cd "$(dirname "$0")/.."
B=${3:-build}
ROUNDS=${4:-5}
N=${5:-10000}
W=$(mktemp -d /tmp/arginator-bench-ab-rest-XXXXXX)
bash scripts/machine-line.sh
"$B/bin/arginator-train" gen-data --out "$W/data" --scale 0.05 >/dev/null
"$B/bin/arginator-train" fit --config configs/train/binary.yaml data.dir="$W/data" \
  experiment.epochs=2 output.repository="$W/models" output.report_dir="$W/reports" >/dev/null 2>&1
/usr/bin/python3 - "$W" <<'PY'
import json, sys
w = sys.argv[1]
row = json.load(open(f"{w}/models/betalactamase-binary/1/model.json"))["golden"]["examples"][0]["input"]
body = {"inputs": [{"name": "embedding", "shape": [1, len(row)], "datatype": "FP32", "data": row}],
        "outputs": [{"name": "probabilities"}]}
open(f"{w}/rest.json", "w").write(json.dumps(body))
PY
start() {
  "$1" --model-repository "$W/models" --port 0 --metrics-port -1 --rest-port 0 --host 127.0.0.1 >"$W/$2.log" 2>&1 &
  echo $! > "$W/$2.pid"
  for _ in $(seq 1 300); do grep -q ': SERVING' "$W/$2.log" && break; sleep 0.1; done
  sed -n 's/.*REST (Open Inference Protocol v2) on http:\/\/[0-9.]*:\([0-9]*\).*/\1/p' "$W/$2.log" | head -1
}
OLD=$(start "$OLD_BIN" old)
NEW=$(start "$NEW_BIN" new)
trap 'kill $(cat "$W/old.pid") $(cat "$W/new.pid") 2>/dev/null; rm -rf "$W"' EXIT
ticks() { awk '{print $14 + $15}' "/proc/$(cat "$W/$1.pid")/stat"; }
rate() {  # $1 port, $2 connections -> "req/s cpu_us_per_request"
  local before after out
  before=$(ticks "$3")
  out=$(h2load --h1 -H 'content-type: application/json' -d "$W/rest.json" -c "$2" -n "$N" \
    "http://127.0.0.1:$1/v2/models/betalactamase-binary/infer" 2>&1)
  after=$(ticks "$3")
  echo "$(sed -n 's/^finished in.* \([0-9.]*\) req\/s.*/\1/p' <<<"$out") $(( (after - before) * 10000 / N ))"
}
for c in 1 8; do
  rate "$OLD" "$c" old >/dev/null; rate "$NEW" "$c" new >/dev/null  # warm-up
  o_sum=0; n_sum=0
  for r in $(seq 1 "$ROUNDS"); do
    read -r o ocpu <<<"$(rate "$OLD" "$c" old)"
    read -r n ncpu <<<"$(rate "$NEW" "$c" new)"
    printf 'c=%d round %d: old %8.0f req/s (%s us CPU/request)  new %8.0f req/s (%s us)\n' "$c" "$r" "$o" "$ocpu" "$n" "$ncpu"
    o_sum=$(echo "$o_sum + $o" | bc); n_sum=$(echo "$n_sum + $n" | bc)
  done
  printf 'c=%d: new / old = %.2f\n' "$c" "$(echo "$n_sum / $o_sum" | bc -l)"
done
