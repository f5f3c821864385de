#!/usr/bin/env bash
# `make container-test`: builds both images from dockerfiles/ and runs them the way a user and a
# cluster would, with podman (docs/operations.md, "Containers and manifests, run here"):
#   1. podman ready: packages, a config of our own (runc, no default ulimits), the base image
#      made with debootstrap when no registry has it;
#   2. both images built; the runtime images checked (size, user, version label, no build tools);
#   3. the trainer image run as the trainer Job runs it (the Job's rendered args, read-only root,
#      user 10001), publishing both models into the volume the cpu overlay's claim names;
#   4. the server image on that volume: gRPC health, the image's HEALTHCHECK, classify through the
#      published port, /metrics, then SIGTERM under load: the drain (exit 0, no call cancelled);
#   5. k8s/overlays/cpu rendered and played with `podman kube play` (Deployment, ConfigMap,
#      volumes, args, securityContext) on podman's bridge: the pod serves at its own address,
#      does not restart, and drains on stop.
# Usage: scripts/container-test.sh [BUILD_DIR]   (BUILD_DIR/bin holds the host's client and trainer)
# Exit 0 when every check passed, or when podman cannot run a container on this machine: then it
# prints a line starting "container-test: SKIPPED" with the reason. Any other failure exits 1.
# Environment: CONTAINER_TEST_SCALE (synthetic data scale, 0.05), ARGINATOR_DEBIAN_MIRROR.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}
CLIENT="$BUILD_DIR/bin/arginator-client"
LOADGEN="$BUILD_DIR/bin/arginator-loadgen"
TRAIN="$BUILD_DIR/bin/arginator-train"
SCALE=${CONTAINER_TEST_SCALE:-0.05}
VERSION=$(sed -n 's/^project(arginator VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
BASE_IMAGE=docker.io/library/debian:bookworm-slim
SERVER_IMAGE=localhost/arginator-server:$VERSION
TRAINER_IMAGE=localhost/arginator-trainer:$VERSION
MODELS_VOLUME=arginator-models  # the name of the overlays' PersistentVolumeClaim
OWNER_LABEL=io.arginator.container-test=1
START=$SECONDS
# Debian's Python, whose h5py and yaml install-deps.sh installs (a pyenv python3 may lack them).
PY=$(command -v /usr/bin/python3 || command -v python3)

step() { printf '\n==> [%3ds] %s\n' $((SECONDS - START)) "$*"; }
fail() { echo "container-test: FAILED: $*" >&2; exit 1; }
skip() { echo "container-test: SKIPPED: $*"; exit 0; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

for binary in "$CLIENT" "$LOADGEN" "$TRAIN"; do
  [[ -x "$binary" ]] || fail "$binary is missing: run 'make build' first (make container-test does)"
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/arginator-container-test.XXXXXX")
PLAYED=""
cleanup() {
  set +e
  [[ -n "$PLAYED" ]] && podman kube down "$PLAYED" >/dev/null 2>&1
  podman rm -f -t 0 arginator-ct-server >/dev/null 2>&1
  podman volume rm -f "$MODELS_VOLUME" >/dev/null 2>&1
  podman volume ls -q --filter "label=$OWNER_LABEL" | xargs -r podman volume rm -f >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

step "1/5 podman"
bash scripts/install-deps.sh --containers || skip "could not install podman (scripts/install-deps.sh --containers)"
# A config of our own instead of editing /etc/containers: runc, because crun fails on hybrid
# cgroups (seen on this project's machines), and no default ulimits, whose RLIMIT_NOFILE a
# sandboxed host may refuse. CONTAINERS_CONF replaces the system files for this script only.
export CONTAINERS_CONF="$WORK/containers.conf"
{
  echo '[containers]'
  echo 'default_ulimits = []'
  echo '[engine]'
  if command -v runc >/dev/null; then echo 'runtime = "runc"'; fi
} >"$CONTAINERS_CONF"
podman info >"$WORK/podman-info.txt" 2>&1 || skip "podman info fails: $(tail -1 "$WORK/podman-info.txt")"

if ! podman image exists "$BASE_IMAGE"; then
  # No registry is reachable here but Debian's mirror is: make bookworm-slim from it.
  mirror=${ARGINATOR_DEBIAN_MIRROR:-$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources \
    /etc/apt/sources.list | grep -v security | head -1 |
    sed -E 's/^(URIs:|deb)[[:space:]]+(\[[^]]*\][[:space:]]+)?//' | awk '{print $1}' || true)}
  mirror=${mirror:-http://deb.debian.org/debian}
  echo "making $BASE_IMAGE with debootstrap from $mirror"
  debootstrap --variant=minbase bookworm "$WORK/rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 ||
    skip "no base image: debootstrap from $mirror failed: $(tail -1 "$WORK/debootstrap.log")"
  rm -rf "$WORK"/rootfs/var/cache/apt/archives/*.deb "$WORK"/rootfs/var/lib/apt/lists/* \
    "$WORK"/rootfs/usr/share/doc/* "$WORK"/rootfs/usr/share/man/* "$WORK"/rootfs/usr/share/locale/*
  tar -C "$WORK/rootfs" -c . | podman import -q \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$WORK/rootfs"
fi
if ! podman run --rm --network=none "$BASE_IMAGE" true >"$WORK/smoke.txt" 2>&1; then
  skip "podman cannot run a container here: $(tail -1 "$WORK/smoke.txt")"
fi

step "2/5 build both images (the build stage is shared; the host's ccache is mounted)"
ccache_dir=$(ccache -k cache_dir 2>/dev/null || echo "$HOME/.cache/ccache")
mkdir -p "$ccache_dir"
ccache_args=(--build-arg CCACHE_DIR=/host-ccache -v "$ccache_dir:/host-ccache")
for var in LANG LC_ALL; do  # part of ccache's hash: the host's values, so its objects match
  [[ -n "${!var+set}" ]] && ccache_args+=(--build-arg "$var=${!var}")
done
for image in server trainer; do
  t=$SECONDS
  tag=$([[ $image == server ]] && echo "$SERVER_IMAGE" || echo "$TRAINER_IMAGE")
  # --format docker keeps HEALTHCHECK (OCI images have no such field).
  podman build --format docker --network=host -f "dockerfiles/$image.Dockerfile" \
    --build-arg "ARGINATOR_VERSION=$VERSION" "${ccache_args[@]}" -t "$tag" . \
    >"$WORK/build-$image.log" 2>&1 || {
    tail -30 "$WORK/build-$image.log"
    # The package steps need the mirror (--network=host); failing there is this machine's network,
    # failing anywhere else is ours.
    last_step=$(grep -E '^\[[0-9]+/[0-9]+\] STEP|^STEP' "$WORK/build-$image.log" | tail -1)
    [[ "$last_step" == *"install-deps.sh --"* ]] &&
      skip "installing packages inside the image build failed (is the Debian mirror reachable?)"
    fail "building dockerfiles/$image.Dockerfile"
  }
  echo "$tag built in $((SECONDS - t)) s"
done
# The overlays name the registry; a local tag of that name is what IfNotPresent finds.
podman tag "$SERVER_IMAGE" "registry.example.org/arginator/server:$VERSION"
podman tag "$TRAINER_IMAGE" "registry.example.org/arginator/trainer:$VERSION"

for tag in "$SERVER_IMAGE" "$TRAINER_IMAGE"; do
  size=$(podman image inspect --format '{{.Size}}' "$tag")
  user=$(podman image inspect --format '{{.Config.User}}' "$tag")
  label=$(podman image inspect --format '{{index .Config.Labels "org.opencontainers.image.version"}}' "$tag")
  echo "$tag: $((size / 1000000)) MB, user $user, version label $label"
  [[ "$user" == 10001 ]] || fail "$tag runs as '$user', not the non-root user 10001"
  [[ "$label" == "$VERSION" ]] || fail "$tag's version label is '$label', not $VERSION"
  # No compiler, build system or development package in a runtime image.
  podman run --rm --network=none --no-healthcheck --entrypoint /bin/sh "$tag" -c '
    for tool in gcc g++ cc c++ clang cmake ninja make ld as protoc; do
      command -v "$tool" >/dev/null && { echo "build tool in the runtime image: $tool"; exit 1; }
    done
    dev=$(dpkg-query -W -f "\${Package}\n" | grep -E -- "-dev(:|$)" || true)
    [ -z "$dev" ] || { echo "development packages in the runtime image: $dev"; exit 1; }
    [ "$(id -u)" = 10001 ]' || fail "$tag's runtime contents"
done
[[ -n $(podman image inspect --format '{{.Config.Healthcheck}}' "$SERVER_IMAGE") ]] ||
  fail "the server image has no HEALTHCHECK"

step "3/5 the trainer image, run as k8s/jobs/train runs it, publishes into volume $MODELS_VOLUME"
if podman volume exists "$MODELS_VOLUME"; then
  [[ -n $(podman volume ls -q --filter "name=$MODELS_VOLUME" --filter "label=$OWNER_LABEL") ]] ||
    fail "a volume named $MODELS_VOLUME exists and is not this test's: remove or rename it"
  podman volume rm -f "$MODELS_VOLUME" >/dev/null
fi
podman volume create --label "$OWNER_LABEL" "$MODELS_VOLUME" >/dev/null
mkdir -p "$WORK/data" "$WORK/reports"
podman run --rm --network=none -v "$WORK/data:/data:U" "$TRAINER_IMAGE" \
  gen-data --out /data --scale "$SCALE" --seed 42 | tail -1
kubectl kustomize k8s/jobs/train >"$WORK/job.yaml"
mapfile -t job_args < <("$PY" -c '
import sys, yaml
for doc in yaml.safe_load_all(open(sys.argv[1])):
    if doc and doc["kind"] == "Job":
        print("\n".join(doc["spec"]["template"]["spec"]["containers"][0]["args"]))' "$WORK/job.yaml")
[[ ${#job_args[@]} -gt 0 ]] || fail "no container args in the rendered trainer Job"
train_as_job() {  # the Job's pod: read-only root, /tmp scratch, user 10001, no capabilities
  podman run --rm --network=none --read-only --tmpfs /tmp:size=2g --user 10001:10001 \
    --cap-drop ALL --security-opt no-new-privileges -v "$WORK/data:/data:ro" \
    -v "$MODELS_VOLUME:/models" -v "$WORK/reports:/reports:U" "$TRAINER_IMAGE" "$@" \
    >"$WORK/train.log" 2>&1 || { tail -20 "$WORK/train.log"; fail "the trainer image: $*"; }
  grep -E "^Published" "$WORK/train.log" || tail -2 "$WORK/train.log"
}
train_as_job "${job_args[@]}"                                       # the Job: multiclass
train_as_job "${job_args[@]/multiclass.yaml/binary.yaml}"           # the same, binary config
"$TRAIN" gen-data --out "$WORK/sample" --scale 0.001 --seed 42 --sample-seed 7 >/dev/null
SAMPLE="$WORK/sample/card_class_c_embeddings.h5"

wait_serving() {  # TARGET, SECONDS: until gRPC health says SERVING
  for _ in $(seq 1 $((2 * $2))); do
    "$CLIENT" health --target "$1" --deadline 1 >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  return 1
}
classify_both() {  # TARGET: both models on the sample, one row per protein
  local expected
  expected=$("$PY" -c 'import h5py,sys; print(len(h5py.File(sys.argv[1])))' "$SAMPLE")
  for model in betalactamase-binary betalactamase-class; do
    "$CLIENT" classify --target "$1" --model "$model" --input "$SAMPLE" \
      --output "$WORK/results-$model.csv" >"$WORK/classify.log" 2>&1 ||
      { cat "$WORK/classify.log"; fail "classify $model through $1"; }
    rows=$(($(wc -l <"$WORK/results-$model.csv") - 1))
    [[ $rows -eq $expected ]] || fail "$model: $rows result rows for $expected proteins"
    echo "$model: $rows proteins classified; $(sed -n 2p "$WORK/results-$model.csv" | cut -d, -f1-3)"
  done
}
rest_ready() {  # HOST:PORT of the v2 REST API: ready, and the binary model's metadata
  [[ $(curl -s -o /dev/null -w '%{http_code}' "http://$1/v2/health/ready") == 200 ]] ||
    fail "v2 REST at $1 is not ready"
  curl -sf "http://$1/v2/models/betalactamase-binary" | grep -q '"platform":"pytorch_libtorch"' ||
    fail "v2 REST at $1: no model metadata"
  echo "v2 REST on $1: ready, model metadata served"
}
scrape() {  # HOST:PORT: the OK requests the server counted
  curl -sf "http://$1/metrics" >"$WORK/metrics.txt" || fail "scraping $1/metrics"
  awk '/^arginator_requests_total\{.*code="OK"/ {n += $2} END {print n + 0}' "$WORK/metrics.txt"
}
check_serving() {  # GRPC_TARGET REST_HOST:PORT METRICS_HOST:PORT: v2 REST, both models, /metrics
  rest_ready "$2"
  classify_both "$1"
  local ok
  ok=$(scrape "$3")
  [[ $ok -gt 0 ]] || fail "/metrics at $3 counts no OK request after classifying"
  echo "/metrics: arginator_requests_total{code=\"OK\"} = $ok"
}

step "4/5 the server image on the volume (published ports, default CMD)"
GRPC_PORT=$(free_port)
METRICS_PORT=$(free_port)
REST_PORT=$(free_port)
TARGET=127.0.0.1:$GRPC_PORT
# No systemd here to schedule the HEALTHCHECK: it runs once, by hand, below.
podman run -d --name arginator-ct-server --health-interval disable --read-only --tmpfs /tmp --cap-drop ALL \
  --security-opt no-new-privileges -p "127.0.0.1:$GRPC_PORT:50051" \
  -p "127.0.0.1:$METRICS_PORT:9464" -p "127.0.0.1:$REST_PORT:8000" \
  -v "$MODELS_VOLUME:/models:ro" "$SERVER_IMAGE" >/dev/null
wait_serving "$TARGET" 120 ||
  { podman logs arginator-ct-server 2>&1 | tail -20; fail "the server container never served"; }
podman healthcheck run arginator-ct-server || fail "the image's HEALTHCHECK reports unhealthy"
echo "gRPC health SERVING on $TARGET; the image's HEALTHCHECK passes"
check_serving "$TARGET" "127.0.0.1:$REST_PORT" "127.0.0.1:$METRICS_PORT"
# SIGTERM under load: calls in flight finish, later ones are refused (UNAVAILABLE), and the
# process exits 0 well inside its grace period. gRPC core answers a call that had arrived but
# not yet reached a handler when shutdown began with CANCELLED instead of UNAVAILABLE (open
# upstream: grpc/grpc#41785; docs/operations.md): at most one per call in flight (8 here).
"$LOADGEN" --insecure --target "$TARGET" --model betalactamase-binary -c 8 -z 6s -t 20s \
  -O json >"$WORK/drain-load.json" 2>"$WORK/drain-load.err" &
load_pid=$!
sleep 2
t=$SECONDS
podman stop --time 30 arginator-ct-server >/dev/null
stop_s=$((SECONDS - t))
wait $load_pid || true
code=$(podman inspect --format '{{.State.ExitCode}}' arginator-ct-server)
podman logs arginator-ct-server >"$WORK/server.log" 2>&1
grep -q "received SIGTERM" "$WORK/server.log" || fail "the server never saw SIGTERM (PID 1 signals)"
grep -q "stopped" "$WORK/server.log" || fail "the server did not finish its drain: $(tail -3 "$WORK/server.log")"
[[ $code -eq 0 ]] || fail "the server exited $code after SIGTERM (137: killed after the grace period)"
"$PY" - "$WORK/drain-load.json" <<'EOF' || fail "calls during the drain: $(cat "$WORK/drain-load.err")"
import json, sys
codes = json.load(open(sys.argv[1]))["statusCodeDistribution"]
print("calls during the drain by status:", codes)
cancelled = sum(v for k, v in codes.items() if k.upper() in ("CANCELLED", "CANCELED"))
bad = {k: v for k, v in codes.items() if k.upper() not in ("OK", "UNAVAILABLE", "CANCELLED", "CANCELED")}
sys.exit(1 if bad or not codes.get("OK") or cancelled > 8 else 0)
EOF
echo "SIGTERM: exit 0 after ${stop_s} s; $(grep -c . "$WORK/server.log") log lines, last: $(tail -1 "$WORK/server.log")"
podman rm arginator-ct-server >/dev/null

step "5/5 podman kube play k8s/overlays/cpu"
kubectl kustomize k8s/overlays/cpu >"$WORK/cpu.yaml"
PLAYED="$WORK/cpu-play.yaml"
# What podman plays of the rendered overlay, unchanged: everything but the claim, whose volume
# the trainer filled (podman refuses to create a volume that exists). It ignores the kinds it
# does not know; they are listed. The pod gets an address on podman's bridge, as in a cluster.
"$PY" - "$WORK/cpu.yaml" "$PLAYED" <<'EOF'
import sys, yaml
src, dst = sys.argv[1:]
docs, ignored = [], []
for doc in yaml.safe_load_all(open(src)):
    kind = doc["kind"]
    if kind == "PersistentVolumeClaim" and doc["metadata"]["name"] == "arginator-models":
        continue
    if kind not in ("Deployment", "ConfigMap", "PersistentVolumeClaim", "Secret"):
        ignored.append(kind)
        continue
    docs.append(doc)
yaml.safe_dump_all(docs, open(dst, "w"), sort_keys=False)
print("played:", ", ".join(d["kind"] + "/" + d["metadata"]["name"] for d in docs))
print("not played (no podman equivalent; need a cluster):", ", ".join(ignored))
EOF
podman kube play "$PLAYED" >"$WORK/play.log" 2>&1 || { cat "$WORK/play.log"; fail "podman kube play"; }
container=$(podman ps -a --format '{{.Names}}' | grep -E '^arginator-server-pod-0-server$' || true)
[[ -n "$container" ]] || fail "kube play started no server container: $(cat "$WORK/play.log")"
pod_ip=$(podman inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' \
  "$(podman pod inspect --format '{{.InfraContainerID}}' arginator-server-pod-0)")
[[ -n "$pod_ip" ]] || fail "the played pod has no IP address"
TARGET=$pod_ip:50051
wait_serving "$TARGET" 120 ||
  { podman logs "$container" 2>&1 | tail -20; fail "the played Deployment never served"; }
echo "the played pod serves on $TARGET (gRPC health SERVING)"
check_serving "$TARGET" "$pod_ip:8000" "$pod_ip:9464"
inspect=$(podman inspect --format '{{.Config.User}} {{.HostConfig.ReadonlyRootfs}} {{.RestartCount}}' "$container")
echo "container $container: user, read-only root, restarts = $inspect"
[[ "$inspect" == "10001:10001 true 0" ]] || fail "the played container: user/read-only root/restarts are '$inspect'"
args=$(podman inspect --format '{{join .Config.Cmd " "}}' "$container")
echo "ran: $(podman inspect --format '{{.Config.Entrypoint}}' "$container") $args"
# What `kubectl delete pod` does: SIGTERM, the drain, exit 0 inside terminationGracePeriodSeconds.
podman pod stop --time 30 arginator-server-pod-0 >/dev/null
code=$(podman inspect --format '{{.State.ExitCode}}' "$container")
podman logs "$container" >"$WORK/pod.log" 2>&1
grep -q "stopped" "$WORK/pod.log" && [[ $code -eq 0 ]] ||
  fail "the played pod did not drain and exit 0 (exit $code): $(tail -3 "$WORK/pod.log")"
echo "pod stopped: exit 0, last log line: $(tail -1 "$WORK/pod.log")"
podman kube down "$PLAYED" >/dev/null
PLAYED=""
echo
echo "container-test: passed in $((SECONDS - START)) s (images kept: $SERVER_IMAGE, $TRAINER_IMAGE)"
