# Sourced by scripts/cluster-test.sh and scripts/bench-replicas.sh: N arginator-server replicas
# on one model repository and HAProxy in front of them. Needs B (the build directory) and W (a
# work directory) set; REPLICA_ARGS may add server flags.

# Free loopback ports: LB_GRPC, LB_REST, LB_STATS, PROM, and GRPC/REST/METRICS[0..N-1].
replicas_ports() {  # replicas_ports N
  local n=$1 ports
  ports=($(/usr/bin/python3 - "$n" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(4 + 3 * int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
  ))
  LB_GRPC=${ports[0]} LB_REST=${ports[1]} LB_STATS=${ports[2]} PROM=${ports[3]}
  GRPC=("${ports[@]:4:n}") REST=("${ports[@]:4+n:n}") METRICS=("${ports[@]:4+2*n:n}")
}

start_replica() {  # start_replica I: in the background, its pid in $W/replica-I.pid
  local i=$1
  "$B/bin/arginator-server" --model-repository "$W/models" --host 127.0.0.1 \
    --port "${GRPC[$i]}" --rest-port "${REST[$i]}" --metrics-port "${METRICS[$i]}" \
    "${REPLICA_ARGS[@]}" >>"$W/replica-$i.log" 2>&1 &
  echo $! >"$W/replica-$i.pid"
}

ready() { curl -sf -o /dev/null "http://127.0.0.1:$1/v2/health/ready"; }

wait_until() {  # wait_until SECONDS COMMAND...
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# HAProxy for replicas 0..N-1: HTTP/2 (h2c) to each replica's gRPC port, HTTP/1.1 to its REST
# port, both health-checked on REST's /v2/health/ready every 250 ms; L7 retries of requests
# refused by a draining or dead replica (connection failures, 503 from a draining REST edge).
write_haproxy_cfg() {  # write_haproxy_cfg FILE N
  local file=$1 n=$2 i
  {
    printf '%s\n' "global" "  maxconn 2000" "  tune.bufsize 65536" "defaults" "  mode http" \
      "  timeout connect 1s" "  timeout client 60s" "  timeout server 60s" "  retries 3" \
      "  option redispatch 1" "  retry-on conn-failure empty-response 503" \
      "  default-server inter 250ms fastinter 100ms downinter 500ms fall 1 rise 2" \
      "frontend grpc" "  bind 127.0.0.1:$LB_GRPC proto h2" "  default_backend replicas_grpc" \
      "frontend rest" "  bind 127.0.0.1:$LB_REST" "  option http-buffer-request" \
      "  default_backend replicas_rest" "frontend stats" "  bind 127.0.0.1:$LB_STATS" \
      "  stats enable" "  stats uri /stats" "backend replicas_grpc" \
      "  option httpchk GET /v2/health/ready" "  http-check expect status 200"
    for ((i = 0; i < n; i++)); do
      echo "  server r$i 127.0.0.1:${GRPC[$i]} proto h2 check port ${REST[$i]} check-proto h1"
    done
    printf '%s\n' "backend replicas_rest" "  option httpchk GET /v2/health/ready" \
      "  http-check expect status 200"
    for ((i = 0; i < n; i++)); do echo "  server r$i 127.0.0.1:${REST[$i]} check"; done
  } >"$file"
}

backend_up() {  # backend_up BACKEND SERVER: 0 when HAProxy has it UP
  curl -sf "http://127.0.0.1:$LB_STATS/stats;csv" | awk -F, -v b="$1" -v s="$2" \
    '$1 == b && $2 == s { exit ($18 ~ /^UP/ ? 0 : 1) }'
}
