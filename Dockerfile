# Build stage: the Swift toolchain and the -dev packages soapd links.
# The toolchain CI builds and tests with (Swift 6.3 on Debian bookworm).
FROM swift:6.3-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
        libsqlite3-dev zlib1g-dev liblapack-dev libblas-dev libopenblas0-pthread \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --product soapd --static-swift-stdlib \
    && cp .build/release/soapd /usr/local/bin/soapd

# Runtime stage: only the shared libraries soapd needs.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
        libsqlite3-0 zlib1g liblapack3 libblas3 libopenblas0-pthread libgcc-s1 libstdc++6 curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data soapd \
    && mkdir -p /data && chown soapd /data
COPY --from=build /usr/local/bin/soapd /usr/local/bin/soapd
COPY Config /etc/soapd
USER soapd
VOLUME ["/data"]
EXPOSE 8080
ENV SOAPD_DATA_DIR=/data
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/health || exit 1
ENTRYPOINT ["soapd", "serve", "--config", "/etc/soapd/soapd.json", "--host", "0.0.0.0", "--port", "8080"]
