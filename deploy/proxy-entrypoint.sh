#!/bin/sh
# Starts nginx with the certificate in /etc/stockade-tls (tls.crt, tls.key).
# Mount your own there (deploy/certs/ in docker-compose.yml); without one, a
# self-signed certificate for $TLS_HOSTNAME (default localhost) is made once,
# so a first `docker compose up` works; browsers will warn about it.
set -eu
dir=/etc/stockade-tls
host=${TLS_HOSTNAME:-localhost}
if [ ! -s "$dir/tls.crt" ] || [ ! -s "$dir/tls.key" ]; then
    echo "proxy: no certificate in $dir: making a self-signed one for $host" >&2
    mkdir -p "$dir"
    umask 077
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$dir/tls.key" -out "$dir/tls.crt" -days 365 \
        -subj "/CN=$host" -addext "subjectAltName=DNS:$host,IP:127.0.0.1"
fi
nginx -t -q
exec nginx -g 'daemon off;'
