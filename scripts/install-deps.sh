#!/usr/bin/env bash
# Installs the Debian packages that building, testing and the demo need.
# Idempotent; does nothing when ZB_SKIP_INSTALL=1 or everything is present.
# The packaging tests render the manual page with man-db and groff.
set -euo pipefail
[ "${ZB_SKIP_INSTALL:-0}" = 1 ] && exit 0

packages=(
    build-essential cmake pkg-config clang
    libarchive-dev libzstd-dev libsodium-dev libcurl4-openssl-dev libpq-dev libjansson-dev libinih-dev libssl-dev
    libcmocka-dev
    postgresql postgresql-contrib
    docker.io busybox-static
    zstd curl ca-certificates procps time util-linux tzdata python3
    man-db
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
