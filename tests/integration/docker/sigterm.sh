# SIGTERM or SIGINT stops a command in the phase it is in, without finishing
# the phase first: while a volume is read and compressed at level 19 with
# workers (a zstd job in flight: the archive stops growing), while an
# exec-pre hook runs (the backup does not wait for it), and while a restore
# uploads; the cleanup (services started again, helper removed, .partial
# removed) is done when the process is gone. Compose kills the process after
# the services' stop_grace_period: every service that runs the tool sets one
# that covers ZB_CLEANUP_SECONDS and the 2 s.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/docker.sh"
zb_test_begin
# every Compose service that runs the tool gives it the 2 s to stop and the
# cleanup budget (ZB_CLEANUP_SECONDS) before Compose kills it
cleanup=$(sed -n 's/^#define ZB_CLEANUP_SECONDS \([0-9]*\)$/\1/p' "$ZB_SOURCE_DIR/include/zakpos_backup/common/signal.h")
grace=$(python3 - "$ZB_SOURCE_DIR/packaging/docker/docker-compose.backup.yml" "$cleanup" <<'PY'
import re, sys, yaml
services = yaml.safe_load(open(sys.argv[1]))["services"]
need = int(sys.argv[2]) + 2
shortest = None
for name, s in services.items():
    if not str(s.get("image", "")).startswith("zakpos-backup:"):
        continue
    m = re.fullmatch(r"(\d+)s", str(s.get("stop_grace_period", "10s")))  # Compose's default: 10 s
    seconds = int(m.group(1)) if m else 0
    if seconds < need:
        print("service %s: stop_grace_period %ss, less than 2 s + %s s of cleanup" % (name, seconds, sys.argv[2]), file=sys.stderr)
    shortest = seconds if shortest is None else min(shortest, seconds)
print(shortest or 0)
PY
) 2>"$ZB_TMP/grace.err"
if [ -n "$cleanup" ] && [ "$grace" -ge $((cleanup + 2)) ]; then zb_pass; else zb_fail "the Compose grace period does not cover the cleanup: $(cat "$ZB_TMP/grace.err")"; fi
zb_docker_setup
zb_docker_volume kafka_data
# text that zstd compresses slowly at level 19 (random bytes it skips fast),
# so the backup is still compressing when the signal comes
head -c 30M /dev/urandom | base64 >"$(zb_volume_dir kafka_data)/segment.log"
zb_docker_run kafka kafka_data '{"zakpos-backup.stop-during-backup":"true"}'
helpers() { zb_dapi GET '/containers/json?all=1&filters=%7B%22label%22%3A%5B%22zakpos-backup.helper%22%5D%7D'; }

# the largest .partial archive seen so far in repo
largest_partial=0
note_partial() {
    local size
    size=$(find repo -maxdepth 1 -name '.*.partial' -printf '%s\n' | sort -n | tail -1)
    [ "${size:-0}" -le "$largest_partial" ] || largest_partial=$size
}
# stop SIGNAL PID WHAT: sends the signal and waits for the process to end
# (noting the .partial archive's growth meanwhile); the checks after it say
# in which phase it acted. Prints the latency, for the record only.
stop() {
    local sig=$1 pid=$2 what=$3 start end
    ended() { note_partial; ! kill -0 "$pid" 2>/dev/null; }
    start=$(date +%s%N)
    kill "-$sig" "$pid"
    if zb_wait_until ended; then zb_pass; else
        zb_fail "$what: still running after SIG$sig"
        kill -9 "$pid"
    fi
    end=$(date +%s%N)
    wait "$pid"
    ZB_LAST_RC=$?
    echo "latency $what: $(((end - start) / 1000000)) ms"
}

# 1. reading and compressing at level 19 with two workers
"$ZB_BIN" --log-format text backup --repo repo --recipient key.pub --volume kafka_data --volume-api --zstd-level 19 --zstd-workers 2 \
    >out 2>err &
pid=$!
zb_wait_state kafka exited
compressed_some() { [ "$(find repo -maxdepth 1 -name '.*.partial' -size +256k | wc -l)" -gt 0 ]; }
zb_wait_until compressed_some
note_partial
stop TERM "$pid" "backup compressing at level 19"
zb_expect_equal "$ZB_LAST_RC" "130" "the backup exits 130"
zb_expect_contains "$(cat err)" "backup of volume kafka_data: interrupted by signal 15" "it stopped reading the volume"
# 30 MiB of random bytes, base64: no compressor stores them in less than
# 30 MiB; a backup that went on after the signal would have got past half
if [ "$largest_partial" -lt $((15 << 20)) ]; then zb_pass; else
    zb_fail "the backup went on compressing after SIGTERM: its archive reached $largest_partial bytes"
fi
zb_expect_equal "$(zb_docker_state kafka)" "running" "kafka runs after SIGTERM"
zb_expect_equal "$(helpers)" "[]" "no helper container is left"
zb_expect_equal "$(find repo -maxdepth 1 -name '.*.partial' | wc -l)" "0" "no .partial is left"
zb_expect_equal "$(zb_run_records)" "0" "no run record is left"

# 2. while an exec-pre hook runs (it would take a minute)
zb_docker_run slowhook kafka_data '{"zakpos-backup.exec-pre":"sleep 60"}'
"$ZB_BIN" --log-format text backup --repo repo --recipient key.pub --volume kafka_data >out 2>err &
pid=$!
hook_runs() { zb_dapi GET /containers/slowhook/top | grep -q 'sleep 60'; }
zb_wait_until hook_runs
stop INT "$pid" "backup during an exec-pre hook"
zb_expect_equal "$ZB_LAST_RC" "130" "the backup exits 130"
zb_expect_contains "$(cat err)" "/start: interrupted by signal 2" "it stopped waiting for the hook's exec"
hook_runs && zb_pass || zb_fail "the backup waited for its exec-pre hook to end"
zb_expect_equal "$(zb_docker_state kafka)" "running" "kafka was never stopped"
zb_dapi DELETE "/containers/slowhook?force=1" >/dev/null

# 3. a restore uploading the volume
zb_expect_status 0 "a backup to restore" -- "$ZB_BIN" -q backup --repo repo --recipient key.pub --volume kafka_data --zstd-level 1
archive=$("$ZB_BIN" latest --repo repo)
"$ZB_BIN" --log-format text restore --key key "$archive" --volume kafka_data=kafka_copy --volume-api >out 2>err &
pid=$!
has_helper() { [ "$(helpers)" != "[]" ]; }
zb_wait_until has_helper
stop TERM "$pid" "restore uploading"
if [ "$ZB_LAST_RC" = 130 ] || [ "$ZB_LAST_RC" = 0 ]; then zb_pass; else zb_fail "restore after SIGTERM: exit $ZB_LAST_RC"; cat err >&2; fi
zb_expect_equal "$(helpers)" "[]" "no helper container is left after the restore"
zb_test_end
