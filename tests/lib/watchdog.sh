# Stops what a test left running when the test itself is killed without its
# cleanup running (ctest's timeout sends SIGKILL, which no trap sees). Started
# by zb_test_begin, detached from the test's process tree so that the same
# kill does not reach it, and with no hold on the test's output, which ctest
# waits on.
#
# usage: ZB_WATCH_TMP=TEST_TMP bash watchdog.sh TEST_PID
# (the folder comes through the environment so that this script's own
# command line, and its subshells', never match the search below)
# Every server a test starts lives in TEST_TMP (data, sockets, logs), so
# the folder finds them: PostgreSQL by its postmaster.pid, everything else
# (dockerd and its containerd shims, s3rver, sshd, lighttpd) by the folder
# in its command line; the processes of the test dockerd's containers by
# their root directory under the folder. After a normal end the folder is
# gone and this exits.
set -u
. "$(dirname "$0")/rooted.sh"
test_pid=$1
tmp=${ZB_WATCH_TMP:?}

while kill -0 "$test_pid" 2>/dev/null; do
    sleep 1
done
[ -d "$tmp" ] || exit 0

others() { pgrep -f -- "$tmp"; }

# immediate shutdown: the server's children die with it
for pidfile in $(find "$tmp" -maxdepth 3 -name postmaster.pid 2>/dev/null); do
    pid=$(head -1 "$pidfile" 2>/dev/null)
    [ -n "$pid" ] && kill -QUIT "$pid" 2>/dev/null
done
others | xargs -r kill 2>/dev/null
for _ in $(seq 1 50); do
    [ -z "$(others)" ] && break
    sleep 0.2
done
others | xargs -r kill -9 2>/dev/null
for pidfile in $(find "$tmp" -maxdepth 3 -name postmaster.pid 2>/dev/null); do
    pid=$(head -1 "$pidfile" 2>/dev/null)
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
done
# with dockerd and the shims gone nothing restarts a container's processes
zb_kill_rooted_under "$tmp"
sleep 0.5
grep -o " $tmp/[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
rm -rf "$tmp"
