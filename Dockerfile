# Release image for Fly.io (`fly deploy`). whisper.cpp is built without -march=native (GGML_NATIVE=OFF)
# so the binary runs on whatever CPU the machine has.
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends cmake clang libclang-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ENV GGML_NATIVE=OFF
RUN cargo build --release --locked && cp target/release/voxedge /usr/local/bin/voxedge

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates espeak-ng \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/voxedge /usr/local/bin/voxedge
ENV VOXEDGE_LISTEN=0.0.0.0:8080 VOXEDGE_DATA_DIR=/data
EXPOSE 8080
ENTRYPOINT ["voxedge"]
CMD ["serve"]
