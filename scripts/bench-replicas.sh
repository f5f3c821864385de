#!/usr/bin/env bash
# Bulk classification across replicas (issue 28): arginator-client classify of one large file of
# synthetic embeddings (ROWS, default 200,000, as NPY) against 1 and then 3 arginator-server
# replicas on one repository, each way a lab would: through HAProxy (scripts/replicas.sh's
# config) and with the client's own round robin over the replicas' addresses (--lb-policy
# round_robin), unary requests of 1,024 rows (--stream never: a stream is one call and stays on
# one replica). Prints embeddings/s as the client reports it (reading the file excluded) and each
# replica's CPU seconds, so that on a machine with fewer cores than replicas the figure still says
# where the work went. Run on a quiet machine; numbers go to docs/benchmarks.md.
# Usage: scripts/bench-replicas.sh [BUILD_DIR] [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
B=$(realpath "${1:-build}")
ROWS=${2:-200000}
command -v haproxy >/dev/null || { echo "bench-replicas: haproxy is not installed"; exit 1; }
W=$(mktemp -d /tmp/arginator-bench-replicas-XXXXXX)
cleanup() {
  kill $(cat "$W"/*.pid 2>/dev/null) 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
source scripts/replicas.sh
"$B/bin/arginator-train" gen-data --out "$W/data" --scale 0.02 >/dev/null
"$B/bin/arginator-train" fit --config configs/train/binary.yaml data.dir="$W/data" \
  experiment.epochs=1 publish.min_macro_f1=0 publish.tolerance=1 output.repository="$W/models" \
  output.report_dir="$W/reports" >/dev/null 2>&1
/usr/bin/python3 - "$W/bulk.npy" "$ROWS" <<'PY'
import sys
import numpy as np
rng = np.random.default_rng(7)
rows = rng.standard_normal((int(sys.argv[2]), 1024), dtype=np.float32) * np.float32(0.03)
np.save(sys.argv[1], rows)
PY
cpu_seconds() {  # cpu_seconds PID: user + system time so far
  awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"
}
echo "bench-replicas: $ROWS embeddings, $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')"
printf '%-9s %-22s %14s   %s\n' replicas route "embeddings/s" "CPU seconds per replica"
for n in 1 3; do
  replicas_ports "$n"
  REPLICA_ARGS=()
  for ((i = 0; i < n; i++)); do start_replica "$i"; done
  for ((i = 0; i < n; i++)); do wait_until 60 ready "${REST[$i]}"; done
  write_haproxy_cfg "$W/haproxy.cfg" "$n"
  haproxy -f "$W/haproxy.cfg" >"$W/haproxy.log" 2>&1 &
  echo $! >"$W/haproxy.pid"
  wait_until 10 backend_up replicas_grpc "r$((n - 1))"
  addresses=$(for ((i = 0; i < n; i++)); do printf '127.0.0.1:%s,' "${GRPC[$i]}"; done)
  for route in haproxy round_robin; do
    if [[ $route == haproxy ]]; then
      target=(--target "127.0.0.1:$LB_GRPC")
    else
      target=(--target "ipv4:${addresses%,}" --lb-policy round_robin)
    fi
    before=()
    for ((i = 0; i < n; i++)); do before+=("$(cpu_seconds "$(cat "$W/replica-$i.pid")")"); done
    line=$("$B/bin/arginator-client" classify --model betalactamase-binary --input "$W/bulk.npy" \
      --output "$W/calls.csv" --batch 1024 --stream never --no-probabilities "${target[@]}" 2>&1 |
      sed -n 's/^classified .* in \([0-9.]*\)s (\([0-9]*\)\/s.*/\2/p')
    cpu=""
    for ((i = 0; i < n; i++)); do
      cpu+=$(awk -v a="${before[$i]}" -v b="$(cpu_seconds "$(cat "$W/replica-$i.pid")")" \
        'BEGIN {printf "%.1f ", b - a}')
    done
    printf '%-9s %-22s %14s   %s\n' "$n" "$route" "$line" "$cpu"
  done
  kill $(cat "$W"/replica-*.pid "$W/haproxy.pid") 2>/dev/null || true
  wait 2>/dev/null || true
  rm -f "$W"/replica-*.pid "$W/haproxy.pid" "$W"/replica-*.log
done
