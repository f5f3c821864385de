#!/usr/bin/env bash
# make cluster-test (issue 28): three arginator-server replicas on one shared model repository,
# HAProxy in front of their gRPC and v2 REST ports (health-checked through /v2/health/ready, so a
# draining or dead replica is taken out), and Prometheus scraping every replica with the shipped
# alert rules loaded. Continuous load goes through the balancer (arginator-loadgen v1 unary and
# streams, scripts/v2-grpc-load.py on v2 gRPC, h2load on REST) while the replicas are put through
# what a rollout does to them:
#   publish   a new version is published; every replica loads it (default traffic stays on
#             `stable`, issue 27); zero failed calls
#   restart   each replica in turn gets SIGTERM and is started again; zero failed calls (a
#             stream its replica's drain ends is opened again: arginator-loadgen --reopen-streams)
#   kill      one replica gets SIGKILL; failures at most the calls in flight on it; HAProxy takes
#             it out; ArginatorReplicaDown fires in Prometheus; the replica restarts, takes
#             traffic again and the alert resolves
#   release   a 20% canary of the new version, promote, rollback (arginator-client admin on one
#             replica; the others follow the repository's files); zero failed calls
# and checks in Prometheus that ArginatorHighErrorRatio stayed quiet and that the autoscaling
# query (configs/prometheus/adapter.yaml) returns a value per replica. Prints a report; exits 0
# when every check holds, 1 otherwise, and 0 with "SKIPPED: ..." when a tool it needs is missing.
# Usage: scripts/cluster-test.sh [BUILD_DIR]   (run from anywhere; about 4 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
B=$(realpath "${1:-build}")
for tool in haproxy prometheus h2load curl; do
  if ! command -v "$tool" >/dev/null; then
    echo "cluster-test: SKIPPED: $tool is not installed (scripts/install-deps.sh installs it)"
    exit 0
  fi
done
W=$(mktemp -d /tmp/arginator-cluster-XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}" $(cat "$W"/replica-*.pid 2>/dev/null); do
    kill -9 "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  [[ -n "${KEEP:-}" ]] && echo "cluster-test: kept $W" || rm -rf "$W"
}
trap cleanup EXIT
log() { echo "cluster-test: $(date -u +%H:%M:%S) $*"; }
FAILURES=()
check() {  # check CONDITION_STATUS MESSAGE
  if [[ "$1" == 0 ]]; then echo "  ok    $2"; else echo "  FAIL  $2"; FAILURES+=("$2"); fi
}
source scripts/replicas.sh
replicas_ports 3
MODEL=betalactamase-binary

log "data and version 1 in $W"
"$B/bin/arginator-train" gen-data --out "$W/data" --scale 0.02 >/dev/null
fit() {
  "$B/bin/arginator-train" fit --config configs/train/binary.yaml data.dir="$W/data" \
    experiment.epochs=1 publish.min_macro_f1=0 publish.tolerance=1 output.repository="$W/models" \
    output.report_dir="$W/reports" "$@" >"$W/fit.log" 2>&1
}
fit
head -c 24 /dev/urandom | base64 >"$W/ops.token"

REPLICA_ARGS=(--set models.poll_interval_s=1 --set server.grace_period_s=5
  --set server.drain_delay_s=1 --set admin.enabled=true --set "admin.tokens={ops: $W/ops.token}"
  --set "admin.audit_log=$W/audit.jsonl")
for i in 0 1 2; do start_replica $i; done
for i in 0 1 2; do wait_until 60 ready "${REST[$i]}" || { cat "$W/replica-$i.log"; exit 1; }; done
log "3 replicas ready: gRPC ${GRPC[*]}, REST ${REST[*]}, metrics ${METRICS[*]}"

write_haproxy_cfg "$W/haproxy.cfg" 3
haproxy -c -f "$W/haproxy.cfg" >/dev/null
haproxy -f "$W/haproxy.cfg" >"$W/haproxy.log" 2>&1 &
PIDS+=($!)

# Prometheus: the shipped rules, every replica scraped each second.
cp configs/prometheus/alerts.yml "$W/alerts.yml"
cat >"$W/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - alerts.yml
scrape_configs:
  - job_name: arginator
    static_configs:
      - targets: ["127.0.0.1:${METRICS[0]}", "127.0.0.1:${METRICS[1]}", "127.0.0.1:${METRICS[2]}"]
EOF
prometheus --config.file="$W/prometheus.yml" --storage.tsdb.path="$W/prometheus" \
  --web.listen-address="127.0.0.1:$PROM" >"$W/prometheus.log" 2>&1 &
PIDS+=($!)
wait_until 30 curl -sf -o /dev/null "http://127.0.0.1:$PROM/-/ready"
query() {  # query PROMQL: the result vector as JSON
  curl -sf "http://127.0.0.1:$PROM/api/v1/query" --data-urlencode "query=$1" |
    /usr/bin/python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["data"]["result"]))'
}
if ! wait_until 10 backend_up replicas_grpc r2; then
  curl -s "http://127.0.0.1:$LB_STATS/stats;csv" | cut -d, -f1,2,18
  cat "$W/haproxy.log"
  exit 1
fi
alert_state() {  # alert_state NAME: firing, pending or none, as Prometheus's API says now
  curl -sf "http://127.0.0.1:$PROM/api/v1/alerts" | /usr/bin/python3 -c 'import json, sys
alerts = json.load(sys.stdin)["data"]["alerts"]
print(next((a["state"] for a in alerts if a["labels"]["alertname"] == sys.argv[1]), "none"))' "$1"
}
alert_is() { [[ $(alert_state "$1") == "$2" ]]; }  # alert_is NAME STATE
backend_down() { ! backend_up "$@"; }

# The REST request: one embedding of the version's golden examples, as v2 JSON.
/usr/bin/python3 - "$W/models/$MODEL/1/model.json" >"$W/rest.json" <<'PY'
import json, sys
card = json.load(open(sys.argv[1]))
row = card["golden"]["examples"][0]["input"]
print(json.dumps({"inputs": [{"name": "embedding", "shape": [1, len(row)], "datatype": "FP32",
                              "data": row}]}))
PY
admin() {  # admin ARGS...: arginator-client admin on replica 0
  local verb=() ; while [[ $# -gt 0 && $1 != --* ]]; do verb+=("$1"); shift; done
  "$B/bin/arginator-client" admin "${verb[@]}" --target "127.0.0.1:${GRPC[0]}" \
    --token-file "$W/ops.token" --model "$MODEL" "$@"
}

# One phase's load: unary (and streams when $2 is "streams") through the balancer for $1 seconds.
load_start() {
  local seconds=$1 streams=${2:-}
  PHASE_DIR=$W/load-$((++PHASE_NO)); mkdir -p "$PHASE_DIR"
  "$B/bin/arginator-loadgen" --insecure --target "127.0.0.1:$LB_GRPC" --model "$MODEL" -c 8 \
    -z "${seconds}s" --duration-stop wait -O json >"$PHASE_DIR/unary.json" \
    2>"$PHASE_DIR/unary.err" &
  LOAD_PIDS=($!)
  if [[ $streams == streams ]]; then
    "$B/bin/arginator-loadgen" --insecure --target "127.0.0.1:$LB_GRPC" --model "$MODEL" -c 4 \
      --call arginator.v1.Classifier.ClassifyStream --reopen-streams -z "${seconds}s" \
      --duration-stop wait \
      -O json >"$PHASE_DIR/stream.json" 2>"$PHASE_DIR/stream.err" &
    LOAD_PIDS+=($!)
  fi
  /usr/bin/python3 scripts/v2-grpc-load.py "$B/python" "127.0.0.1:$LB_GRPC" "$MODEL" \
    "$W/models/$MODEL/1/model.json" "$seconds" 2 >"$PHASE_DIR/v2.json" 2>"$PHASE_DIR/v2.err" &
  LOAD_PIDS+=($!)
  h2load --h1 -c 4 -D "$seconds" -H 'Content-Type: application/json' -d "$W/rest.json" \
    "http://127.0.0.1:$LB_REST/v2/models/$MODEL/infer" >"$PHASE_DIR/rest.out" 2>&1 &
  LOAD_PIDS+=($!)
}
# Waits for the phase's load; prints "calls failures" for each kind and appends to the report.
REPORT=()
PHASE_NO=0
counts() {  # counts REPORT.json: "calls failed" from a report shaped like arginator-loadgen's
  /usr/bin/python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
codes = d.get("statusCodeDistribution", {})
print(d["count"], sum(n for c, n in codes.items() if c != "OK"))' "$1"
}
load_end() {
  local phase=$1
  for p in "${LOAD_PIDS[@]}"; do wait "$p" || true; done
  read -r u_calls u_failed < <(counts "$PHASE_DIR/unary.json")
  s_calls=- s_failed=-
  if [[ -f $PHASE_DIR/stream.json ]]; then
    read -r s_calls s_failed < <(counts "$PHASE_DIR/stream.json")
  fi
  read -r v_calls v_failed < <(counts "$PHASE_DIR/v2.json")
  read -r r_calls r_failed < <(awk '/^requests:/ {t=$2} /^status codes:/ {ok=$3}
    /^requests:/ {for (i=1;i<=NF;i++) if ($(i+1) ~ /^(errored|timeout)/) e+=$i}
    END {print t+0, t-ok}' "$PHASE_DIR/rest.out")
  REPORT+=("$(printf '%-8s %9s %7s %9s %7s %9s %7s %9s %7s' "$phase" "$u_calls" "$u_failed" \
    "$s_calls" "$s_failed" "$v_calls" "$v_failed" "$r_calls" "$r_failed")")
  PHASE_FAILED=$((u_failed + v_failed + r_failed))
  PHASE_CALLS=$((u_calls + v_calls + r_calls))
  if [[ $s_calls != - ]]; then
    PHASE_FAILED=$((PHASE_FAILED + s_failed))
    PHASE_CALLS=$((PHASE_CALLS + s_calls))
  fi
}
served_by() {  # served_by VERSION: requests the replicas answered with VERSION so far
  query "sum(arginator_requests_total{model=\"$MODEL\",version=\"$1\",code=\"OK\"})" |
    /usr/bin/python3 -c 'import json, sys
r = json.load(sys.stdin)
print(int(float(r[0]["value"][1])) if r else 0)'
}
version_ready_everywhere() {
  for i in 0 1 2; do
    curl -sf -o /dev/null "http://127.0.0.1:${REST[$i]}/v2/models/$MODEL/versions/$1/ready" ||
      return 1
  done
}

admin label set --label stable --version 1 >/dev/null

log "phase publish: version 2 published under load"
load_start 25 streams
sleep 3
fit experiment.seed=7
wait_until 30 version_ready_everywhere 2
v2_before=$(served_by 2)
sleep 3
load_end publish
check "$((PHASE_FAILED != 0))" "publish: $PHASE_FAILED of $PHASE_CALLS calls failed (want 0)"
check "$(( $(served_by 2) != v2_before ))" "publish: default traffic stayed on stable (version 1)"

log "phase restart: rolling SIGTERM restart, one replica at a time"
load_start 40 streams
sleep 2
for i in 0 1 2; do
  kill -TERM "$(cat "$W/replica-$i.pid")"
  wait_until 20 bash -c "! kill -0 $(cat "$W/replica-$i.pid") 2>/dev/null" || true
  start_replica "$i"
  wait_until 60 ready "${REST[$i]}"
  wait_until 10 backend_up replicas_grpc "r$i"
  sleep 1
done
load_end restart
check "$((PHASE_FAILED != 0))" "restart: $PHASE_FAILED of $PHASE_CALLS calls failed (want 0)"

log "phase kill: SIGKILL replica 1, alert, restart"
load_start 100 streams
sleep 2
kill -KILL "$(cat "$W/replica-1.pid")"
down_seen=1
wait_until 5 backend_down replicas_grpc r1 && down_seen=0
check "$down_seen" "kill: HAProxy took the killed replica out"
firing=1
wait_until 90 alert_is ArginatorReplicaDown firing && firing=0
check "$firing" "kill: ArginatorReplicaDown fired in Prometheus"
start_replica 1
wait_until 60 ready "${REST[1]}"
wait_until 10 backend_up replicas_grpc r1
before=$(query "sum(arginator_requests_total{instance=\"127.0.0.1:${METRICS[1]}\"})")
sleep 4
after=$(query "sum(arginator_requests_total{instance=\"127.0.0.1:${METRICS[1]}\"})")
rejoined=1
/usr/bin/python3 -c 'import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.exit(0 if b and (not a or float(b[0]["value"][1]) > float(a[0]["value"][1])) else 1)' \
  "$before" "$after" && rejoined=0
check "$rejoined" "kill: the restarted replica takes traffic again"
resolved=1
wait_until 30 alert_is ArginatorReplicaDown none && resolved=0
check "$resolved" "kill: ArginatorReplicaDown resolved"
load_end kill
check "$((PHASE_FAILED > 12))" "kill: $PHASE_FAILED of $PHASE_CALLS calls failed (want at most the 12 in flight)"

log "phase release: 20% canary of version 2, promote, rollback"
load_start 30 streams
sleep 2
admin canary set --version 2 --weight 20 >/dev/null
sleep 8
c1=$(served_by 2) t1=$(query "sum(arginator_requests_total{model=\"$MODEL\",code=\"OK\"})")
sleep 5
c2=$(served_by 2) t2=$(query "sum(arginator_requests_total{model=\"$MODEL\",code=\"OK\"})")
share=$(/usr/bin/python3 -c "import json,sys; t1=float(json.loads(sys.argv[2])[0]['value'][1]); t2=float(json.loads(sys.argv[4])[0]['value'][1]); print(round(100*(int(sys.argv[3])-int(sys.argv[1]))/max(1,t2-t1),1))" "$c1" "$t1" "$c2" "$t2")
check "$(/usr/bin/python3 -c "import sys; print(0 if 12 <= float(sys.argv[1]) <= 28 else 1)" "$share")" \
  "release: the canary took $share% of default requests across replicas (want 20 +- 8)"
admin promote >/dev/null
sleep 4
admin rollback >/dev/null
sleep 4
load_end release
check "$((PHASE_FAILED != 0))" "release: $PHASE_FAILED of $PHASE_CALLS calls failed (want 0)"

quiet=$(query 'max_over_time(ALERTS{alertname="ArginatorHighErrorRatio"}[10m])')
check "$([[ $quiet == "[]" ]]; echo $?)" "ArginatorHighErrorRatio stayed quiet through every phase"
adapter=$(query 'sum by (instance) (avg_over_time(arginator_queue_depth[1m]))')
per_replica=$(/usr/bin/python3 -c "import json,sys; print(len(json.loads(sys.argv[1])))" "$adapter")
check "$((per_replica != 3))" "the autoscaling query (adapter.yaml) returns one queue depth per replica ($per_replica)"

echo
echo "cluster-test report ($(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'))"
printf '%-8s %9s %7s %9s %7s %9s %7s %9s %7s\n' phase unary failed streamed failed v2-grpc \
  failed rest failed
printf '%s\n' "${REPORT[@]}"
echo "alerts seen: $(curl -sf "http://127.0.0.1:$PROM/api/v1/query" --data-urlencode 'query=count by (alertname) (max_over_time(ALERTS{alertstate="firing"}[10m]))' | /usr/bin/python3 -c 'import json,sys; print(", ".join(r["metric"]["alertname"] for r in json.load(sys.stdin)["data"]["result"]) or "none")')"
if ((${#FAILURES[@]})); then
  echo "cluster-test: FAILED: ${#FAILURES[@]} check(s)"
  exit 1
fi
echo "cluster-test: passed"
