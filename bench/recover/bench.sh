#!/usr/bin/env bash
# Whole-host recovery from a local S3 server (s3rver): `zakpos-backup recover
# remote:s3/latest` of a database and a Compose volume, against the rivals'
# plain path on the same data in the same run: download with curl, then
# `pg_restore -j2` of a `pg_dump -Fd` dump and `zstd -d | tar -x` of the
# volume. recover's fetch and restore phases are compared with that path; its
# container and smoke-check phases are reported beside it.
#
#   BENCH_DB_MB=1024 BENCH_VOLUME_MB=1024 bench/recover/bench.sh
#
# The sizes default to the drill dataset's (1 GiB of table data, 1 GiB of
# volume); smaller ones give a quicker run on a busy machine. Everything
# lives in /var/tmp/zb-bench-recover (its own PostgreSQL, dockerd, s3rver).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/bench/lib.sh"
work=${BENCH_WORK:-/var/tmp/zb-bench-recover}
bin=${ZB_BIN:-$root/build/zakpos-backup}
db_mb=${BENCH_DB_MB:-1024}
volume_mb=${BENCH_VOLUME_MB:-1024}
jobs=${BENCH_JOBS:-2}
BENCH_REPEAT=${BENCH_REPEAT:-1}
s3rver=${ZB_S3RVER:-/opt/zakpos-test-tools/node_modules/.bin/s3rver}
rm -rf "$work" && mkdir -p "$work" && chmod 755 "$work"
BENCH_RESULTS=$work/results.txt
: >"$BENCH_RESULTS"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { runuser -u postgres -- "$@"; }
port=$(free_port) s3port=$(free_port)
mkdir -p "$work/sock" "$work/docker" "$work/s3" "$work/cluster" && chown postgres "$work/sock" "$work/cluster"
as_pg "$pgbin/initdb" -D "$work/cluster" -U postgres --auth=trust >/dev/null
as_pg "$pgbin/pg_ctl" -D "$work/cluster" -l "$work/sock/pg.log" -w -o "-p $port -k $work/sock -c listen_addresses='' \
    -c max_wal_size=4GB -c maintenance_work_mem=256MB -c shared_buffers=128MB -c fsync=off" start >/dev/null
dsock=$work/d.sock
dockerd --storage-driver=vfs --bridge=none --iptables=false --ip6tables=false -H "unix://$dsock" \
    --data-root "$work/docker/data" --exec-root "$work/docker/exec" --pidfile "$work/docker/pid" >"$work/dockerd.log" 2>&1 &
dpid=$!
"$s3rver" -d "$work/s3" -a 127.0.0.1 -p "$s3port" --configure-bucket zb --service-endpoint localhost >"$work/s3rver.log" 2>&1 &
spid=$!
trap 'kill $dpid $spid 2>/dev/null; wait $dpid 2>/dev/null || true; as_pg "$pgbin/pg_ctl" -D "$work/cluster" -m immediate stop >/dev/null 2>&1 || true' EXIT
for _ in $(seq 1 150); do curl -sf --unix-socket "$dsock" http://d/_ping >/dev/null 2>&1 && curl -s "http://127.0.0.1:$s3port/" >/dev/null 2>&1 && break; sleep 0.2; done
export DOCKER_HOST=unix://$dsock ZAKPOS_BACKUP_STATE_DIR=$work/state AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
dapi() { curl -sf --unix-socket "$dsock" -X "$1" "${@:3}" "http://d/v1.41$2"; }
psql_() { as_pg "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -h "$work/sock" -p "$port" "$@"; }
server="host=$work/sock port=$port user=postgres"

# the data: a POS table of about db_mb MiB, and a volume of volume_mb MiB of
# files, half text, half incompressible
rows=$((db_mb * 1024 * 1024 / 110))
psql_ -d postgres -c "CREATE DATABASE pos"
psql_ -d pos -c "CREATE TABLE orders (id bigint PRIMARY KEY, store int, status text, total numeric(10,2), note text, created timestamptz)" \
    -c "INSERT INTO orders SELECT g, g % 50, CASE WHEN g % 3 = 0 THEN 'paid' ELSE 'open' END, (g % 10000) / 100.0,
        md5(g::text) || ' order', '2026-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, $rows) g" \
    -c "CREATE INDEX orders_store ON orders (store, created)" -c "VACUUM ANALYZE orders"
dapi POST /volumes/create -H 'Content-Type: application/json' \
    -d '{"Name":"bench_data","Labels":{"com.docker.compose.project":"bench","com.docker.compose.volume":"data"}}' >/dev/null
mp=$(dapi GET /volumes/bench_data | python3 -c 'import json,sys; print(json.load(sys.stdin)["Mountpoint"])')
seq 1 200000 >"$work/text"
for i in $(seq 1 "$volume_mb"); do
    if [ $((i % 2)) = 0 ]; then head -c 1048576 /dev/urandom >"$mp/blob$i.bin"; else head -c 1048576 "$work/text" >"$mp/log$i.txt"; fi
done
rm -f "$work/text"
# a service on the volume, as Compose starts it
mkdir -p "$work/bb/bin" && cp /bin/busybox "$work/bb/bin/" && ln -sf busybox "$work/bb/bin/sh" && ln -sf busybox "$work/bb/bin/sleep"
tar -C "$work/bb" -cf - . | dapi POST "/images/create?fromSrc=-&repo=bench-busybox&tag=1" -H 'Content-Type: application/x-tar' --data-binary @- >/dev/null
dapi POST "/containers/create?name=bench-app" -H 'Content-Type: application/json' -d '{"Image":"bench-busybox:1",
    "Cmd":["/bin/sh","-c","trap \"exit 0\" TERM; while :; do sleep 1; done"],"Labels":{"com.docker.compose.project":"bench"},
    "HostConfig":{"Mounts":[{"Type":"volume","Source":"bench_data","Target":"/data"}]}}' >/dev/null
dapi POST /containers/bench-app/start >/dev/null
echo "database pos: $(psql_ -d pos -At -c "SELECT pg_size_pretty(pg_total_relation_size('orders'))"); volume bench_data: $(du -sh "$mp" | cut -f1)"

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
host = unix://$dsock
volumes = bench_data
[paths]
[daemon]
state_dir = $work/state
[recover]
smoke_command = true
[remote s3]
type = s3
endpoint = http://127.0.0.1:$s3port
bucket = zb
region = eu-central-1
path_style = yes
CONF
"$bin" -q --config "$work/zb.conf" backup --repo "$work/repo" --recipient "$work/key.pub" --pg "$server dbname=pos" \
    --jobs "$jobs" --volume bench_data >/dev/null
echo "archive: $(stat -c %s "$work"/repo/*.zbk) bytes"
rm -rf "$work/repo" # the host is gone: only the remote has it

# the rivals' files on the same server: a -Fd dump (tarred: one object) and the volume as tar | zstd
mkdir -p "$work/dump" && chown postgres "$work/dump"
as_pg "$pgbin/pg_dump" -h "$work/sock" -p "$port" -Fd -j "$jobs" -f "$work/dump/fd" pos
tar -C "$work/dump" -cf "$work/fd.tar" fd && rm -rf "$work/dump"
tar -C "$mp" -cf - . | zstd -3 -T0 -q -o "$work/volume.tar.zst"
for f in fd.tar volume.tar.zst; do curl -sf -T "$work/$f" "http://127.0.0.1:$s3port/zb/rival/$f" >/dev/null; done
rm -f "$work/fd.tar" "$work/volume.tar.zst"

# recover: the database dropped, the volume still there (the new stack's
# compose up made it empty), so --force replaces it
BENCH_BEFORE_EACH="psql_ -d postgres -c 'DROP DATABASE IF EXISTS pos' && find '$mp' -mindepth 1 -delete" \
    bench_run "zakpos-backup recover" -- env TMPDIR="$work" "$bin" --config "$work/zb.conf" recover remote:s3/latest \
    --force --jobs "$jobs" --report "$work/recovery"

# the rivals: download, pg_restore -j2, zstd -d | tar -x
dl=$work/dl
BENCH_BEFORE_EACH="rm -rf '$dl' && mkdir -p '$dl/vol' && chmod 755 '$dl'" bench_run "curl (both files)" -- \
    sh -c "curl -sf -o '$dl/fd.tar' http://127.0.0.1:$s3port/zb/rival/fd.tar && curl -sf -o '$dl/volume.tar.zst' http://127.0.0.1:$s3port/zb/rival/volume.tar.zst && tar -C '$dl' -xf '$dl/fd.tar'"
BENCH_BEFORE_EACH="psql_ -d postgres -c 'DROP DATABASE IF EXISTS rival' -c 'CREATE DATABASE rival'" bench_run "pg_restore -j$jobs (-Fd)" -- \
    runuser -u postgres -- "$pgbin/pg_restore" -h "$work/sock" -p "$port" -j "$jobs" -d rival "$dl/fd"
BENCH_BEFORE_EACH="rm -rf '$dl/vol' && mkdir '$dl/vol'" bench_run "zstd -d | tar -x (volume)" -- \
    sh -c "zstd -dc '$dl/volume.tar.zst' | tar -C '$dl/vol' -xf -"

echo
python3 - "$work/recovery.json" "$(bench_value 'curl (both files)' 2)" "$(bench_value "pg_restore -j$jobs (-Fd)" 2)" \
    "$(bench_value 'zstd -d | tar -x (volume)' 2)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["seconds"]
curl, pg, tar = (float(x) for x in sys.argv[2:5])
ours = s["fetch"] + s["restore"]
rival = curl + pg + tar
print(f"recover: fetch {s['fetch']:.1f} s + stop {s['stop']:.1f} s + restore {s['restore']:.1f} s (roles {s['roles']:.2f} s) "
      f"+ start {s['start']:.1f} s + smoke {s['smoke']:.1f} s = {s['total']:.1f} s")
print(f"rivals:  download {curl:.1f} s + pg_restore {pg:.1f} s + zstd -d | tar -x {tar:.1f} s = {rival:.1f} s (nothing stopped or started, no check)")
print(f"fetch + restore vs the rivals' path: {ours:.1f} s / {rival:.1f} s = {ours / rival:.2f}x")
PY
