# Release image (`fly deploy`, or `docker build -t voxedge .`): the server, the portal, ONNX Runtime, espeak-ng,
# Litestream and the voice models, started by deploy/entrypoint.sh (Litestream replication when configured).
# Every outside file comes from a package registry (Debian, crates.io, npm, PyPI) through the project's own scripts.

# --- The server. whisper.cpp is built without -march=native (GGML_NATIVE=OFF, which whisper-rs-sys passes to CMake)
# so the binary runs on whatever CPU the machine has.
FROM rust:1.95-bookworm AS server
RUN apt-get update && apt-get install -y --no-install-recommends cmake clang libclang-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The whole tree (less what .dockerignore leaves out): Cargo's manifest names benches and examples, and tests read
# README.md.
COPY . .
ENV GGML_NATIVE=OFF
RUN cargo build --release --locked --bin voxedge && cp target/release/voxedge /usr/local/bin/voxedge

# --- The portal (ui/ -> ui/dist).
FROM node:20-bookworm-slim AS portal
WORKDIR /src
COPY scripts/build-ui scripts/build-ui
COPY ui ui
RUN scripts/build-ui --force

# --- ONNX Runtime, Litestream and the voice models, from PyPI. FETCH_MODELS_ARGS adds model sets, e.g.
# `--build-arg FETCH_MODELS_ARGS=--extra` (scripts/fetch-models --help).
FROM debian:bookworm-slim AS assets
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY scripts/fetch-voice-runtime scripts/fetch-litestream scripts/fetch-models scripts/
COPY scripts/models scripts/models
ARG FETCH_MODELS_ARGS=""
RUN scripts/fetch-voice-runtime /opt/voxedge/onnxruntime \
    && scripts/fetch-litestream /opt/voxedge/bin \
    && scripts/fetch-models $FETCH_MODELS_ARGS /opt/voxedge/models \
    && rm -rf /root/.cache

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates espeak-ng \
    && rm -rf /var/lib/apt/lists/*
COPY --from=assets /opt/voxedge /opt/voxedge
COPY --from=portal /src/ui/dist /opt/voxedge/ui
COPY --from=server /usr/local/bin/voxedge /usr/local/bin/voxedge
COPY deploy/entrypoint.sh deploy/litestream-config /opt/voxedge/deploy/
ENV PATH=/opt/voxedge/bin:$PATH \
    VOXEDGE_LISTEN=0.0.0.0:8080 \
    VOXEDGE_DATA_DIR=/data \
    VOXEDGE_UI_DIR=/opt/voxedge/ui \
    VOXEDGE_MODELS_DIR=/opt/voxedge/models \
    VOXEDGE_ORT_DYLIB=/opt/voxedge/onnxruntime/libonnxruntime.so
EXPOSE 8080
ENTRYPOINT ["/opt/voxedge/deploy/entrypoint.sh"]
CMD ["serve"]
