# `run JOB` for cron: a job from the config runs once, silent on success,
# prunes when the job says so, updates the metrics textfile; a failure is a
# clear message, the failure's exit status and a failure in the metrics.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
cd "$ZB_TMP"
"$ZB_BIN" keygen --out key >/dev/null 2>&1
mkdir -p src/config
echo "appendonly yes" >src/config/redis.conf
cat >zb.conf <<CONF
[repository]
path = $ZB_TMP/repo
recipients = $ZB_TMP/key.pub
keep_last = 2
keep_daily = 0
keep_weekly = 0
keep_monthly = 0

[postgres]
enabled = no

[docker]
enabled = no

[paths]
data = $ZB_TMP/src

[daemon]
state_dir = $ZB_TMP/state
metrics_file = $ZB_TMP/metrics.prom

[job nightly]
schedule = 0 2 * * *
action = backup
prune = yes
CONF
for i in 1 2 3; do
    zb_expect_status 0 "run nightly ($i)" -- "$ZB_BIN" --config zb.conf run nightly
    zb_expect_equal "$ZB_LAST_OUTPUT" "" "silent on success ($i)"
done
zb_expect_equal "$(zb_archives_in repo | wc -l)" "2" "pruned to keep_last = 2"
metrics=$(cat metrics.prom)
zb_expect_contains "$metrics" 'zakpos_backup_last_run_success{job="nightly"} 1' "success in the metrics"
zb_expect_contains "$metrics" 'zakpos_backup_failures_total{job="nightly"} 0' "no failure counted"
zb_expect_contains "$metrics" '# TYPE zakpos_backup_last_success_timestamp_seconds gauge' "textfile collector format"
bytes=$(stat -c %s "$("$ZB_BIN" latest --repo repo)")
zb_expect_contains "$metrics" "zakpos_backup_last_archive_bytes{job=\"nightly\"} $bytes" "the archive's size"

zb_expect_status 0 "--verbose says what it did" -- "$ZB_BIN" --config zb.conf --log-format text run nightly --verbose
zb_expect_contains "$ZB_LAST_OUTPUT" "job nightly done" "a summary line"

rm -rf src
zb_expect_status 13 "a source that is gone" -- "$ZB_BIN" --config zb.conf --log-format text run nightly
zb_expect_contains "$(echo "$ZB_LAST_OUTPUT" | head -1)" "zakpos-backup: error: job nightly: " "one line naming the job"
zb_expect_contains "$ZB_LAST_OUTPUT" "$ZB_TMP/src" "and the missing folder"
zb_expect_contains "$(cat metrics.prom)" 'zakpos_backup_last_run_success{job="nightly"} 0' "failure in the metrics"
zb_expect_contains "$(cat metrics.prom)" 'zakpos_backup_failures_total{job="nightly"} 1' "failure counted"

zb_expect_status 3 "an unknown job" -- "$ZB_BIN" --config zb.conf --log-format text run weekly
zb_expect_contains "$ZB_LAST_OUTPUT" "hint: the jobs are: nightly" "lists the jobs"
zb_test_end
