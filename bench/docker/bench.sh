#!/usr/bin/env bash
# Docker volume backup against its rivals, in one run, on a ~1 GiB volume of
# mixed files (many small, some large), with a throwaway dockerd:
#   * GET /containers/{id}/archive to /dev/null: the API's own limit
#   * zakpos-backup backup --volume --volume-api (through the API; zstd +
#     encryption)
#   * the zakpos design's method: a busybox container running
#     tar czf /backup/x.tar.gz /data (docker run --rm -v VOL:/data -v $PWD:/backup)
#   * the full-fidelity path, reading the volume's folder directly (the
#     default on the Docker host): tar --xattrs --acls --sparse -cf - MOUNTPOINT
#     | zstd -3 -T0 against zakpos-backup backup --volume
#   * the full-fidelity path for a folder out of reach, through the volume
#     agent in a helper container: backup --volume-agent against the same
#     tar|zstd, restore --volume-agent against zstd -d | tar --xattrs --acls -x
# Targets: API backup <= 1.05x the raw GET and <= 0.2x the tar czf method;
# direct mode and the agent <= 1.1x tar|zstd; peak RSS <= 64 MiB.
#
#   bench/docker/bench.sh [WORKDIR]   (default /var/tmp/zb-bench-docker)
#
# BENCH_DOCKER_PARTS=agent runs only the agent rows and their rivals,
# BENCH_DOCKER_PARTS=api only the raw GET, the backup through the API (the
# two in turns, ABBA) and the tar czf container (BENCH_TAR_CZF_REPEAT runs,
# default BENCH_REPEAT; 0 leaves it out). Every run starts from a cold page
# cache unless BENCH_NO_DROP=1 (bench/lib.sh). With
# ZB_FAULT_BIN (the test build, build/tests/zakpos-backup-faults) the agent
# rows are also run with the stream through the attach API instead of the
# bound socket, for the difference in the same run.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/bench/lib.sh"
work=${1:-/var/tmp/zb-bench-docker}
bin=${ZB_BIN:-$root/build/zakpos-backup}
mkdir -p "$work"
BENCH_RESULTS=$work/results.txt
: >"$BENCH_RESULTS"
sock=$work/d.sock
dockerd --storage-driver=vfs --bridge=none --iptables=false --ip6tables=false -H "unix://$sock" \
    --data-root "$work/data" --exec-root "$work/exec" --pidfile "$work/pid" >"$work/dockerd.log" 2>&1 &
dpid=$!
trap 'kill $dpid; wait $dpid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf --unix-socket "$sock" http://d/_ping >/dev/null 2>&1 && break; sleep 0.1; done
api() { local m=$1 p=$2; shift 2; curl -sf --unix-socket "$sock" -X "$m" "$@" "http://d/v1.41$p"; }
export DOCKER_HOST=unix://$sock ZAKPOS_BACKUP_STATE_DIR=$work/state

if ! api GET /images/zb-bench-busybox:2/json >/dev/null 2>&1; then
    rm -rf "$work/bbroot" && mkdir -p "$work/bbroot/bin" "$work/bbroot/data" "$work/bbroot/backup"
    cp /bin/busybox "$work/bbroot/bin/busybox"
    ln -sf busybox "$work/bbroot/bin/gzip" # busybox tar z runs gzip from PATH
    tar -C "$work/bbroot" -cf "$work/bb.tar" .
    api POST "/images/create?fromSrc=-&repo=zb-bench-busybox&tag=2" -H 'Content-Type: application/x-tar' --data-binary "@$work/bb.tar" >/dev/null
fi
api POST /volumes/create -H 'Content-Type: application/json' -d '{"Name":"bench_data"}' >/dev/null
mp=$(api GET /volumes/bench_data | python3 -c 'import json,sys; print(json.load(sys.stdin)["Mountpoint"])')
if [ ! -f "$mp/.done" ]; then
    echo "generating ~1 GiB of mixed files in the volume ..."
    for d in $(seq 0 19); do
        mkdir -p "$mp/small/$d"
        for i in $(seq 0 999); do
            head -c $((512 + (i * 37 % 4096))) /dev/urandom | base64 -w 100 >"$mp/small/$d/rec-$i.json"
        done
    done
    mkdir -p "$mp/logs" "$mp/segments"
    for i in $(seq 1 150); do
        seq 1 40000 | sed "s/^/2026-11-24T12:00:00Z INFO kafka offset=$i /" | head -c 1048576 >"$mp/logs/server-$i.log" || true
    done
    head -c 400M /dev/urandom >"$mp/segments/00000000000000000000.log"
    (head -c 200M /dev/urandom; head -c 200M /dev/zero) >"$mp/segments/00000000000001234567.log"
    touch "$mp/.done"
fi
echo "volume: $(find "$mp" -type f | wc -l) files, $(($(du -sb "$mp" | cut -f1) / 1048576)) MiB"
echo "load average at start: $(cut -d" " -f1-3 /proc/loadavg)"
"$bin" keygen --out "$work/key" >/dev/null 2>&1 || true
# a container that is never started, for the raw GET
reader=$(api POST /containers/create -H 'Content-Type: application/json' \
    -d '{"Image":"zb-bench-busybox:2","Cmd":["/bin/busybox","true"],"HostConfig":{"Binds":["bench_data:/data:ro"]}}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Id"])')

parts=${BENCH_DOCKER_PARTS:-all}
tar_czf() {
    local id
    mkdir -p "$work/out"
    id=$(api POST /containers/create -H 'Content-Type: application/json' -d "{\"Image\":\"zb-bench-busybox:2\",
        \"Cmd\":[\"/bin/busybox\",\"tar\",\"czf\",\"/backup/backup.tar.gz\",\"/data\"],
        \"HostConfig\":{\"Binds\":[\"bench_data:/data\",\"$work/out:/backup\"]}}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Id"])')
    api POST "/containers/$id/start" >/dev/null
    api POST "/containers/$id/wait" >/dev/null
    api DELETE "/containers/$id" >/dev/null
}
export -f tar_czf api
export work sock
api_get="GET /containers/{id}/archive"
api_backup="zakpos-backup backup --volume --volume-api"
tar_czf_name="busybox tar czf in a container"
# the tar czf container takes five times as long: BENCH_TAR_CZF_REPEAT runs
# of it (default BENCH_REPEAT; 0 leaves it out, for CPU figures alone)
tar_czf_repeat=${BENCH_TAR_CZF_REPEAT:-${BENCH_REPEAT:-3}}
if [ "$parts" = all ] || [ "$parts" = api ]; then
    # in turns, one run of each per round, the order reversed every second
    # round (GET first in odd rounds, the backup first in even ones): the
    # two are close, and the machine's speed drifts between rounds
    BENCH_ALTERNATE=1 bench_interleave "$api_get" "" \
        "curl -sf --unix-socket '$sock' -o /dev/null 'http://d/v1.41/containers/$reader/archive?path=/data/.'" \
        "$api_backup" "rm -rf '$work/repo'" \
        "'$bin' --log-format json backup --repo '$work/repo' --recipient '$work/key.pub' --volume bench_data --volume-api"
    if [ "$tar_czf_repeat" -gt 0 ]; then
        BENCH_REPEAT=$tar_czf_repeat bench_run "$tar_czf_name" -- bash -c tar_czf
    fi
fi
api_ratios() {
    echo "backup --volume-api / raw GET: $(bench_ratio "$api_backup" "$api_get") as medians, $(bench_pair_ratio "$api_backup" "$api_get") as the median of the rounds' own ratios (target <= 1.05)"
    if [ "$tar_czf_repeat" -gt 0 ]; then
        [ -s "$work/out/backup.tar.gz" ] || { echo "bench: the tar czf container wrote nothing" >&2; exit 1; }
        echo "backup --volume-api / tar czf method: $(bench_ratio "$api_backup" "$tar_czf_name") (target <= 0.20)"
    fi
}
if [ "$parts" = api ]; then
    api DELETE "/containers/$reader?force=1" >/dev/null
    echo
    echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
    api_ratios
    echo "peak RSS KiB: API $(bench_value "$api_backup" 3) (target <= 65536)"
    exit 0
fi
bench_run "tar --xattrs --acls --sparse | zstd -3 -T0" -- \
    bash -c "tar --xattrs --acls --sparse -cf - -C '$mp' . | zstd -q -f -3 -T0 -o '$work/direct.tar.zst'"
[ "$parts" = all ] && BENCH_BEFORE_EACH="rm -rf '$work/repo-direct'" bench_run "zakpos-backup backup --volume (direct)" -- \
    "$bin" --log-format json backup --repo "$work/repo-direct" --recipient "$work/key.pub" --volume bench_data
BENCH_BEFORE_EACH="rm -rf '$work/repo-agent'" bench_run "zakpos-backup backup --volume --volume-agent" -- \
    "$bin" --log-format json backup --repo "$work/repo-agent" --recipient "$work/key.pub" --volume bench_data --volume-agent
[ -n "${ZB_FAULT_BIN:-}" ] && BENCH_BEFORE_EACH="rm -rf '$work/repo-attach'" bench_run "backup --volume-agent, attach API" -- \
    env ZAKPOS_BACKUP_TEST_AGENT_SOCKET=elsewhere "$ZB_FAULT_BIN" --log-format json backup --repo "$work/repo-attach" \
    --recipient "$work/key.pub" --volume bench_data --volume-agent
BENCH_BEFORE_EACH="rm -rf '$work/untar' && mkdir '$work/untar'" bench_run "zstd -d | tar --xattrs --acls -x" -- \
    bash -c "zstd -q -d -c '$work/direct.tar.zst' | tar --xattrs --acls -xf - -C '$work/untar'"
rm -rf "$work/untar"
agent_archive=$(ls "$work"/repo-agent/*.zbk | tail -1)
BENCH_BEFORE_EACH="api DELETE /volumes/bench_restored >/dev/null 2>&1 || true" bench_run "zakpos-backup restore --volume-agent" -- \
    "$bin" --log-format json restore --key "$work/key" "$agent_archive" --volume bench_data=bench_restored --volume-agent
[ -n "${ZB_FAULT_BIN:-}" ] && BENCH_BEFORE_EACH="api DELETE /volumes/bench_restored >/dev/null 2>&1 || true" bench_run "restore --volume-agent, attach API" -- \
    env ZAKPOS_BACKUP_TEST_AGENT_SOCKET=elsewhere "$ZB_FAULT_BIN" --log-format json restore --key "$work/key" \
    "$agent_archive" --volume bench_data=bench_restored --volume-agent
api DELETE /volumes/bench_restored >/dev/null 2>&1 || true
api DELETE "/containers/$reader?force=1" >/dev/null

echo
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$parts" = agent ]; then
    echo "backup --volume-agent / tar --xattrs --acls --sparse|zstd: $(bench_ratio "zakpos-backup backup --volume --volume-agent" "tar --xattrs --acls --sparse | zstd -3 -T0") (target <= 1.10)"
    echo "restore --volume-agent / zstd -d|tar --xattrs --acls -x: $(bench_ratio "zakpos-backup restore --volume-agent" "zstd -d | tar --xattrs --acls -x") (target <= 1.10)"
    exit 0
fi
api_ratios
[ "$tar_czf_repeat" -eq 0 ] || echo "sizes: zakpos-backup $(stat -c %s "$(ls "$work"/repo/*.zbk | tail -1)") bytes, tar czf $(stat -c %s "$work/out/backup.tar.gz") bytes"
echo "backup --volume (direct) / tar --xattrs --acls --sparse|zstd: $(bench_ratio "zakpos-backup backup --volume (direct)" "tar --xattrs --acls --sparse | zstd -3 -T0") (target <= 1.10)"
echo "backup --volume-agent / tar --xattrs --acls --sparse|zstd: $(bench_ratio "zakpos-backup backup --volume --volume-agent" "tar --xattrs --acls --sparse | zstd -3 -T0") (target <= 1.10)"
echo "restore --volume-agent / zstd -d|tar --xattrs --acls -x: $(bench_ratio "zakpos-backup restore --volume-agent" "zstd -d | tar --xattrs --acls -x") (target <= 1.10)"
echo "peak RSS KiB: API $(bench_value "zakpos-backup backup --volume --volume-api" 3), direct $(bench_value "zakpos-backup backup --volume (direct)" 3), agent backup $(bench_value "zakpos-backup backup --volume --volume-agent" 3), agent restore $(bench_value "zakpos-backup restore --volume-agent" 3) (target <= 65536)"
