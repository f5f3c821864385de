# arginator-train: trains and publishes into a model repository (a volume shared with servers).
#   docker build -f dockerfiles/trainer.Dockerfile -t arginator-trainer .
#   docker run -v $PWD/data:/data:ro -v $PWD/models:/models arginator-trainer \
#       fit --config /etc/arginator/train/binary.yaml data.dir=/data output.repository=/models

FROM debian:bookworm-slim AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN bash scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
 && cmake --build /build --target arginator-train -j"$(nproc)"

FROM debian:bookworm-slim AS runtime
COPY scripts/install-deps.sh /tmp/install-deps.sh
RUN bash /tmp/install-deps.sh --runtime && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin arginator \
 && mkdir -p /models /data /reports && chown arginator /models /reports
COPY --from=build /build/bin/arginator-train /usr/local/bin/
COPY configs/train /etc/arginator/train
COPY configs/sweep.yaml /etc/arginator/sweep.yaml
# The project version (CMakeLists.txt), which the Job's image tag also carries (a test checks).
ARG ARGINATOR_VERSION=0.1.0
LABEL org.opencontainers.image.title="arginator-train" \
      org.opencontainers.image.description="trains and publishes beta-lactamase classifiers" \
      org.opencontainers.image.version="${ARGINATOR_VERSION}"
USER 10001
WORKDIR /reports
VOLUME ["/models", "/data", "/reports"]
ENTRYPOINT ["/usr/local/bin/arginator-train"]
CMD ["--help"]
