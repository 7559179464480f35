# A test killed with SIGKILL (as ctest's timeout kills) runs no cleanup: its
# PostgreSQL server (a daemon, outside the test's process tree) and a server
# the kill did not reach must still be stopped, and its folder removed, by the
# watchdog the test library starts.
source "$ZB_TEST_LIB/common.sh"
source "$ZB_TEST_LIB/pg.sh"
zb_test_begin

inner=$ZB_TMP/inner.sh
cat >"$inner" <<'INNER'
source "$ZB_TEST_LIB/common.sh"
source "$ZB_TEST_LIB/pg.sh"
zb_test_begin
zb_pg_start
echo "$ZB_TMP" >"$1/tmp"
head -1 "$ZB_PG_DATA/postmaster.pid" >"$1/postmaster"
# a server that outlives the shell's own kill: its command line names the folder
setsid bash -c 'exec -a "zb-fake-server $0" sleep 600' "$ZB_TMP" </dev/null >/dev/null 2>&1 &
echo ready >"$1/ready"
sleep 600
INNER
zb_start_inner "$inner"
inner_pid=$ZB_INNER_PID
for _ in $(seq 1 600); do
    [ -f "$ZB_TMP/ready" ] && break
    kill -0 "$inner_pid" 2>/dev/null || break
    sleep 0.1
done
[ -f "$ZB_TMP/ready" ] || { zb_fail "the inner test did not start its server"; exit 1; }
inner_tmp=$(cat "$ZB_TMP/tmp")
postmaster=$(cat "$ZB_TMP/postmaster")
zb_on_exit "kill -9 $postmaster"
kill -0 "$postmaster" 2>/dev/null && zb_pass || zb_fail "the inner server is not running"

kill -9 -- "-$inner_pid"
gone() { ! kill -0 "$postmaster" 2>/dev/null && [ -z "$(pgrep -f -- "zb-fake-server $inner_tmp")" ] && [ ! -d "$inner_tmp" ]; }
for _ in $(seq 1 60); do
    gone && break
    sleep 1
done
! kill -0 "$postmaster" 2>/dev/null && zb_pass || zb_fail "the killed test's PostgreSQL server is still running"
[ -z "$(pgrep -f -- "zb-fake-server $inner_tmp")" ] && zb_pass || zb_fail "a server of the killed test is still running"
[ ! -d "$inner_tmp" ] && zb_pass || zb_fail "the killed test's folder $inner_tmp is still there"
zb_test_end
