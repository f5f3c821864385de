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
USER 10001
VOLUME ["/models"]
EXPOSE 50051 9464
# Kubernetes' `args` replace CMD, not ENTRYPOINT: flags here would be passed twice by a pod that
# sets its own (and the server refuses a repeated flag), so the entrypoint is the binary alone.
ENTRYPOINT ["/usr/local/bin/arginator-server"]
CMD ["--config", "/etc/arginator/server.yaml", "--model-repository", "/models"]
