# Stockade server image: Debian 12, built with the same CMake as `make run`.
# UNTESTED: written on a machine without a Docker engine.
#
#   docker compose up -d        (see docker-compose.yml: TLS proxy in front)
#   docker build -t stockade .  (this image alone)

# --- build --------------------------------------------------------------
FROM debian:12-slim AS build
WORKDIR /src
# One list of build packages for every way of building: scripts/deps.sh.
COPY scripts/deps.sh scripts/deps.sh
RUN scripts/deps.sh run && rm -rf /var/lib/apt/lists/*
COPY CMakeLists.txt ./
COPY cmake cmake
COPY common common
COPY server server
COPY agent agent
COPY migrations migrations
COPY bench bench
RUN cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
    && cmake --build build/release -j"$(nproc)" --target stockade stockade-agent

# --- run ----------------------------------------------------------------
FROM debian:12-slim
# Runtime libraries only (the -dev packages' counterparts): mbedTLS for the
# agent gateway and the agent, Graphviz for the incident graphs.
RUN apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        libcivetweb1 libsqlite3-0 libjansson4 libsodium23 \
        libmbedtls14 libmbedx509-1 libmbedcrypto7 libgvc6 libcgraph6 \
        ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin stockade \
    && install -d -o stockade -g stockade -m 0700 /data

COPY --from=build /src/build/release/stockade /src/build/release/stockade-agent /usr/local/bin/
# The binary was compiled with /src as its assets dir; point it here instead.
COPY templates /usr/share/stockade/templates
COPY static /usr/share/stockade/static
COPY web /usr/share/stockade/web
ENV STOCKADE_ASSETS_DIR=/usr/share/stockade

USER stockade
VOLUME /data
EXPOSE 8080
# 8443 will be the agent listener (TLS terminated by stockade itself) once
# `--agent-listen` exists.
EXPOSE 8443
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8080/healthz || exit 1
# SIGTERM: stockade finishes in-flight requests and checkpoints the WAL.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/stockade"]
CMD ["serve", "--listen", "0.0.0.0:8080", "--db", "/data/stockade.db", "--data-dir", "/data"]
