#!/usr/bin/env bash
# Installs the Debian packages that building, testing and the demo need.
# Idempotent; does nothing when ZB_SKIP_INSTALL=1 or everything is present.
# The packaging tests use docker-compose (Compose v1, the one Debian 12 has)
# with PyYAML to read its output, and man-db and groff to render the manual
# page; systemd-analyze comes with systemd where the machine runs it.
set -euo pipefail
[ "${ZB_SKIP_INSTALL:-0}" = 1 ] && exit 0

packages=(
    build-essential cmake pkg-config clang
    libarchive-dev libzstd-dev libsodium-dev libcurl4-openssl-dev libpq-dev libjansson-dev libinih-dev libssl-dev
    libcmocka-dev
    postgresql postgresql-contrib
    docker.io busybox-static
    zstd curl ca-certificates procps time util-linux tzdata python3
    docker-compose python3-yaml man-db
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages (${missing[*]}); run as root or install them" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
