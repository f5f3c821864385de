#!/usr/bin/env bash
# Installs every Debian 12 package Arginator builds, tests or runs with.
# Idempotent: prints nothing and touches nothing when all packages are present.
# Usage: scripts/install-deps.sh [--runtime | --image-build | --fuzz | --containers]
#   --runtime: only what the binaries need to run (the images' runtime stage);
#   --image-build: only what compiling the binaries needs (the images' build stage: no test tools);
#   --fuzz: the build packages plus the clang-15 toolchain (`make fuzz`, docs/fuzzing.md; `make
#     test-tsan`; `make tidy`);
#   --containers: the build packages plus podman and what it needs here (`make container-test`).
set -euo pipefail

# What configuring and compiling needs: the images' build stage installs only these.
COMPILE_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev                       # LibTorch 1.13 (TorchScript, training, export)
  libopenblas-dev                    # fast BLAS for libtorch (docs/benchmarks.md)
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev                        # absl::Status / StatusOr, flags-free helpers
  prometheus-cpp-dev libssl-dev zlib1g-dev
  libboost-dev                       # Boost.Beast + Asio: the server's HTTP edge (server/http/)
  libcpp-httplib-dev                 # the tests' HTTP client
  libhdf5-dev                        # the seed project's embedding files
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev
  libcairo2-dev                      # PNG report charts
  libfaiss-dev                       # exact similarity search: the trainer's similarity split
  libgtest-dev libgmock-dev          # CMake configures the tests too
)

BUILD_PACKAGES=(
  "${COMPILE_PACKAGES[@]}"
  git curl bsdextrautils             # curl, column: demo
  libopenblas0-pthread               # the threaded OpenBLAS libtorch should select at run time
  libasan8 libubsan1 liblsan0 libtsan2  # GCC 12's sanitizer runtimes: make test-asan, test-tsan
  libbenchmark-dev
  python3 python3-torch python3-numpy python3-h5py  # tests: Python loads our TorchScript export
  python3-yaml                       # scripts/sync-prometheusrule.sh; the REST schema test
  python3-jsonschema                 # tests/integration/rest_schema_test.py (v2 REST vs the spec)
  python3-grpcio                     # the Python client (client/python) and its tests
  prometheus                         # tests: promtool checks the /metrics text
  openssl                            # tests: throwaway certificates for the TLS tests
  kubectl                            # tests: kustomize renders the manifests
  nghttp2-client                     # bench: h2load, the light reference client (docs/benchmarks.md)
  chromium                           # tests: the HTML model card opened in a real browser
  python3-faiss                      # bench: bench/reference_recall.py (HNSW against exact search)
  haproxy                            # make cluster-test: the balancer in front of 3 replicas
)

# What the binaries link (objdump NEEDED, mapped with dpkg -S) plus OpenBLAS, which LibTorch uses
# through libblas.so.3 (Debian's LibTorch calls BLAS there; docs/benchmarks.md). For the
# containers' runtime stage.
RUNTIME_PACKAGES=(
  libtorch1.13 libopenblas0-pthread libgrpc++1.51 libgrpc29 libprotobuf32 libabsl20220623
  libprometheus-cpp-core1.0 libhdf5-103-1 libyaml-cpp0.7 libcairo2 libssl3
  libgomp1                           # OpenMP of FAISS (the trainer's similarity split)
  ca-certificates
)

# The fuzz targets and the TSan build (make test-tsan) build with clang and link libFuzzer; llvm-15
# brings the llvm-symbolizer that turns sanitizer reports into file:line stacks; clang-tidy-15 is
# for `make tidy` (.clang-tidy); libomp-15-dev is clang's OpenMP, which FAISS's CMake config asks
# for (GCC brings its own libgomp; without it every clang build stops at configure).
FUZZ_PACKAGES=(clang-15 libfuzzer-15-dev llvm-15 clang-tidy-15 libomp-15-dev)

# make container-test (scripts/container-test.sh): rootful podman with the runc runtime (crun
# fails on this kernel's hybrid cgroups), catatonit for the pods' pause image that `podman kube
# play` builds locally, debootstrap for the base image when no registry is reachable.
CONTAINER_PACKAGES=(podman runc catatonit containernetworking-plugins iptables debootstrap)

packages=("${BUILD_PACKAGES[@]}")
if [[ "${1:-}" == "--runtime" ]]; then packages=("${RUNTIME_PACKAGES[@]}"); fi
if [[ "${1:-}" == "--image-build" ]]; then packages=("${COMPILE_PACKAGES[@]}"); fi
if [[ "${1:-}" == "--fuzz" ]]; then packages+=("${FUZZ_PACKAGES[@]}"); fi
if [[ "${1:-}" == "--containers" ]]; then packages+=("${CONTAINER_PACKAGES[@]}"); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if ! apt-cache show kubectl >/dev/null 2>&1; then
  # kubectl is not in every Debian mirror; tests that need it skip when it is absent.
  missing=("${missing[@]/kubectl}")
fi

echo "install-deps: installing ${#missing[@]} missing package(s): ${missing[*]}"
SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2068
$SUDO apt-get install -y -qq --no-install-recommends ${missing[@]} >/dev/null
echo "install-deps: done"
