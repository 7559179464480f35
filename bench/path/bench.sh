#!/usr/bin/env bash
# Host-path backup against tar | zstd -3 -T0 on a ~1 GiB tree of mixed files,
# in one run. Prints wall times, peak RSS and the ratio the project targets
# (backup <= 1.1x tar|zstd, peak RSS <= 64 MiB).
#
#   bench/path/bench.sh [WORKDIR]     (default /var/tmp/zb-bench-path)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/bench/lib.sh"
work=${1:-/var/tmp/zb-bench-path}
bin=${ZB_BIN:-$root/build/zakpos-backup}
mkdir -p "$work"
BENCH_RESULTS=$work/results.txt
: >"$BENCH_RESULTS"

tree=$work/tree
if [ ! -f "$work/tree.done" ]; then
    rm -rf "$tree"
    mkdir -p "$tree/config" "$tree/logs" "$tree/media" "$tree/state"
    echo "generating the tree in $tree ..."
    # 20,000 small JSON-like records (1-6 KiB): many small files.
    for d in $(seq 0 19); do
        mkdir -p "$tree/state/$d"
        for i in $(seq 0 999); do
            head -c $((1024 + (i * 37 % 5120))) /dev/urandom | base64 -w 100 |
                sed 's/^/{"order_id":"/; s/$/","status":"paid","total":"12.50"}/' >"$tree/state/$d/rec-$i.json"
        done
    done
    # 200 medium log files (~1 MiB each) of repetitive text.
    for i in $(seq 1 200); do
        seq 1 40000 | sed "s/^/2026-11-24T12:00:00Z INFO api request id=$i path=\/api\/v1\/orders status=200 ms=/" |
            head -c 1048576 >"$tree/logs/api-$i.log" || true # head closes the pipe early
    done
    # Large files: 300 MiB incompressible, 2 x 250 MiB half-compressible.
    head -c 300M /dev/urandom >"$tree/media/photos.bin"
    for i in 1 2; do
        (head -c 125M /dev/urandom; head -c 125M /dev/zero | tr '\0' 'a') >"$tree/media/blob-$i.bin" || true
    done
    touch "$work/tree.done"
fi
size=$(du -sb "$tree" | cut -f1)
files=$(find "$tree" -type f | wc -l)
echo "tree: $files files, $((size / 1048576)) MiB"

"$bin" keygen --out "$work/key" >/dev/null 2>&1 || true
rm -rf "$work/repo" "$work/tar.zst"
bench_run "tar|zstd -3 -T0" -- bash -c "tar -cf - -C '$tree' . | zstd -q -f -3 -T0 -o '$work/tar.zst'"
# The same, made as durable as an archive zakpos-backup publishes (fsync).
bench_run "tar|zstd -3 -T0 && sync" -- bash -c "tar -cf - -C '$tree' . | zstd -q -f -3 -T0 -o '$work/tar.zst' && sync '$work/tar.zst'"
BENCH_BEFORE_EACH="rm -rf '$work/repo'" bench_run "zakpos-backup backup --path" -- \
    "$bin" --log-format json backup --repo "$work/repo" --recipient "$work/key.pub" --path "tree=$tree"
archive=$(ls "$work"/repo/*.zbk | tail -1)
bench_run "zakpos-backup verify" -- "$bin" --log-format json verify --key "$work/key" "$archive"
bench_run "zstd -d | tar -t (rival read)" -- bash -c "zstd -q -d -c '$work/tar.zst' | tar -tf - >/dev/null"

echo
echo "archive sizes: zakpos-backup $(stat -c %s "$archive") bytes, tar|zstd $(stat -c %s "$work/tar.zst") bytes"
echo "backup / tar|zstd wall time: $(bench_ratio "zakpos-backup backup --path" "tar|zstd -3 -T0") (target <= 1.10)"
echo "backup / (tar|zstd && sync) wall time: $(bench_ratio "zakpos-backup backup --path" "tar|zstd -3 -T0 && sync") (same durability)"
echo "cpu seconds (user+sys): zakpos-backup $(bench_value "zakpos-backup backup --path" 4), tar|zstd $(bench_value "tar|zstd -3 -T0" 4)"
echo "backup peak RSS: $(( $(bench_value "zakpos-backup backup --path" 3) / 1024 )) MiB (target <= 64)"
echo "verify peak RSS: $(( $(bench_value "zakpos-backup verify" 3) / 1024 )) MiB"
rm -rf "$work/repo" "$work/tar.zst"
