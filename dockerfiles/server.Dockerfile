# arginator-server: build with Debian's toolchain, run on bookworm-slim with runtime libraries only.
#   docker build -f dockerfiles/server.Dockerfile -t arginator-server .
#   docker run -p 50051:50051 -p 8000:8000 -p 9464:9464 -v $PWD/models:/models arginator-server

FROM debian:bookworm-slim AS build
# The build stage is the same in server.Dockerfile and trainer.Dockerfile (a test keeps them
# identical), so a builder's layer cache compiles once for both images. Dependencies come before
# the sources, so editing code reuses the package layer.
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN bash scripts/install-deps.sh --image-build && rm -rf /var/lib/apt/lists/*
COPY . .
# ccache keeps objects between builds in a cache mount; CCACHE_DIR may name a directory the
# builder mounts instead (scripts/container-test.sh mounts the host's, whose objects `make` built
# with the same compiler and the same paths relative to the checkout).
ARG CCACHE_DIR=/root/.cache/ccache
ENV CCACHE_BASEDIR=/src
# ccache hashes the locale too; container-test.sh passes the host's (unset stays unset).
ARG LANG
ARG LC_ALL
RUN --mount=type=cache,target=/root/.cache/ccache,id=arginator-ccache \
    cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
 && cmake --build build -j"$(nproc)" --target arginator-server arginator-client arginator-train

FROM debian:bookworm-slim AS runtime
# The runtime libraries and the user: the same two layers in both images, so they are shared.
COPY scripts/install-deps.sh /tmp/install-deps.sh
RUN bash /tmp/install-deps.sh --runtime && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin arginator
RUN mkdir -p /models /etc/arginator && chown arginator /models
COPY --from=build /src/build/bin/arginator-server /src/build/bin/arginator-client /usr/local/bin/
COPY configs/server.yaml /etc/arginator/server.yaml
# The project version (CMakeLists.txt), which the overlays' image tags also carry (a test checks).
ARG ARGINATOR_VERSION=0.1.0
LABEL org.opencontainers.image.title="arginator-server" \
      org.opencontainers.image.description="gRPC server for beta-lactamase classifiers on ProtT5 embeddings" \
      org.opencontainers.image.version="${ARGINATOR_VERSION}"
# For docker, and podman with --format docker (Kubernetes uses its own gRPC probes): SERVING
# once every model has a ready version.
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
  CMD ["/usr/local/bin/arginator-client", "health", "--target", "127.0.0.1:50051", "--deadline", "4"]
USER 10001
VOLUME ["/models"]
EXPOSE 50051 8000 9464
# Kubernetes' `args` replace CMD, not ENTRYPOINT: flags here would be passed twice by a pod that
# sets its own (and the server refuses a repeated flag), so the entrypoint is the binary alone.
ENTRYPOINT ["/usr/local/bin/arginator-server"]
CMD ["--config", "/etc/arginator/server.yaml", "--model-repository", "/models"]
