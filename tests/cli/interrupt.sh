# An interrupted backup (SIGINT, SIGTERM, kill -9) never leaves a file that
# looks like a finished archive; the next backup works.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
cd "$ZB_TMP"
mkdir src
head -c 150M /dev/urandom >src/big
"$ZB_BIN" keygen --out key >/dev/null 2>&1

for sig in INT TERM KILL; do
    rm -rf repo
    # Level 19 on one thread is slow enough to be caught in the middle.
    "$ZB_BIN" backup --repo repo --recipient key.pub --zstd-level 19 --zstd-workers 0 --path src >out 2>err &
    pid=$!
    for _ in $(seq 1 50); do
        ls -A repo 2>/dev/null | grep -q partial && break
        sleep 0.1
    done
    sleep 0.5
    kill -s "$sig" "$pid"
    wait "$pid"
    rc=$?
    zb_expect_equal "$(zb_archives_in repo)" "" "no finished-looking archive after SIG$sig"
    zb_expect_equal "$(cat out)" "" "nothing printed on stdout after SIG$sig"
    if [ "$sig" = KILL ]; then
        zb_expect_equal "$rc" "137" "killed"
        zb_expect_status 0 "list after a kill" -- "$ZB_BIN" list --repo repo
        if echo "$ZB_LAST_OUTPUT" | grep -q partial; then zb_fail "list shows the partial file"; else zb_pass; fi
    else
        zb_expect_equal "$rc" "130" "exit status after SIG$sig"
        zb_expect_equal "$(ls -A repo | grep partial)" "" "the partial file is removed after SIG$sig"
        grep -q interrupted err && zb_pass || zb_fail "SIG$sig is not reported: $(cat err)"
    fi
done
zb_expect_status 0 "a backup after the interruptions" -- "$ZB_BIN" backup --repo repo --recipient key.pub --path src
zb_expect_equal "$(zb_archives_in repo | wc -l)" "1" "one finished archive"
zb_test_end
