#!/usr/bin/env bash
# The main job on built-in defaults, start to end, on a throwaway workspace:
# installs what it needs, builds, creates sample zakpos host data (the
# bind-mounted config folders of the zakpos Docker stack), then runs
# keygen -> backup -> list -> show -> verify -> restore into a new folder,
# proves the restored files identical, shows that a damaged archive is caught,
# and cleans up.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "installing build dependencies (Debian packages)"
"$root/scripts/install-deps.sh"
step "building"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTS=OFF >/dev/null
cmake --build "$root/build" -j"$(nproc)" >/dev/null
zb="$root/build/zakpos-backup"

work=$(mktemp -d /tmp/zakpos-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
host=$work/zakpos
step "creating sample zakpos host data in $host"
mkdir -p "$host/database/init" "$host/redis" "$host/nginx/conf.d" "$host/data/uploads"
cat >"$host/database/init/001_extensions.sql" <<'SQL'
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
CREATE EXTENSION IF NOT EXISTS "pgcrypto";
SQL
cat >"$host/redis/redis.conf" <<'CONF'
appendonly yes
save 60 1000
maxmemory 512mb
CONF
cat >"$host/nginx/conf.d/zakpos.conf" <<'CONF'
server { listen 80; location /api/ { proxy_pass http://zakpos-api:3000; } }
CONF
for i in $(seq 1 200); do head -c 4096 /dev/urandom >"$host/data/uploads/receipt-$i.png"; done
ln -s ../redis/redis.conf "$host/data/redis.conf.link"
find "$host" -type f | wc -l | xargs printf '%s files\n'

step "keygen: a key pair; the backup host keeps only the public half"
"$zb" keygen --out "$work/backup.key"

step "backup: one encrypted archive of the three config folders and the uploads"
archive=$("$zb" --log-format text backup --repo "$work/repo" --recipient "$work/backup.key.pub" \
    --path database-init="$host/database/init" --path redis="$host/redis" \
    --path nginx="$host/nginx" --path uploads="$host/data")
echo "archive: $archive"

step "list: the repository needs no key"
"$zb" list --repo "$work/repo"

step "show: header without a key, contents with it"
"$zb" show "$archive"
"$zb" show --key "$work/backup.key" "$archive"

step "verify: every chunk's tag and every entry's hash"
"$zb" --log-format text verify --key "$work/backup.key" "$archive"

step "restore: the uploads into a new folder"
"$zb" --log-format text restore --key "$work/backup.key" "$archive" --path uploads="$work/restored-uploads"
diff -r --no-dereference "$host/data" "$work/restored-uploads"
echo "restored files are identical to the originals"

step "restore refuses to overwrite a folder that has content"
if "$zb" --log-format text restore --key "$work/backup.key" "$archive" --path uploads="$work/restored-uploads"; then
    echo "unexpected: the restore overwrote a non-empty folder" >&2
    exit 1
fi

step "a damaged archive is caught"
cp "$archive" "$work/damaged.zbk"
printf '\x42' | dd of="$work/damaged.zbk" bs=1 seek=5000 conv=notrunc status=none
if "$zb" --log-format text verify --key "$work/backup.key" "$work/damaged.zbk"; then
    echo "unexpected: damage went unnoticed" >&2
    exit 1
fi

step "done: the workspace $work is removed"
