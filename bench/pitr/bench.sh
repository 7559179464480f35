#!/usr/bin/env bash
# Point-in-time recovery figures, in one run against one PostgreSQL cluster
# (wal_level=logical) of its own:
#
#  1. a POS-like load (pos.sql: a sale, two sale lines, two stock updates per
#     transaction) at BENCH_TPS transactions per second for BENCH_SECONDS
#     (pgbench -R from the server's bin folder) while `follow` runs; reported:
#     RPO per transaction (its commit time, from track_commit_timestamp, to
#     the time the follower logged the segment holding it as published:
#     p50/p99/max), the follower's peak RSS and CPU share of one core, the WAL
#     the server keeps for the slot (pg_replication_slots, sampled every 2 s
#     in the second half of the load: median and max);
#  2. a larger change volume (BENCH_BULK_TX transactions of the same script
#     at full speed), then, side by side on the same data:
#       - restore of the chain's base alone (what a nightly-only recovery costs),
#       - restore --until the end of the stream (the base, then the replay),
#         with the replay's own time and rows/s from its log lines,
#       - the rival: pg_restore -j2 of a pg_dump -Fc taken at that same point
#         (the best a dump-based recovery could do had a dump existed then).
#
#   BENCH_SECONDS=120 BENCH_TPS=200 BENCH_BULK_TX=40000 bench/pitr/bench.sh
#
# BENCH_PG_PORT: the cluster's port (default: a free one). BENCH_OLD_BIN:
# another build of the tool (the code before a change); its restore --until
# runs right before this build's, on the same segments, and each replay's
# rows/s is reported: a back-to-back comparison under the same load.
#
# Everything lives in /var/tmp/zb-bench-pitr.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=${BENCH_WORK:-/var/tmp/zb-bench-pitr}
bin=${ZB_BIN:-$root/build/zakpos-backup}
seconds=${BENCH_SECONDS:-120}
tps=${BENCH_TPS:-200}
bulk_tx=${BENCH_BULK_TX:-40000}
segment_seconds=${BENCH_SEGMENT_SECONDS:-2}
rm -rf "$work" && mkdir -p "$work" && chmod 755 "$work"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { runuser -u postgres -- "$@"; }
port=${BENCH_PG_PORT:-$(free_port)}
mkdir -p "$work/sock" "$work/cluster" && chown postgres "$work/sock" "$work/cluster" "$work"
as_pg "$pgbin/initdb" -D "$work/cluster" -U postgres --auth=trust >/dev/null
as_pg "$pgbin/pg_ctl" -D "$work/cluster" -l "$work/sock/pg.log" -w -o "-p $port -k $work/sock -c listen_addresses='' \
    -c wal_level=logical -c max_wal_senders=4 -c max_replication_slots=4 -c track_commit_timestamp=on \
    -c max_slot_wal_keep_size=1GB -c shared_buffers=128MB" start >/dev/null
fpid=
trap '[ -n "$fpid" ] && kill -9 $fpid 2>/dev/null; as_pg "$pgbin/pg_ctl" -D "$work/cluster" -m immediate stop >/dev/null 2>&1 || true' EXIT
psql_() { as_pg "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -h "$work/sock" -p "$port" "$@"; }
server="host=$work/sock port=$port user=postgres"
cd "$work"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"

psql_ -d postgres -c "CREATE DATABASE pos"
psql_ -d pos <<'SQL'
CREATE TABLE sales (id bigserial PRIMARY KEY, till int NOT NULL, total numeric(10,2), paid text, at timestamptz DEFAULT clock_timestamp());
CREATE TABLE sale_lines (id bigserial PRIMARY KEY, sale_id bigint NOT NULL, sku text NOT NULL, qty int, price numeric(10,2), note text);
CREATE TABLE stock (sku text PRIMARY KEY, qty int NOT NULL, updated timestamptz);
INSERT INTO stock SELECT 'sku' || g, 1000000, now() FROM generate_series(1, 5000) g;
INSERT INTO sales (till, total, paid) SELECT g % 20, g % 1000, 'card' FROM generate_series(1, 200000) g;
INSERT INTO sale_lines (sale_id, sku, qty, price, note) SELECT g / 2 + 1, 'sku' || (g % 5000 + 1), 1, g % 100, md5(g::text)
  FROM generate_series(1, 400000) g;
VACUUM ANALYZE;
SQL
cat >pos.sql <<'SQL'
\set till random(1, 20)
\set a random(1, 5000)
\set b random(1, 5000)
BEGIN;
INSERT INTO sales (till, total, paid) VALUES (:till, random() * 100, 'card') RETURNING id \gset
INSERT INTO sale_lines (sale_id, sku, qty, price, note) VALUES (:id, 'sku' || :a, 1, 2.50, 'coffee'), (:id, 'sku' || :b, 2, 1.25, NULL);
UPDATE stock SET qty = qty - 1, updated = now() WHERE sku = 'sku' || :a;
UPDATE stock SET qty = qty - 2, updated = now() WHERE sku = 'sku' || :b;
COMMIT;
SQL
chmod 644 pos.sql
"$bin" keygen --out key >/dev/null 2>&1
"$bin" --log-level detail --log-format json follow --repo repo --pg "$server dbname=pos" --recipient key.pub \
    --segment-seconds "$segment_seconds" 2>follow.log &
fpid=$!
for _ in $(seq 1 600); do [ -f repo/pitr/zakpos_backup.json ] && break; sleep 0.2; done
[ -f repo/pitr/zakpos_backup.json ] || { echo "the follower did not start" >&2; cat follow.log >&2; exit 1; }
base=$(find repo -maxdepth 1 -name '*.zbk' | sort | head -1)
first_sale=$(psql_ -d pos -At -c "SELECT max(id) FROM sales")
ticks() { awk '{ print $14 + $15 }' "/proc/$fpid/stat"; }
cpu_start=$(ticks) started=$(date +%s.%N)

# 1. the steady load
as_pg "$pgbin/pgbench" -n -h "$work/sock" -p "$port" -f pos.sql -R "$tps" -T "$seconds" -c 4 -j 2 pos >pgbench.out 2>&1 &
load=$!
: >wal.txt
end=$(($(date +%s) + seconds))
while [ "$(date +%s)" -lt "$end" ]; do
    if [ "$(date +%s)" -ge $((end - seconds / 2)) ]; then
        psql_ -d postgres -At -c "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) FROM pg_replication_slots" >>wal.txt
    fi
    sleep 2
done
wait "$load"
cpu_end=$(ticks) stopped=$(date +%s.%N)
rss_kib=$(awk '/VmHWM/ { print $2 }' "/proc/$fpid/status")
last=$(psql_ -d pos -At -c "SELECT pg_current_wal_lsn()")
for _ in $(seq 1 600); do
    [ "$(psql_ -d postgres -At -c "SELECT confirmed_flush_lsn >= '$last' FROM pg_replication_slots")" = t ] && break
    sleep 0.2
done
psql_ -d pos -At -c "SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin)) FROM sales WHERE id > $first_sale ORDER BY 1" >commits.txt
hz=$(getconf CLK_TCK)
PYTHONPATH=$root/bench/pitr python3 - "$hz" "$cpu_start" "$cpu_end" "$started" "$stopped" "$rss_kib" <<'PY'
import sys, statistics
from jsonlog import messages
hz, c0, c1, t0, t1, rss = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
commits = [float(l) for l in open("commits.txt") if l.strip()]
segs = []
for t, m in messages("follow.log"):
    if m.startswith("segment ") and " transactions, up to " in m:
        segs.append((t, int(m.split(": ")[1].split(" ")[0])))
# the stream holds the load's transactions only, in commit order: each
# segment holds the next n of them
rpo, i = [], 0
for t, n in segs:
    for c in commits[i:i + n]:
        rpo.append(t - c)
    i += n
rpo.sort()
q = lambda p: rpo[min(len(rpo) - 1, int(p * len(rpo)))]
wal = sorted(int(l) for l in open("wal.txt") if l.strip())
print(f"load: {len(commits)} transactions in {t1 - t0:.0f} s ({len(commits) / (t1 - t0):.0f}/s), {len(segs)} segments")
print(f"RPO (commit -> segment published): p50 {q(0.5):.2f} s, p99 {q(0.99):.2f} s, max {rpo[-1]:.2f} s over {len(rpo)} transactions")
print(f"follower: peak RSS {rss / 1024:.1f} MiB, CPU {(c1 - c0) / hz:.2f} s = {100 * (c1 - c0) / hz / (t1 - t0):.1f}% of one core")
print(f"WAL kept for the slot (second half): median {statistics.median(wal) / 2**20:.1f} MiB, max {wal[-1] / 2**20:.1f} MiB")
PY
grep -E "^(tps|latency average)" pgbench.out || true

# 2. a larger change volume at full speed, then recovery to its end; with
# BENCH_NIGHTLY=1 (the default) a nightly backup halfway, which the replay
# from the base passes and compares the database with
if [ "${BENCH_NIGHTLY:-1}" = 1 ]; then
    as_pg "$pgbin/pgbench" -n -h "$work/sock" -p "$port" -f pos.sql -t $((bulk_tx / 4)) -c 2 -j 2 pos >bulk.out 2>&1
    "$bin" -q backup --repo repo --pg "$server dbname=pos" --recipient key.pub >/dev/null
    as_pg "$pgbin/pgbench" -n -h "$work/sock" -p "$port" -f pos.sql -t $((bulk_tx / 4)) -c 2 -j 2 pos >>bulk.out 2>&1
else
    as_pg "$pgbin/pgbench" -n -h "$work/sock" -p "$port" -f pos.sql -t $((bulk_tx / 2)) -c 2 -j 2 pos >bulk.out 2>&1
fi
target=$(psql_ -d pos -At -c "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
last=$(psql_ -d pos -At -c "SELECT pg_current_wal_lsn()")
for _ in $(seq 1 3000); do
    [ "$(psql_ -d postgres -At -c "SELECT confirmed_flush_lsn >= '$last' FROM pg_replication_slots")" = t ] && break
    sleep 0.2
done
kill -TERM "$fpid" && wait "$fpid" || true
fpid=
psql_ -d pos -c "CHECKPOINT"
as_pg "$pgbin/pg_dump" -h "$work/sock" -p "$port" -Fc -f "$work/pos.dump" pos
timed() { local s; s=$(date +%s.%N); "$@" >/dev/null; echo "$(date +%s.%N) - $s" | bc; }
t_base=$(timed "$bin" -q restore --key key "$base" --pg-target "$server dbname=r_base")
if [ -n "${BENCH_OLD_BIN:-}" ]; then
    "$BENCH_OLD_BIN" --log-level detail --log-format json restore --key key "$base" --pg-target "$server dbname=r_old" --until "$target" \
        >/dev/null 2>until_old.log
fi
t_until=$(timed "$bin" --log-level detail --log-format json restore --key key "$base" --pg-target "$server dbname=r_until" --until "$target" 2>until.log)
psql_ -d postgres -c "CREATE DATABASE r_dump"
t_dump=$(timed as_pg "$pgbin/pg_restore" -h "$work/sock" -p "$port" -j 2 -d r_dump "$work/pos.dump")
PYTHONPATH=$root/bench/pitr python3 - "$t_base" "$t_until" "$t_dump" <<'PY'
import sys
from jsonlog import messages
t_base, t_until, t_dump = map(float, sys.argv[1:4])
# the replay runs in the temporary database, between its first line and the
# line saying it is verified (the row counts), before the database is published
def replay_of(log):
    times, changes = {}, 0
    for t, m in messages(log):
        if m.startswith("replaying the changes of chain"):
            times["start"] = t
        if m.startswith("replay: ") and " changes applied and verified" in m:
            times["end"] = t
        if m.startswith("replayed "):
            changes = int(m.split("(")[1].split(" ")[0])
        if m.startswith("replay verified against "):
            times["compare"] = m.split(": ", 1)[1]
    if "start" not in times:  # a build without those lines: its database loaded, then published
        for t, m in messages(log):
            if "built in" in m and m.startswith("indexes"):
                times["start"] = t
            if m.startswith("replay verified"):
                times["end"] = t
    if "compare" in times:
        print(f"  {log}: the nightly passed, compared: {times['compare']}")
    return changes, times["end"] - times["start"]
import os
if os.path.exists("until_old.log"):
    changes, replay = replay_of("until_old.log")
    print(f"replay, BENCH_OLD_BIN (just before): {changes} row changes in {replay:.1f} s = {changes / replay:.0f} rows/s")
changes, replay = replay_of("until.log")
print(f"replay: {changes} row changes in {replay:.1f} s = {changes / replay:.0f} rows/s")
print(f"restore of the base alone {t_base:.1f} s; restore --until (base + replay) {t_until:.1f} s = "
      f"{t_until / (t_base + replay):.2f}x (base alone + replay); pg_restore -j2 of a dump at the same point {t_dump:.1f} s")
PY
for t in sales sale_lines stock; do
    a=$(psql_ -d pos -At -c "COPY (SELECT * FROM $t ORDER BY 1) TO STDOUT" | md5sum)
    for db in r_until ${BENCH_OLD_BIN:+r_old}; do
        b=$(psql_ -d $db -At -c "COPY (SELECT * FROM $t ORDER BY 1) TO STDOUT" | md5sum)
        [ "$a" = "$b" ] && echo "$t ($db): recovered rows match the source" || echo "$t ($db): DIFFERS from the source"
    done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
