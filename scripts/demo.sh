#!/usr/bin/env bash
# The main job on built-in defaults, start to end, on a throwaway workspace:
# installs what it needs, builds, starts a throwaway PostgreSQL server (and a
# throwaway Docker engine with a sample zakpos_redis_data volume) with a
# sample zakpos database, creates sample zakpos host data (the bind-mounted
# config folders of the zakpos Docker stack), a Redis-like and a Kafka-like
# volume with a running container using one, then runs keygen -> backup ->
# list -> show -> verify -> verify --restore -> restore (database into a new
# database, volume into a new volume, files into a new folder) -> drill,
# proves the restored data identical, shows that a damaged archive is
# caught, and cleans up (the servers are stopped whatever happens).
set -euo pipefail
# Run as typed: root (a container, CI) runs it directly, where sudo is often
# not installed; anyone else goes through sudo.
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "$0: run this as root (sudo is not installed)" >&2; exit 1; }
    exec sudo bash "$0" "$@"
fi
root=$(cd "$(dirname "$0")/.." && pwd)
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "installing build dependencies (Debian packages)"
"$root/scripts/install-deps.sh"
step "building"
cmake -S "$root" -B "$root/build-demo" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTS=OFF >/dev/null
cmake --build "$root/build-demo" -j"$(nproc)" >/dev/null
zb="$root/build-demo/zakpos-backup"

work=$(mktemp -d /tmp/zakpos-demo.XXXXXX)
chmod 755 "$work"
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
pgdata=$work/pgdata
dockerd_pid=
cleanup() {
    [ -f "$pgdata/postmaster.pid" ] && runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdata" -m immediate stop >/dev/null 2>&1
    if [ -n "$dockerd_pid" ]; then
        curl -sf --unix-socket "$work/d.sock" -X DELETE "http://d/containers/zakpos-redis?force=1" >/dev/null 2>&1 || true
        kill "$dockerd_pid" 2>/dev/null
        wait "$dockerd_pid" 2>/dev/null || true
    fi
    grep -o " $work/[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
step "starting a throwaway PostgreSQL server with a sample zakpos database"
mkdir -p "$work/pgsock" "$pgdata"
chown postgres "$pgdata"
chown postgres "$work/pgsock"
runuser -u postgres -- "$pgbin/initdb" -D "$pgdata" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
port=$(shuf -i 20000-40000 -n 1)
runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w \
    -o "-p $port -k $work/pgsock -c listen_addresses=''" start >/dev/null
psql_() { runuser -u postgres -- "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -h "$work/pgsock" -p "$port" "$@"; }
psql_ -d postgres -c "CREATE ROLE zakpos_user LOGIN CREATEDB" -c "CREATE DATABASE zakpos_db OWNER zakpos_user"
psql_ -d zakpos_db -U zakpos_user <<'SQL'
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE TYPE order_status AS ENUM ('pending', 'paid', 'refunded');
CREATE TABLE shops (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text NOT NULL, currency char(3) NOT NULL DEFAULT 'KZT');
CREATE TABLE products (id serial PRIMARY KEY, shop_id uuid NOT NULL REFERENCES shops, name text NOT NULL,
    price numeric(12, 2) NOT NULL CHECK (price >= 0), attributes jsonb NOT NULL DEFAULT '{}');
CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, shop_id uuid NOT NULL REFERENCES shops,
    status order_status NOT NULL DEFAULT 'pending', total numeric(12, 2) NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE order_items (order_id bigint REFERENCES orders ON DELETE CASCADE, product_id int REFERENCES products,
    quantity int NOT NULL, PRIMARY KEY (order_id, product_id));
CREATE INDEX orders_shop_created ON orders (shop_id, created_at DESC);
CREATE VIEW daily_revenue AS SELECT shop_id, date_trunc('day', created_at) AS day, sum(total) AS revenue
    FROM orders WHERE status = 'paid' GROUP BY 1, 2;
INSERT INTO shops (name) SELECT 'Shop ' || g FROM generate_series(1, 5) g;
INSERT INTO products (shop_id, name, price, attributes)
    SELECT s.id, 'Product ' || g, (g % 500) + 0.99, jsonb_build_object('sku', 'SKU-' || g)
    FROM generate_series(1, 2000) g JOIN LATERAL (SELECT id FROM shops ORDER BY name OFFSET g % 5 LIMIT 1) s ON true;
INSERT INTO orders (shop_id, status, total, created_at)
    SELECT (SELECT id FROM shops ORDER BY name OFFSET g % 5 LIMIT 1), (ARRAY['pending', 'paid', 'paid', 'refunded'])[1 + g % 4]::order_status,
    (g % 1000) * 1.25, now() - g * interval '1 minute' FROM generate_series(1, 50000) g;
INSERT INTO order_items SELECT o.id, 1 + (o.id * 7) % 2000, 1 + o.id % 3 FROM orders o;
SQL
echo "zakpos_db: $(psql_ -d zakpos_db -At -c "SELECT count(*) FROM orders") orders on PostgreSQL $(psql_ -d postgres -At -c "SHOW server_version")"
db="host=$work/pgsock port=$port user=zakpos_user dbname=zakpos_db"

step "starting a throwaway Docker engine with sample zakpos_redis_data and zakpos_kafka_data volumes"
dockerd --storage-driver=vfs --bridge=none --iptables=false --ip6tables=false -H "unix://$work/d.sock" \
    --data-root "$work/docker" --exec-root "$work/docker-exec" --pidfile "$work/docker.pid" >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
for _ in $(seq 1 100); do curl -sf --unix-socket "$work/d.sock" http://d/_ping >/dev/null 2>&1 && break; sleep 0.1; done
export DOCKER_HOST="unix://$work/d.sock" ZAKPOS_BACKUP_STATE_DIR="$work/state"
api() { local m=$1 p=$2; shift 2; curl -sf --unix-socket "$work/d.sock" -X "$m" "$@" "http://d/v1.41$p"; }
api POST /volumes/create -H 'Content-Type: application/json' \
    -d '{"Name":"zakpos_redis_data","Labels":{"com.docker.compose.project":"zakpos"}}' >/dev/null
redis_dir=$(api GET /volumes/zakpos_redis_data | python3 -c 'import json,sys; print(json.load(sys.stdin)["Mountpoint"])')
mkdir -p "$redis_dir/appendonlydir"
head -c 2000000 /dev/urandom >"$redis_dir/dump.rdb"
printf '*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n' >"$redis_dir/appendonlydir/appendonly.aof.1.incr.aof"
chown -R 999:999 "$redis_dir"
echo "volume zakpos_redis_data: $(find "$redis_dir" -type f | wc -l) files"
api POST /volumes/create -H 'Content-Type: application/json' \
    -d '{"Name":"zakpos_kafka_data","Labels":{"com.docker.compose.project":"zakpos"}}' >/dev/null
kafka_dir=$(api GET /volumes/zakpos_kafka_data | python3 -c 'import json,sys; print(json.load(sys.stdin)["Mountpoint"])')
for p in 0 1 2; do
    mkdir -p "$kafka_dir/orders-$p"
    seq 1 20000 | sed "s/^/order-event partition=$p offset=/" >"$kafka_dir/orders-$p/00000000000000000000.log"
    printf 'offsets' >"$kafka_dir/orders-$p/00000000000000000000.index"
done
echo "volume zakpos_kafka_data: $(find "$kafka_dir" -type f | wc -l) files"
# a running "Redis" (busybox, no registry needed) that is paused while its
# volume is read, as its label asks
mkdir -p "$work/bbroot/bin" "$work/bbroot/data"
cp /bin/busybox "$work/bbroot/bin/busybox"
ln -sf busybox "$work/bbroot/bin/sleep"
tar -C "$work/bbroot" -cf "$work/bb.tar" .
api POST "/images/create?fromSrc=-&repo=zakpos-demo-busybox&tag=1" -H 'Content-Type: application/x-tar' --data-binary "@$work/bb.tar" >/dev/null
api POST "/containers/create?name=zakpos-redis" -H 'Content-Type: application/json' -d '{"Image":"zakpos-demo-busybox:1",
    "Cmd":["/bin/sleep","86400"],"Labels":{"zakpos-backup.stop-during-backup":"pause"},
    "HostConfig":{"Mounts":[{"Type":"volume","Source":"zakpos_redis_data","Target":"/data"}]}}' >/dev/null
api POST /containers/zakpos-redis/start >/dev/null
echo "container zakpos-redis: $(api GET /containers/zakpos-redis/json | python3 -c 'import json,sys; print(json.load(sys.stdin)["State"]["Status"])'), using zakpos_redis_data"
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

step "keygen: the keys; the backup host keeps only the public key and the signing key (backup.key.pub, backup.key.sign)"
"$zb" keygen --out "$work/backup.key"

step "backup: one encrypted archive of the database, the two volumes (zakpos-redis paused meanwhile), the three config folders and the uploads"
archive=$("$zb" --log-format text backup --repo "$work/repo" --recipient "$work/backup.key.pub" \
    --pg "$db" --volume zakpos_redis_data --volume zakpos_kafka_data --path database-init="$host/database/init" --path redis="$host/redis" \
    --path nginx="$host/nginx" --path uploads="$host/data")
echo "archive: $archive"

step "list: the repository needs no key"
"$zb" list --repo "$work/repo"

step "show: header without a key, contents with it"
"$zb" show "$archive"
"$zb" show --key "$work/backup.key" "$archive"

step "verify: every chunk's tag and every entry's hash"
"$zb" --log-format text verify --key "$work/backup.key" "$archive"

step "verify --restore: every part restored into scratch targets, read back and compared, then removed"
"$zb" --log-format text verify --restore --key "$work/backup.key" "$archive" --pg-target "$db" --scratch-dir "$work"
"$zb" list --repo "$work/repo"

step "restore: the uploads into a new folder"
"$zb" --log-format text restore --key "$work/backup.key" "$archive" --path uploads="$work/restored-uploads"
diff -r --no-dereference "$host/data" "$work/restored-uploads"
echo "restored files are identical to the originals"

step "restore: the database into a new database, zakpos_db_restored"
"$zb" --log-format text restore --key "$work/backup.key" "$archive" \
    --pg-target "host=$work/pgsock port=$port user=zakpos_user dbname=zakpos_db_restored"
for t in shops products orders order_items; do
    a=$(psql_ -d zakpos_db -At -c "SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM $t t")
    b=$(psql_ -d zakpos_db_restored -At -c "SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM $t t")
    [ "$a" = "$b" ] || { echo "table $t differs after the restore" >&2; exit 1; }
done
echo "every table of the restored database has the same rows as zakpos_db"
psql_ -d zakpos_db_restored -c "SELECT shop_id, day, revenue FROM daily_revenue ORDER BY revenue DESC LIMIT 3"

step "restore: the Redis volume into a new volume, zakpos_redis_data_restored"
"$zb" --log-format text restore --key "$work/backup.key" "$archive" --volume zakpos_redis_data=zakpos_redis_data_restored
restored_dir=$(api GET /volumes/zakpos_redis_data_restored | python3 -c 'import json,sys; print(json.load(sys.stdin)["Mountpoint"])')
diff -r "$redis_dir" "$restored_dir"
[ "$(stat -c %u:%g "$restored_dir/dump.rdb")" = 999:999 ] || { echo "owners differ after the restore" >&2; exit 1; }
echo "the restored volume is identical to the original, owners included"

step "drill: a disaster-recovery rehearsal of the newest archive with a smoke check, reported in Markdown and JSON"
cat >"$work/zakpos-backup.conf" <<CONF
[repository]
path = $work/repo
key_file = $work/backup.key
[postgres]
conninfo = $db
[check paid orders in the last day]
sql = SELECT count(*) > 0 FROM orders WHERE status = 'paid' AND created_at > now() - interval '1 day'
expect = t
CONF
TMPDIR=$work "$zb" --config "$work/zakpos-backup.conf" --log-format text drill latest --report "$work/drill"
cat "$work/drill.md"
[ "$(api GET /containers/zakpos-redis/json | python3 -c 'import json,sys; print(json.load(sys.stdin)["State"]["Status"])')" = running ] ||
    { echo "zakpos-redis is not running after the backup" >&2; exit 1; }
echo "zakpos-redis is running again after the backup"

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

step "an archive nobody trusted wrote is refused: an unencrypted one copied over the real one"
forged=$("$zb" -q backup --repo "$work/forged" --no-encryption --path redis="$host/redis")
cp "$forged" "$work/swapped.zbk"
if "$zb" --log-format text verify --key "$work/backup.key" "$work/swapped.zbk"; then
    echo "unexpected: an unencrypted archive passed for the encrypted one" >&2
    exit 1
fi

step "done: the workspace $work is removed"
