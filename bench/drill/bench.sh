#!/usr/bin/env bash
# A disaster-recovery drill of a 1 GiB+ database and a 1 GiB volume: the
# POS dataset of bench/pg and the mixed-file volume of bench/docker (run
# those once first: they generate the data and keep it), backed up into one
# archive, then `zakpos-backup drill` restores both into scratch targets,
# verifies them and runs a smoke check. Prints the drill's Markdown report
# (RPO, RTO and the time of each phase) and, for scale, the rivals' time to
# bring the same data back: pg_restore -j2 of a pg_dump -Fd dump, and
# tar -x of a tar|zstd of the volume into an empty folder.
#
#   bench/drill/bench.sh [PG_WORKDIR] [DOCKER_WORKDIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/bench/lib.sh"
pgwork=${1:-/var/tmp/zb-bench-pg}
dwork=${2:-/var/tmp/zb-bench-docker}
work=/var/tmp/zb-bench-drill
bin=${ZB_BIN:-$root/build/zakpos-backup}
jobs=${BENCH_JOBS:-2}
BENCH_REPEAT=${BENCH_REPEAT:-1}
[ -d "$pgwork/cluster" ] && [ -d "$dwork/data" ] || { echo "run bench/pg/bench.sh and bench/docker/bench.sh first" >&2; exit 2; }
rm -rf "$work" && mkdir -p "$work"
BENCH_RESULTS=$work/results.txt
: >"$BENCH_RESULTS"

pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
sock=$pgwork/sock
port=${BENCH_PG_PORT:-25432}
as_pg() { runuser -u postgres -- "$@"; }
as_pg "$pgbin/pg_ctl" -D "$pgwork/cluster" -l "$pgwork/pg.log" -w -o "-p $port -k $sock -c listen_addresses='' \
    -c max_wal_size=4GB -c maintenance_work_mem=256MB -c shared_buffers=128MB" start >/dev/null
dsock=$dwork/d.sock
dockerd --storage-driver=vfs --bridge=none --iptables=false --ip6tables=false -H "unix://$dsock" \
    --data-root "$dwork/data" --exec-root "$dwork/exec" --pidfile "$dwork/pid" >"$dwork/dockerd.log" 2>&1 &
dpid=$!
trap 'kill $dpid; wait $dpid 2>/dev/null || true; as_pg "$pgbin/pg_ctl" -D "$pgwork/cluster" -m fast stop >/dev/null 2>&1 || true' EXIT
for _ in $(seq 1 100); do curl -sf --unix-socket "$dsock" http://d/_ping >/dev/null 2>&1 && break; sleep 0.1; done
export DOCKER_HOST=unix://$dsock ZAKPOS_BACKUP_STATE_DIR=$work/state
psql_() { as_pg "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" "$@"; }
server="host=$sock port=$port user=postgres"
mp=$(curl -sf --unix-socket "$dsock" http://d/volumes/bench_data | python3 -c 'import json,sys; print(json.load(sys.stdin)["Mountpoint"])')
echo "database pos: $(psql_ -d pos -At -c "SELECT pg_size_pretty(sum(pg_relation_size(c.oid))) FROM pg_class c \
    WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace") of table data; volume bench_data: $(du -sh "$mp" | cut -f1)"

"$bin" keygen --out "$work/key" >/dev/null 2>&1
cat >"$work/zb.conf" <<CONF
[repository]
path = $work/repo
recipients = $work/key.pub
key_file = $work/key
[postgres]
conninfo = $server dbname=pos
jobs = $jobs
[docker]
volumes = bench_data
[paths]
[check paid orders]
sql = SELECT count(*) > 0 FROM orders WHERE status = 'paid'
expect = t
CONF
"$bin" -q backup --repo "$work/repo" --recipient "$work/key.pub" --pg "$server dbname=pos" --jobs "$jobs" --volume bench_data >/dev/null
archive=$(ls "$work"/repo/*.zbk | tail -1)
echo "archive: $(stat -c %s "$archive") bytes"
sync
[ -n "${BENCH_NO_DROP:-}" ] || echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
bench_run "zakpos-backup drill" -- env TMPDIR="$work" "$bin" --config "$work/zb.conf" drill "$archive" --jobs "$jobs" --report "$work/drill"

# the rivals' time to bring the same data back, for scale
if [ -d "$pgwork/dumps/fd" ]; then
    drop="psql_ -d postgres -c 'DROP DATABASE IF EXISTS rival'"
    BENCH_BEFORE_EACH="$drop; psql_ -d postgres -c 'CREATE DATABASE rival'" bench_run "pg_restore -j$jobs (-Fd)" -- \
        runuser -u postgres -- "$pgbin/pg_restore" -h "$sock" -p "$port" -j "$jobs" -d rival "$pgwork/dumps/fd"
    eval "$drop"
fi
tar -C "$mp" -cf - . | zstd -3 -T0 -q -o "$work/volume.tar.zst"
BENCH_BEFORE_EACH="rm -rf '$work/vol' && mkdir '$work/vol'" bench_run "zstd -d | tar -x (volume)" -- \
    sh -c "zstd -dc '$work/volume.tar.zst' | tar -C '$work/vol' -xf -"
rm -rf "$work/vol" "$work/volume.tar.zst"

echo
cat "$work/drill.md"
