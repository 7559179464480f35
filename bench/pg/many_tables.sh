#!/usr/bin/env bash
# PostgreSQL backup and restore of databases of many small tables (20 rows
# each, a primary key each), against pg_dump -Fc, pg_dump -Fd -j2 and
# pg_restore -j2, in one run per size. Prints wall times, peak RSS, the time
# per table and the ratios the project targets:
#   backup  <= 0.8x pg_dump -Fc, restore <= 0.8x pg_restore -j2
#   peak RSS <= 64 MiB at 20,000 tables
#   time per table at the largest size within 1.3x of that at the smallest
# zakpos-backup's backup runs first against the server's default
# max_locks_per_transaction (it needs no more); pg_dump needs one lock per
# table in one transaction, so the server is restarted with BENCH_PG_LOCKS
# (default 1024) for the side-by-side runs, and whether pg_dump -Fd -j2
# completes with the default is printed.
#
#   bench/pg/many_tables.sh [WORKDIR]   (default /var/tmp/zb-bench-pg-many;
#                                        the cluster and databases are kept)
#   BENCH_TABLES="2000 8000 20000" BENCH_REPEAT=3 bench/pg/many_tables.sh
#   BENCH_PG_PARTS=generate bench/pg/many_tables.sh   (only make the databases)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/bench/lib.sh"
. "$root/bench/pg/cluster.sh"
work=${1:-/var/tmp/zb-bench-pg-many}
bin=${ZB_BIN:-$root/build/zakpos-backup}
jobs=${BENCH_JOBS:-2}
sizes=${BENCH_TABLES:-2000 8000 20000}
locks=${BENCH_PG_LOCKS:-1024}
mkdir -p "$work"
chmod 755 "$work"
BENCH_RESULTS=$work/results.txt
: >"$BENCH_RESULTS"

bench_pg_cluster "$work" "${BENCH_PG_PORT:-25462}"
pg_start
trap pg_stop EXIT

"$bin" keygen --out "$work/key" >/dev/null 2>&1 || true
mkdir -p "$work/dumps" && chown postgres "$work/dumps"

# Each table created and filled in its own transaction, so making the
# database needs no more locks than the default allows.
for n in $sizes; do
    db=many$n
    if [ "$(psql_ -d postgres -At -c "SELECT count(*) FROM pg_database WHERE datname = '$db'")" = 0 ]; then
        echo "generating $n tables ..."
        psql_ -d postgres -c "DROP DATABASE IF EXISTS ${db}_loading" -c "CREATE DATABASE ${db}_loading"
        # (not waiting for each commit's flush: only the making is faster)
        echo "SET synchronous_commit = off; SELECT pg_catalog.format('CREATE TABLE t%s (id int PRIMARY KEY, name text NOT NULL, \
amount numeric(10, 2), created_at timestamptz NOT NULL DEFAULT now()); INSERT INTO t%s (id, name, amount) \
SELECT g, ''item '' || g, g * 1.5 FROM generate_series(1, 20) g', i, i) FROM generate_series(1, $n) i \gexec" |
            psql_ -d "${db}_loading" >/dev/null
        psql_ -d "${db}_loading" -c "VACUUM ANALYZE" >/dev/null
        psql_ -d postgres -c "ALTER DATABASE ${db}_loading RENAME TO $db"
    fi
done
[ "${BENCH_PG_PARTS:-}" = generate ] && exit 0

summary=()
for n in $sizes; do
    db=many$n
    echo "== $n tables"
    # the default max_locks_per_transaction: zakpos-backup must complete
    pg_stop
    pg_start
    rm -rf "$work/repo-default"
    if BENCH_REPEAT=1 bench_run "zb backup $n (default locks)" -- "$bin" --log-format json backup \
        --repo "$work/repo-default" --recipient "$work/key.pub" --pg "$(conninfo $db)" --jobs "$jobs"; then
        zb_default="completes in $(bench_value "zb backup $n (default locks)" 2) s"
    else
        zb_default="fails"
    fi
    rm -rf "$work/dumps/fd-default"
    if as_pg "$pgbin/pg_dump" -h "$sock" -p "$port" -Fd -j "$jobs" -f "$work/dumps/fd-default" "$db" >/dev/null 2>&1; then
        pgdump_default="completes"
    else
        pgdump_default="fails"
    fi
    rm -rf "$work/dumps/fd-default" "$work/repo-default"
    echo "pg_dump -Fd -j$jobs with the default max_locks_per_transaction: $pgdump_default"

    pg_stop
    pg_start -c max_locks_per_transaction="$locks"
    bench_interleave \
        "pg_dump -Fc $n" "" "runuser -u postgres -- '$pgbin/pg_dump' -h '$sock' -p '$port' -Fc -f '$work/dumps/$db.dump' $db" \
        "pg_dump -Fd -j$jobs $n" "rm -rf '$work/dumps/$db.fd'" \
        "runuser -u postgres -- '$pgbin/pg_dump' -h '$sock' -p '$port' -Fd -j '$jobs' -f '$work/dumps/$db.fd' $db" \
        "zb backup $n" "rm -rf '$work/repo-$n'" \
        "'$bin' --log-format json backup --repo '$work/repo-$n' --recipient '$work/key.pub' --pg '$(conninfo $db)' --jobs '$jobs'"
    archive=$(ls "$work"/repo-$n/*.zbk | tail -1)
    drop_target="psql_ -d postgres -c 'DROP DATABASE IF EXISTS target'"
    bench_interleave \
        "pg_restore -j$jobs $n" "$drop_target; psql_ -d postgres -c 'CREATE DATABASE target'" \
        "runuser -u postgres -- '$pgbin/pg_restore' -h '$sock' -p '$port' -j '$jobs' -d target '$work/dumps/$db.fd'" \
        "zb restore $n" "$drop_target" \
        "'$bin' --log-format json restore --key '$work/key' '$archive' --pg-target '$(conninfo target)' --jobs '$jobs'"
    eval "$drop_target"
    summary+=("$n tables: backup $(bench_value "zb backup $n" 2) s ($(awk -v t="$(bench_value "zb backup $n" 2)" -v n="$n" \
        'BEGIN { printf "%.0f", t / n * 1e6 }') us/table, $(bench_value "zb backup $n" 3) KiB), \
/ pg_dump -Fc $(bench_ratio "zb backup $n" "pg_dump -Fc $n"), / pg_dump -Fd -j$jobs $(bench_ratio "zb backup $n" "pg_dump -Fd -j$jobs $n"); \
restore $(bench_value "zb restore $n" 2) s ($(awk -v t="$(bench_value "zb restore $n" 2)" -v n="$n" \
        'BEGIN { printf "%.0f", t / n * 1e6 }') us/table, $(bench_value "zb restore $n" 3) KiB), \
/ pg_restore -j$jobs $(bench_ratio "zb restore $n" "pg_restore -j$jobs $n"); \
with the default max_locks_per_transaction zakpos-backup $zb_default, pg_dump -Fd -j$jobs $pgdump_default")
done

echo
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%s\n' "${summary[@]}"
echo "targets: backup <= 0.80x pg_dump -Fc, restore <= 0.80x pg_restore -j$jobs, peak RSS <= 65536 KiB at 20,000," \
    "time per table at the largest size <= 1.3x that at the smallest"
