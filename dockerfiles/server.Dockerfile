# arginator-server: build with Debian's toolchain, run on bookworm-slim with runtime libraries only.
#   docker build -f dockerfiles/server.Dockerfile -t arginator-server .
#   docker run -p 50051:50051 -p 9464:9464 -v $PWD/models:/models arginator-server

FROM debian:bookworm-slim AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN bash scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
 && cmake --build /build --target arginator-server arginator-client -j"$(nproc)"

FROM debian:bookworm-slim AS runtime
COPY scripts/install-deps.sh /tmp/install-deps.sh
RUN bash /tmp/install-deps.sh --runtime && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin arginator \
 && mkdir -p /models /etc/arginator && chown arginator /models
COPY --from=build /build/bin/arginator-server /build/bin/arginator-client /usr/local/bin/
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
EXPOSE 50051 9464
# Kubernetes' `args` replace CMD, not ENTRYPOINT: flags here would be passed twice by a pod that
# sets its own (and the server refuses a repeated flag), so the entrypoint is the binary alone.
ENTRYPOINT ["/usr/local/bin/arginator-server"]
CMD ["--config", "/etc/arginator/server.yaml", "--model-repository", "/models"]
