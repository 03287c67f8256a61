# TLS reverse proxy in front of Stockade: Debian 12's own nginx (1.22).
# UNTESTED: written on a machine without a Docker engine.
FROM debian:12-slim
RUN apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        nginx openssl ca-certificates \
    && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/* \
    && ln -sf /dev/stdout /var/log/nginx/access.log \
    && ln -sf /dev/stderr /var/log/nginx/error.log
COPY nginx.conf /etc/nginx/nginx.conf
COPY proxy-entrypoint.sh /usr/local/bin/proxy-entrypoint.sh
EXPOSE 80 443
STOPSIGNAL SIGQUIT
ENTRYPOINT ["/usr/local/bin/proxy-entrypoint.sh"]
