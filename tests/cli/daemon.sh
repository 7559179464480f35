# The daemon fires a job on its schedule (every minute here), reloads its
# configuration on SIGHUP, and on SIGTERM in the middle of a run stops the
# run cleanly (no partial archive left) and exits 0.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
cd "$ZB_TMP"
"$ZB_BIN" keygen --out key >/dev/null 2>&1
mkdir -p src
echo "appendonly yes" >src/redis.conf
write_config() {
    {
        printf '[repository]\npath = %s/repo\nrecipients = %s/key.pub\nzstd_level = %s\n' "$ZB_TMP" "$ZB_TMP" "$1"
        zb_config_paths_only
        printf '[job every-minute]\nschedule = * * * * *\naction = backup\n'
    } >zb.conf
}
write_config 3
"$ZB_BIN" --config zb.conf --log-format text daemon >daemon.log 2>&1 &
daemon=$!
zb_on_exit "kill -9 $daemon"
for _ in $(seq 1 150); do
    grep -q "job every-minute succeeded" daemon.log && break
    sleep 0.5
done
zb_expect_equal "$(zb_archives_in repo | wc -l)" "1" "the job ran on its schedule"
zb_expect_contains "$(cat daemon.log)" "job every-minute succeeded" "the daemon saw it succeed"

# a slow run: much incompressible data at zstd level 19, after a reload
head -c 200M /dev/urandom >src/big
write_config 19
kill -HUP "$daemon"
for _ in $(seq 1 150); do
    ls -A repo | grep -q partial && break
    sleep 0.5
done
zb_expect_contains "$(cat daemon.log)" "configuration reloaded" "SIGHUP reloads"
if ls -A repo | grep -q partial; then zb_pass; else zb_fail "the second run did not start"; fi
sleep 1
kill -TERM "$daemon"
wait "$daemon"
zb_expect_equal "$?" "0" "the daemon exits 0 on SIGTERM"
zb_expect_contains "$(cat daemon.log)" "stopping the running job every-minute" "it stopped the run"
zb_expect_equal "$(ls -A repo | grep -c partial)" "0" "no partial archive left"
zb_expect_equal "$(zb_archives_in repo | wc -l)" "1" "the interrupted run published nothing"
# this test's runs only (they work in its folder): tests side by side run daemons with the same job name
here=$(pwd -P)
survivors=""
for p in $(pgrep -f "run every-minute"); do
    [ "$(readlink "/proc/$p/cwd" 2>/dev/null)" = "$here" ] && survivors="$survivors $p"
done
if [ -n "$survivors" ]; then zb_fail "a run survived the daemon:$survivors"; else zb_pass; fi
# the runs log as the daemon does: text here, never JSON lines in between
zb_expect_contains "$(cat daemon.log)" "zakpos-backup: error: job every-minute" "the interrupted run said so"
zb_expect_equal "$(grep -c '^{' daemon.log)" "0" "the runs log in the daemon's format"
zb_test_end
