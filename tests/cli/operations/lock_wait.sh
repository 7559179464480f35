# The repository lock: jobs wait for a busy repository (--lock-wait), saying
# whom they wait for; reading commands take no lock at all.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
cd "$ZB_TMP"
export TZ=UTC
mkdir -p src repo && echo data >src/f
"$ZB_BIN" backup --repo repo --no-encryption --path src >/dev/null 2>&1
lock=repo/.zakpos-backup.lock
mkfifo release
# another run holds the lock until the test writes to the fifo
hold() {
    flock "$lock" sh -c "echo \$\$ >$lock; read x <release" &
    holder=$!
    zb_on_exit "kill $holder"
    for _ in $(seq 1 100); do [ -s "$lock" ] && ! flock -n "$lock" true && break; sleep 0.1; done
}
# waits_then_runs WHAT ERR-FILE PID EXPECTED-WAIT: the command started in the
# background says it waits for the holder; released, it must succeed
waits_then_runs() {
    local what=$1 err=$2 pid=$3
    for _ in $(seq 1 300); do grep -q "waiting up to" "$err" && break; sleep 0.1; done
    zb_expect_contains "$(cat "$err")" "in use by another run (pid $(cat "$lock")); waiting up to $4 for it" "$what: whom it waits for"
    echo go >release
    wait "$pid"
    zb_expect_equal "$?" "0" "$what ran once the lock was free"
}
hold
pid=$(cat "$lock")
zb_expect_status 0 "prune --dry-run reads without the lock" -- "$ZB_BIN" -q prune --repo repo --keep-last 1 --dry-run
zb_expect_status 0 "list reads without the lock" -- "$ZB_BIN" list --repo repo
zb_expect_status 0 "healthcheck reads without the lock" -- "$ZB_BIN" healthcheck --repo repo
zb_expect_status 12 "prune without waiting" -- "$ZB_BIN" --log-format text prune --repo repo --keep-last 1
zb_expect_contains "$ZB_LAST_OUTPUT" "in use by another run (pid $pid)" "names the holder"
zb_expect_status 12 "prune --lock-wait 1s gives up" -- "$ZB_BIN" --log-format text prune --repo repo --keep-last 1 --lock-wait 1s
zb_expect_contains "$ZB_LAST_OUTPUT" "waiting up to 1.0s for it" "said it waited"
zb_expect_contains "$ZB_LAST_OUTPUT" "(pid $pid) after waiting for it" "then gave up"

# a backup that waits, then runs once the holder is gone
"$ZB_BIN" --log-format text backup --repo repo --no-encryption --path src --lock-wait 10m >backup.out 2>backup.err &
waits_then_runs "the backup" backup.err $! 10m00s
zb_expect_equal "$(zb_archives_in repo | wc -l)" "2" "and published its archive"

# run JOB waits by default (daemon.lock_wait): two jobs due the same minute
{
    printf '[repository]\npath = %s/repo\nkeep_last = 1\n' "$ZB_TMP"
    zb_config_paths_only
    printf '[job tidy]\nschedule = 0 3 * * *\naction = prune\n'
} >zb.conf
hold
"$ZB_BIN" --config zb.conf --log-format text run tidy >run.out 2>run.err &
waits_then_runs "run JOB (an hour by default)" run.err $! 1h00m00s
zb_expect_equal "$(zb_archives_in repo | wc -l)" "1" "and pruned"
zb_expect_status 2 "a bad duration" -- "$ZB_BIN" prune --repo repo --keep-last 1 --lock-wait soon
zb_test_end
