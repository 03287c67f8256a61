#!/usr/bin/env bash
# Installs the Debian packages Stockade needs, only when something is missing.
# usage: scripts/deps.sh run|test
set -eu
mode=${1:-run}
pkgs="build-essential cmake pkg-config libcivetweb-dev libsqlite3-dev libjansson-dev
      libmbedtls-dev libsodium-dev libgraphviz-dev graphviz sqlite3 ca-certificates curl"
if [ "$mode" = test ]; then
    # openssl: tests/fixtures/fake-k8s makes its certificates per run.
    pkgs="$pkgs libcmocka-dev chromium wrk openssl"
    # Node may come from Debian or from another channel (its own npm then
    # conflicts with Debian's npm package): ask for Debian's only when absent.
    command -v node >/dev/null 2>&1 || pkgs="$pkgs nodejs"
    command -v npm >/dev/null 2>&1 || pkgs="$pkgs npm"
fi
missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "deps: missing Debian packages:$missing (run as root, or install them)" >&2
        exit 1
    fi
    echo "deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
fi
