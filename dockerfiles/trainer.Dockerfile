# arginator-train: trains and publishes into a model repository (a volume shared with servers).
#   docker build -f dockerfiles/trainer.Dockerfile -t arginator-trainer .
#   docker run -v $PWD/data:/data:ro -v $PWD/models:/models arginator-trainer \
#       fit --config /etc/arginator/train/binary.yaml data.dir=/data output.repository=/models

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
RUN mkdir -p /models /data /reports && chown arginator /models /reports
COPY --from=build /src/build/bin/arginator-train /usr/local/bin/
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
