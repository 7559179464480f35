#!/usr/bin/env bash
# PostgreSQL backup and restore against pg_dump / pg_restore, in one run, on
# a generated POS-like database: by default ("wide") more than 1 GiB of
# uuids, timestamps, numerics, text and jsonb; with BENCH_PG_DATASET=narrow
# about 650 MB of narrow rows (integer keys, numerics, timestamps: more rows
# per MB) with 3 to 4 indexes and 1 to 2 foreign keys per large table.
# Prints wall times, peak RSS, archive sizes and the ratios the project
# targets:
#   backup  <= 0.5x pg_dump -Fd -j2 and <= 0.8x pg_dump -Fc, archive <= -Fc's
#   restore <= 0.6x pg_restore -j2 (of the -Fd dump), or within 1.1x of the
#           floor (BENCH_PG_PARTS=floor) where that is more
#   peak RSS <= 48 MiB for backup and restore
#
#   bench/pg/bench.sh [WORKDIR]   (default /var/tmp/zb-bench-pg; the cluster
#                                  and dataset are kept there for reruns)
#   BENCH_PG_PARTS="restore" BENCH_REPEAT=5 bench/pg/bench.sh
#                                 only the restores (of the dumps and archive
#                                 an earlier full run left), more rounds
#   BENCH_PG_DATASET=narrow BENCH_PG_PARTS=floor bench/pg/bench.sh
#                                 the server's own work on the dataset, each
#                                 kind alone (bench/pg/floor.sh)
#   ZB_BIN_OLD=/path/to/old/zakpos-backup bench/pg/bench.sh
#                                 another build's backup and restore in the
#                                 same rounds (a change's before and after);
#                                 with BENCH_PG_RIVALS=0 only those two
#   BENCH_PG_PARTS=profile bench/pg/bench.sh
#                                 one restore, the server's time and CPU per
#                                 statement kind (bench/pg/profile.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/bench/lib.sh"
work=${1:-/var/tmp/zb-bench-pg}
bin=${ZB_BIN:-$root/build/zakpos-backup}
jobs=${BENCH_JOBS:-2}
mkdir -p "$work"
chmod 755 "$work"
BENCH_RESULTS=$work/results.txt
: >"$BENCH_RESULTS"

pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
data=$work/cluster
sock=$work/sock
port=${BENCH_PG_PORT:-25432}
as_pg() { runuser -u postgres -- "$@"; }
psql_() { as_pg "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" "$@"; }
if [ ! -d "$data" ]; then
    mkdir -p "$sock"
    chown postgres "$work" "$sock"
    as_pg "$pgbin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
fi
chown postgres "$sock"
# The same server settings for every tool; shared_buffers small so reads
# come from the (dropped) page cache, as on a host where the data is cold.
as_pg "$pgbin/pg_ctl" -D "$data" -l "$work/pg.log" -w -o "-p $port -k $sock -c listen_addresses='' \
    -c max_wal_size=4GB -c maintenance_work_mem=256MB -c shared_buffers=128MB" start >/dev/null
trap 'as_pg "$pgbin/pg_ctl" -D "$data" -m fast stop >/dev/null 2>&1 || true' EXIT
conninfo() { echo "host=$sock port=$port user=postgres dbname=$1"; }

dataset=${BENCH_PG_DATASET:-wide}
case $dataset in
wide) db=pos tag= ;;
narrow) db=pos_narrow tag=-narrow ;;
*) echo "BENCH_PG_DATASET: wide or narrow, not $dataset" >&2; exit 2 ;;
esac

if [ "$dataset" = wide ] && [ "$(psql_ -d postgres -At -c "SELECT count(*) FROM pg_database WHERE datname = 'pos'")" = 0 ]; then
    echo "generating the POS dataset (a few minutes) ..."
    psql_ -d postgres -c "DROP DATABASE IF EXISTS pos_loading" -c "CREATE DATABASE pos_loading"
    psql_ -d pos_loading <<'SQL'
CREATE TYPE order_status AS ENUM ('new', 'paid', 'refunded', 'cancelled');
CREATE TABLE stores (id int PRIMARY KEY, name text NOT NULL, city text, opened date);
CREATE TABLE customers (id uuid PRIMARY KEY, name text NOT NULL, email text, phone text,
    loyalty_points numeric(10, 2) NOT NULL DEFAULT 0, created_at timestamptz NOT NULL);
CREATE TABLE products (id uuid PRIMARY KEY, sku text UNIQUE NOT NULL, name text NOT NULL,
    price numeric(12, 2) NOT NULL, attributes jsonb);
CREATE TABLE orders (id uuid PRIMARY KEY, store_id int NOT NULL REFERENCES stores, customer_id uuid REFERENCES customers,
    status order_status NOT NULL, total numeric(12, 2) NOT NULL, tax numeric(12, 2) NOT NULL,
    created_at timestamptz NOT NULL, note text, meta jsonb);
CREATE TABLE order_items (order_id uuid NOT NULL REFERENCES orders, line int NOT NULL, product_id uuid NOT NULL REFERENCES products,
    quantity int NOT NULL, unit_price numeric(12, 2) NOT NULL, discount numeric(5, 2) NOT NULL DEFAULT 0,
    PRIMARY KEY (order_id, line));
CREATE TABLE payments (id bigserial PRIMARY KEY, order_id uuid NOT NULL REFERENCES orders, method text NOT NULL,
    amount numeric(12, 2) NOT NULL, paid_at timestamptz NOT NULL, reference text);
INSERT INTO stores SELECT g, 'Store ' || g, (ARRAY['Almaty', 'Astana', 'Shymkent', 'Aktobe'])[1 + g % 4], '2020-01-01'::date + g
    FROM generate_series(1, 50) g;
INSERT INTO customers SELECT md5('c' || g)::uuid, 'Customer ' || g, 'customer' || g || '@example.com',
    '+7 701 ' || lpad((g::bigint * 7919 % 10000000)::text, 7, '0'), (g % 5000) / 10.0,
    '2022-01-01'::timestamptz + (g * interval '7 minutes') FROM generate_series(1, 300000) g;
INSERT INTO products SELECT md5('p' || g)::uuid, 'SKU-' || lpad(g::text, 6, '0'), 'Product ' || g || ' ' || md5(g::text),
    (g % 20000) / 7.0 + 0.99, jsonb_build_object('color', (ARRAY['red', 'green', 'blue', 'black'])[1 + g % 4],
    'weight_g', g % 2000, 'tags', jsonb_build_array('t' || g % 13, 't' || g % 17)) FROM generate_series(1, 20000) g;
INSERT INTO orders SELECT md5('o' || g)::uuid, 1 + g % 50, CASE WHEN g % 5 = 0 THEN NULL ELSE md5('c' || (1 + g % 300000))::uuid END,
    (ARRAY['new', 'paid', 'paid', 'paid', 'refunded', 'cancelled'])[1 + g % 6]::order_status,
    (g % 100000) / 3.0, (g % 100000) / 25.0, '2023-01-01'::timestamptz + (g * interval '13 seconds'),
    CASE WHEN g % 3 = 0 THEN 'customer asked for a receipt by e-mail' END,
    jsonb_build_object('terminal', 'T' || (g % 200), 'cashier', g % 97, 'offline', g % 11 = 0)
    FROM generate_series(1, 2500000) g;
INSERT INTO order_items SELECT md5('o' || (1 + (g - 1) / 3))::uuid, 1 + (g - 1) % 3, md5('p' || (1 + g % 20000))::uuid,
    1 + g % 4, (g % 20000) / 7.0 + 0.99, (g % 10) * 1.5 FROM generate_series(1, 7500000) g;
INSERT INTO payments (order_id, method, amount, paid_at, reference)
    SELECT md5('o' || g)::uuid, (ARRAY['cash', 'card', 'kaspi_qr'])[1 + g % 3], (g % 100000) / 3.0,
    '2023-01-01'::timestamptz + (g * interval '13 seconds') + interval '40 seconds', 'ref-' || md5('r' || g)
    FROM generate_series(1, 2500000) g;
CREATE INDEX orders_created ON orders (created_at);
CREATE INDEX orders_customer ON orders (customer_id);
CREATE INDEX order_items_product ON order_items (product_id);
CREATE INDEX payments_order ON payments (order_id);
VACUUM ANALYZE;
SQL
    psql_ -d postgres -c "ALTER DATABASE pos_loading RENAME TO pos"
fi
# Shop tills' records: many short rows (integer keys, small numerics,
# timestamps) and several indexes and foreign keys per table, so the server's
# work per MB (parsing, index builds, key checks) is higher than above.
if [ "$dataset" = narrow ] && [ "$(psql_ -d postgres -At -c "SELECT count(*) FROM pg_database WHERE datname = 'pos_narrow'")" = 0 ]; then
    echo "generating the narrow POS dataset (a few minutes) ..."
    psql_ -d postgres -c "DROP DATABASE IF EXISTS pos_narrow_loading" -c "CREATE DATABASE pos_narrow_loading"
    psql_ -d pos_narrow_loading <<'SQL'
CREATE TABLE stores (id int PRIMARY KEY, name text NOT NULL, region smallint NOT NULL);
CREATE TABLE products (id int PRIMARY KEY, sku int UNIQUE NOT NULL, price numeric(10, 2) NOT NULL, category smallint NOT NULL);
CREATE TABLE customers (id int PRIMARY KEY, card bigint UNIQUE NOT NULL, points int NOT NULL DEFAULT 0);
CREATE TABLE sales (id bigint PRIMARY KEY, store_id int NOT NULL REFERENCES stores, terminal smallint NOT NULL,
    cashier int NOT NULL, customer_id int REFERENCES customers, sold_at timestamptz NOT NULL, total numeric(10, 2) NOT NULL,
    status smallint NOT NULL);
CREATE TABLE sale_items (sale_id bigint NOT NULL REFERENCES sales, line smallint NOT NULL,
    product_id int NOT NULL REFERENCES products, quantity int NOT NULL, price numeric(10, 2) NOT NULL,
    discount numeric(5, 2) NOT NULL DEFAULT 0, PRIMARY KEY (sale_id, line));
CREATE TABLE payments (id bigint PRIMARY KEY, sale_id bigint NOT NULL REFERENCES sales, method smallint NOT NULL,
    amount numeric(10, 2) NOT NULL, paid_at timestamptz NOT NULL);
CREATE TABLE stock_moves (id bigint PRIMARY KEY, product_id int NOT NULL REFERENCES products,
    store_id int NOT NULL REFERENCES stores, quantity int NOT NULL, moved_at timestamptz NOT NULL, sale_id bigint, kind smallint NOT NULL);
INSERT INTO stores SELECT g, 'Store ' || g, g % 14 FROM generate_series(1, 200) g;
INSERT INTO products SELECT g, 1000000 + g * 7, (g % 20000) / 7.0 + 0.99, g % 60 FROM generate_series(1, 50000) g;
INSERT INTO customers SELECT g, 4000000000000 + g::bigint * 7919, g % 5000 FROM generate_series(1, 200000) g;
INSERT INTO sales SELECT g, 1 + g % 200, g % 8, 1 + g % 900, CASE WHEN g % 3 = 0 THEN 1 + g % 200000 END,
    '2024-01-01'::timestamptz + g * interval '11 seconds', (g % 100000) / 3.0, (g % 17 = 0)::int
    FROM generate_series(1, 1500000) g;
INSERT INTO sale_items SELECT 1 + (g - 1) / 3, 1 + (g - 1) % 3, 1 + (g * 7) % 50000, 1 + g % 4, (g % 20000) / 7.0 + 0.99,
    (g % 10) * 1.5 FROM generate_series(1, 4500000) g;
INSERT INTO payments SELECT g, 1 + (g * 3) % 1500000, g % 4, (g % 100000) / 3.0,
    '2024-01-01'::timestamptz + g * interval '11 seconds' + interval '30 seconds' FROM generate_series(1, 1500000) g;
INSERT INTO stock_moves SELECT g, 1 + (g * 13) % 50000, 1 + g % 200, CASE WHEN g % 5 = 0 THEN 20 ELSE -1 - g % 3 END,
    '2024-01-01'::timestamptz + g * interval '7 seconds', CASE WHEN g % 5 <> 0 THEN 1 + g % 1500000 END, g % 5
    FROM generate_series(1, 2500000) g;
CREATE INDEX sales_store_sold ON sales (store_id, sold_at);
CREATE INDEX sales_customer ON sales (customer_id);
CREATE INDEX sales_sold ON sales (sold_at);
CREATE INDEX sale_items_product ON sale_items (product_id);
CREATE INDEX sale_items_product_sale ON sale_items (product_id, sale_id);
CREATE INDEX payments_sale ON payments (sale_id);
CREATE INDEX payments_paid ON payments (paid_at);
CREATE INDEX payments_method_paid ON payments (method, paid_at);
CREATE INDEX stock_moves_product_moved ON stock_moves (product_id, moved_at);
CREATE INDEX stock_moves_store_moved ON stock_moves (store_id, moved_at);
CREATE INDEX stock_moves_sale ON stock_moves (sale_id);
VACUUM ANALYZE;
SQL
    psql_ -d postgres -c "ALTER DATABASE pos_narrow_loading RENAME TO pos_narrow"
fi
echo "database $db: $(psql_ -d "$db" -At -c "SELECT pg_size_pretty(pg_database_size('$db')) || ' on disk, ' || \
    pg_size_pretty(sum(pg_relation_size(c.oid))) || ' of table data' FROM pg_class c WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace")"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

"$bin" keygen --out "$work/key" >/dev/null 2>&1 || true
chown -R postgres "$work/key" "$work/key.pub" 2>/dev/null || true
dumps=$work/dumps$tag repo=$work/repo$tag
mkdir -p "$dumps" && chown postgres "$dumps"

parts=${BENCH_PG_PARTS:-backup restore}
if [[ " $parts " == *" floor "* ]]; then
    . "$root/bench/pg/floor.sh"
    bench_pg_floor "$db"
fi
# ZB_BIN_OLD=PATH adds another build's backup and restore to the same
# rounds (before/after figures of a change, side by side).
old_bin=${ZB_BIN_OLD:-}
# the backup's own log (-v) is kept in $work/backup.log: its "catalog
# fingerprint: ... read in S s" lines give the fingerprint's share
zb_backup_cmd() {
    echo "'$1' -v --log-format json backup --repo '$2' --recipient '$work/key.pub' --pg '$(conninfo "$db")' --jobs '$jobs' 2>>'$work/backup.log'"
}
if [[ " $parts " == *" backup "* ]]; then
    : >"$work/backup.log"
    backups=("pg_dump -Fd -j$jobs" "rm -rf '$dumps/fd'"
        "runuser -u postgres -- '$pgbin/pg_dump' -h '$sock' -p '$port' -Fd -j '$jobs' -f '$dumps/fd' '$db'"
        "pg_dump -Fc" "" "runuser -u postgres -- '$pgbin/pg_dump' -h '$sock' -p '$port' -Fc -f '$dumps/pos.dump' '$db'"
        "zakpos-backup backup --pg" "rm -rf '$repo'" "$(zb_backup_cmd "$bin" "$repo")")
    [ -n "$old_bin" ] && backups+=("zakpos-backup backup --pg (old)" "rm -rf '$repo.old'" "$(zb_backup_cmd "$old_bin" "$repo.old")")
    # BENCH_PG_RIVALS=0 with ZB_BIN_OLD: only the two builds (the rivals'
    # figures then come from an earlier run's results)
    [ "${BENCH_PG_RIVALS:-1}" = 0 ] && [ -n "$old_bin" ] && backups=("${backups[@]:6}")
    # in turns, one run of each per round: the machine's speed drifts
    bench_interleave "${backups[@]}"
fi
archive=$(ls "$repo"/*.zbk 2>/dev/null | tail -1 || true)
# the other build restores its own archive (formats may differ)
archive_old=$(ls "$repo.old"/*.zbk 2>/dev/null | tail -1 || true)

drop_target="psql_ -d postgres -c 'DROP DATABASE IF EXISTS target'"
if [[ " $parts " == *" restore "* ]]; then
# interleaved (one run of each per round): the two restores are close and
# this machine's speed drifts from minute to minute
restores=("pg_restore -j$jobs (-Fd)" "$drop_target; psql_ -d postgres -c 'CREATE DATABASE target'"
    "runuser -u postgres -- '$pgbin/pg_restore' -h '$sock' -p '$port' -j '$jobs' -d target '$dumps/fd'"
    "zakpos-backup restore --pg" "$drop_target"
    "'$bin' --log-format json restore --key '$work/key' '$archive' --pg-target '$(conninfo target)' --jobs '$jobs'")
[ -n "$old_bin" ] && restores+=("zakpos-backup restore --pg (old)" "$drop_target"
    "'$old_bin' --log-format json restore --key '$work/key' '${archive_old:-$archive}' --pg-target '$(conninfo target)' --jobs '$jobs'")
[ "${BENCH_PG_RIVALS:-1}" = 0 ] && [ -n "$old_bin" ] && restores=("${restores[@]:3}")
bench_interleave "${restores[@]}"
eval "$drop_target"
fi
if [[ " $parts " == *" profile "* ]]; then
    . "$root/bench/pg/profile.sh"
    bench_pg_profile "$archive"
fi

echo
echo "load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
[ "${BENCH_PG_RIVALS:-1}" != 0 ] && [[ " $parts " == *" backup "* ]] && echo "sizes: zakpos-backup archive $(stat -c %s "$archive") bytes, pg_dump -Fc $(stat -c %s "$dumps/pos.dump") bytes," \
    "pg_dump -Fd $(du -sb "$dumps/fd" | cut -f1) bytes"
[ "${BENCH_PG_RIVALS:-1}" != 0 ] && [[ " $parts " == *" backup "* ]] && echo "backup / pg_dump -Fd -j$jobs: $(bench_ratio "zakpos-backup backup --pg" "pg_dump -Fd -j$jobs") (target <= 0.50)"
[ "${BENCH_PG_RIVALS:-1}" != 0 ] && [[ " $parts " == *" backup "* ]] && echo "backup / pg_dump -Fc: $(bench_ratio "zakpos-backup backup --pg" "pg_dump -Fc") (target <= 0.80)"
[ "${BENCH_PG_RIVALS:-1}" != 0 ] && [[ " $parts " == *" restore "* ]] && echo "restore / pg_restore -j$jobs: $(bench_ratio "zakpos-backup restore --pg" "pg_restore -j$jobs (-Fd)") (target <= 0.60)"
echo "peak RSS KiB: backup $(bench_value "zakpos-backup backup --pg" 3), restore $(bench_value "zakpos-backup restore --pg" 3) (target <= 49152)"
if [[ " $parts " == *" backup "* ]]; then
    [ -n "$old_bin" ] && echo "backup new / old: $(bench_ratio "zakpos-backup backup --pg" "zakpos-backup backup --pg (old)")"
    # the fingerprint's seconds in each backup, from its own log
    echo "catalog fingerprint seconds per backup: $(grep -o 'catalog fingerprint: [0-9]* objects read in [0-9.]* s' "$work/backup.log" |
        awk '{ printf "%s ", $(NF - 1) }')"
fi
[[ " $parts " == *" restore "* ]] && [ -n "$old_bin" ] &&
    echo "restore new / old: $(bench_ratio "zakpos-backup restore --pg" "zakpos-backup restore --pg (old)")"
