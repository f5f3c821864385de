#!/usr/bin/env bash
# Builds Arginator against a CUDA LibTorch on a machine that has one but no gRPC and no network
# (docs/gpu.md). Two steps, on two machines:
#
#   scripts/gpu-build.sh fetch [DEPS_DIR]   here (Debian 12 with its mirrors): downloads the Debian
#                                           packages the build needs, with their library
#                                           dependencies, into DEPS_DIR (default .gpu-deps/,
#                                           git-ignored). Carry it to the GPU machine.
#   scripts/gpu-build.sh build [DEPS_DIR]   there: unpacks every package into $PREFIX (default
#                                           /opt/arginator-deps, never /), configures against the
#                                           LibTorch of that machine's python3 torch, builds into
#                                           build-cuda/ and runs the tests labelled `cuda`.
#
# Environment for build: PREFIX, BUILD_DIR (build-cuda), TORCH_PREFIX (default: torch's
# cmake_prefix_path from python3), JOBS (nproc), CTEST_ARGS (-L cuda). Documented in docs/gpu.md.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-}
DEPS=${2:-.gpu-deps}

# What the build uses besides LibTorch, CUDA and a compiler (which the GPU machine has).
PACKAGES=(
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  prometheus-cpp-dev civetweb libcpp-httplib-dev libssl-dev zlib1g-dev libboost-dev
  libhdf5-dev libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libcairo2-dev
  libgtest-dev libgmock-dev openssl
)
# Never unpacked: the GPU machine's own C/C++ runtime is newer than Debian 12's, and mixing
# two glibc or libstdc++ builds on one library path breaks every process.
SKIP='^(libc6|libc6-dev|libc-dev-bin|libstdc\+\+6|libstdc\+\+-12-dev|libgcc-s1|libgcc-12-dev|gcc-12-base|libcrypt1|libcrypt-dev|linux-libc-dev|libgomp1|libatomic1|libquadmath0|libasan8|libtsan2|libubsan1|liblsan0|libitm1|libhwasan0|libcc1-0|debconf|dpkg|perl-base|libselinux1|libpcre2-8-0|libsystemd0|libzstd1|liblzma5|libbz2-1.0|libtinfo6|libudev1|tar|base-files|bash|coreutils)$'

# Neither built against nor loaded by the binaries (fonts, interpreters, documentation): they
# only come in through tool packages' dependencies, and would double the download.
UNNEEDED='^(fonts-.*|fontconfig-config|perl|perl-modules-.*|libperl.*|python3.*|libpython3.*|.*-doc|libglib2\.0-data|libgdk-pixbuf2\.0-common|shared-mime-info|ucf|sensible-utils|readline-common|mime-support|media-types|tzdata|netbase)$'

case "$MODE" in
  fetch)
    mkdir -p "$DEPS"
    mapfile -t closure < <(apt-cache depends --recurse --no-recommends --no-suggests \
      --no-conflicts --no-breaks --no-replaces --no-enhances "${PACKAGES[@]}" |
      grep -E '^[a-z0-9]' | sort -u | grep -Ev "$SKIP" | grep -Ev "$UNNEEDED")
    # Virtual packages have no candidate to download; keep the real ones.
    real=()
    for p in "${closure[@]}"; do
      if apt-cache show "$p" >/dev/null 2>&1; then real+=("$p"); fi
    done
    (cd "$DEPS" && apt-get download -qq "${real[@]}")
    echo "gpu-build: $(ls "$DEPS"/*.deb | wc -l) packages, $(du -sh "$DEPS" | cut -f1) in $DEPS"
    ;;
  build)
    PREFIX=${PREFIX:-/opt/arginator-deps}
    BUILD_DIR=${BUILD_DIR:-build-cuda}
    TORCH_PREFIX=${TORCH_PREFIX:-$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')}
    [[ "$PREFIX" == / ]] && { echo "gpu-build: PREFIX must not be /" >&2; exit 1; }
    mkdir -p "$PREFIX"
    for deb in "$DEPS"/*.deb; do dpkg -x "$deb" "$PREFIX"; done
    LIBDIR="$PREFIX/usr/lib/x86_64-linux-gnu"
    # Debian's CMake configs and .pc files name /usr paths; point them into the prefix.
    grep -rlZ --include='*.cmake' --include='*.pc' -e '/usr/' "$LIBDIR" "$PREFIX/usr/share" 2>/dev/null |
      xargs -0 -r sed -i -E "s#([\"'= ;(])/usr/(lib|include|bin|share)#\1$PREFIX/usr/\2#g"
    # HDF5's compiler wrappers (what CMake's FindHDF5 asks first) carry prefix="/usr".
    for wrapper in "$PREFIX"/usr/bin/h5cc "$PREFIX"/usr/bin/h5c++; do
      if [[ -f "$wrapper" ]]; then sed -i "s#^prefix=\"/usr\"#prefix=\"$PREFIX/usr\"#" "$wrapper"; fi
    done
    export PATH="$PREFIX/usr/bin:$PATH"
    export LD_LIBRARY_PATH="$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export PKG_CONFIG_PATH="$LIBDIR/pkgconfig:$PREFIX/usr/share/pkgconfig"
    export LDFLAGS="-L$LIBDIR -Wl,-rpath-link,$LIBDIR ${LDFLAGS:-}"
    export CXXFLAGS="-isystem $PREFIX/usr/include ${CXXFLAGS:-}"
    GEN=()
    command -v ninja >/dev/null && GEN=(-G Ninja)
    cmake -S . -B "$BUILD_DIR" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$TORCH_PREFIX;$LIBDIR/cmake;$PREFIX/usr" \
      -DProtobuf_PROTOC_EXECUTABLE="$PREFIX/usr/bin/protoc"
    cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}"
    # shellcheck disable=SC2086
    (cd "$BUILD_DIR" && ctest --output-on-failure ${CTEST_ARGS:--L cuda})
    echo "gpu-build: run the binaries with LD_LIBRARY_PATH=$LIBDIR"
    ;;
  *)
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
