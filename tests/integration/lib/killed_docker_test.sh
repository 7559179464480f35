# A Docker test killed with SIGKILL runs no cleanup: the watchdog stops its
# dockerd and shims, and must also stop its containers' processes, which
# outlive both (found running an hour later with their root deleted). The
# oracle is /proc: the container's first process and every process whose
# root directory is the container's root file system (by device and inode,
# read before the kill) are gone.
source "$ZB_TEST_LIB/common.sh"
source "$ZB_TEST_LIB/docker.sh"
zb_test_begin

inner=$ZB_TMP/inner.sh
cat >"$inner" <<'INNER'
source "$ZB_TEST_LIB/common.sh"
source "$ZB_TEST_LIB/docker.sh"
zb_test_begin
zb_docker_setup
zb_docker_volume zbv
zb_docker_run zbc zbv '{}'
zb_wait_state zbc running || exit 1
echo "$ZB_TMP" >"$1/tmp"
zb_dapi GET /containers/zbc/json | python3 -c 'import json,sys; print(json.load(sys.stdin)["State"]["Pid"])' >"$1/pid"
echo ready >"$1/ready"
sleep 600
INNER
zb_start_inner "$inner"
inner_pid=$ZB_INNER_PID
ready_or_gone() { [ -f "$ZB_TMP/ready" ] || ! kill -0 "$inner_pid" 2>/dev/null; }
zb_wait_until ready_or_gone
if [ ! -f "$ZB_TMP/ready" ]; then
    grep -q '^SKIP' "$ZB_TMP/inner.log" && { cat "$ZB_TMP/inner.log" >&2; exit 77; }
    zb_fail "the inner test did not start its container:"$'\n'"$(tail -20 "$ZB_TMP/inner.log")"
    exit 1
fi
inner_tmp=$(cat "$ZB_TMP/tmp")
container=$(cat "$ZB_TMP/pid")
root=$(stat -L -c '%d:%i' "/proc/$container/root")
# in_container: the processes whose root is the container's
in_container() {
    stat -L -c '%n %d:%i' /proc/[0-9]*/root 2>/dev/null | awk -v r="$root" '$2 == r { split($1, p, "/"); print p[3] }'
}
# a failing run must not leave them behind either
zb_on_exit "in_container | xargs -r kill -9"
[ -n "$root" ] && [ "$root" != "$(stat -L -c '%d:%i' /)" ] && zb_pass || zb_fail "the container's root is not its own folder ($root)"

kill -9 -- "-$inner_pid"
# the watchdog removes the folder last
zb_wait_until test ! -d "$inner_tmp"
[ ! -d "$inner_tmp" ] && zb_pass || zb_fail "the killed test's folder $inner_tmp is still there"
zb_expect_equal "$(in_container)" "" "processes rooted in the killed test's container"
[ "$(stat -L -c '%d:%i' "/proc/$container/root" 2>/dev/null)" != "$root" ] && zb_pass ||
    zb_fail "the container's first process $container is still running"
zb_test_end
