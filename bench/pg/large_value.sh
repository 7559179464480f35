#!/usr/bin/env bash
# PostgreSQL backup and restore of a table holding one large value (one row,
# one bytea of BENCH_VALUE_BYTES, default 500,000,000), against pg_dump -Fc
# and pg_restore. Prints wall times and peak RSS against the value's size;
# the target is peak RSS <= 2x the value + 64 MiB for backup and restore.
# libpq hands a COPY row over whole (PQgetCopyData): the client cannot hold
# less than the row, and libpq's input buffer holds it once more while it
# arrives; pg_dump's figure for the same table is printed beside ours.
#
#   bench/pg/large_value.sh [WORKDIR]   (default /var/tmp/zb-bench-pg-large;
#                                        the cluster and database are kept)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/bench/lib.sh"
. "$root/bench/pg/cluster.sh"
work=${1:-/var/tmp/zb-bench-pg-large}
bin=${ZB_BIN:-$root/build/zakpos-backup}
value_bytes=${BENCH_VALUE_BYTES:-500000000}
mkdir -p "$work"
chmod 755 "$work"
BENCH_RESULTS=$work/results.txt
: >"$BENCH_RESULTS"

bench_pg_cluster "$work" "${BENCH_PG_PORT:-25463}"
pg_start
trap pg_stop EXIT

db=large$value_bytes
if [ "$(psql_ -d postgres -At -c "SELECT count(*) FROM pg_database WHERE datname = '$db'")" = 0 ]; then
    echo "generating one value of $value_bytes bytes ..."
    psql_ -d postgres -c "DROP DATABASE IF EXISTS ${db}_loading" -c "CREATE DATABASE ${db}_loading"
    # md5 text repeated: printable, so its text COPY form (pg_dump's) is
    # twice its size in hex, as for any bytea
    psql_ -d "${db}_loading" -c "CREATE TABLE blob (id int PRIMARY KEY, value bytea NOT NULL)" \
        -c "INSERT INTO blob SELECT 1, pg_catalog.convert_to(pg_catalog.repeat(pg_catalog.md5('v'), $value_bytes / 32), 'UTF8')"
    psql_ -d postgres -c "ALTER DATABASE ${db}_loading RENAME TO $db"
fi
echo "value: $(psql_ -d "$db" -At -c "SELECT pg_catalog.octet_length(value) FROM blob") bytes"

"$bin" keygen --out "$work/key" >/dev/null 2>&1 || true
mkdir -p "$work/dumps" && chown postgres "$work/dumps"
BENCH_REPEAT=${BENCH_REPEAT:-1}
bench_run "pg_dump -Fc" -- runuser -u postgres -- "$pgbin/pg_dump" -h "$sock" -p "$port" -Fc -f "$work/dumps/$db.dump" "$db"
BENCH_BEFORE_EACH="rm -rf '$work/repo'" bench_run "zakpos-backup backup --pg" -- \
    "$bin" --log-format json backup --repo "$work/repo" --recipient "$work/key.pub" --pg "$(conninfo "$db")" --jobs 2
archive=$(ls "$work"/repo/*.zbk | tail -1)
drop_target="psql_ -d postgres -c 'DROP DATABASE IF EXISTS target'"
BENCH_BEFORE_EACH="$drop_target; psql_ -d postgres -c 'CREATE DATABASE target'" bench_run "pg_restore" -- \
    runuser -u postgres -- "$pgbin/pg_restore" -h "$sock" -p "$port" -d target "$work/dumps/$db.dump"
BENCH_BEFORE_EACH="$drop_target" bench_run "zakpos-backup restore --pg" -- \
    "$bin" --log-format json restore --key "$work/key" "$archive" --pg-target "$(conninfo target)" --jobs 2
same=$(psql_ -d target -At -c "SELECT pg_catalog.md5(value) FROM blob")
eval "$drop_target"

echo
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "restored value's md5: $same (source: $(psql_ -d "$db" -At -c "SELECT pg_catalog.md5(value) FROM blob"))"
limit=$((2 * value_bytes / 1024 + 65536))
echo "peak RSS KiB: backup $(bench_value "zakpos-backup backup --pg" 3), restore $(bench_value "zakpos-backup restore --pg" 3)," \
    "pg_dump -Fc $(bench_value "pg_dump -Fc" 3), pg_restore $(bench_value "pg_restore" 3) (target <= $limit: 2x the value + 64 MiB)"
