# Progress under a pseudo-terminal: every line names its phase; a restore's
# bar counts archive bytes against the archive's size, never passes it, and
# after reading come the phases that follow (publishing); a backup without a
# known total shows no bar and no ETA; verify --restore names its checking.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
cd "$ZB_TMP"
pty_run() { python3 "$ZB_SOURCE_DIR/tests/tools/pty_run.py" "$@"; }
check() { python3 "$ZB_SOURCE_DIR/tests/tools/progress_check.py" "$@"; }
"$ZB_BIN" keygen --out key >/dev/null 2>&1
mkdir src && head -c 60M /dev/urandom >src/big && echo small >src/f
zb_expect_status 0 "backup on a terminal" -- pty_run backup.tty "$ZB_BIN" backup --repo repo --recipient key.pub --path src
zb_expect_equal "$(check backup.tty backup - 'reading folders,publishing the archive')" "ok" "backup's phases"
zb_expect_not_contains "$(tr '\r' '\n' <backup.tty | grep '^backup: ')" "ETA" "no ETA without a known total"
archive=$(zb_archives_in repo)
zb_expect_status 0 "restore on a terminal" -- pty_run restore.tty "$ZB_BIN" restore --key key "$archive" --path "src=$ZB_TMP/out"
zb_expect_equal "$(check restore.tty restore "$(stat -c %s "$archive")" 'reading,publishing the folders')" "ok" \
    "restore: one unit for position and total, then the phases after reading"
zb_expect_contains "$(tr '\r' '\n' <restore.tty)" "restore: reading [" "a bar while reading"
zb_expect_same_tree src out "restored"
zb_expect_status 0 "verify --restore on a terminal" -- pty_run verify.tty "$ZB_BIN" verify --restore --key key \
    --scratch-dir "$ZB_TMP" "$archive"
zb_expect_equal "$(check verify.tty 'verify --restore' - 'verifying path src')" "ok" "names what it checks"
# no progress line when stderr is no terminal
"$ZB_BIN" restore --key key "$archive" --path "src=$ZB_TMP/out2" >plain.out 2>&1
zb_expect_not_contains "$(cat plain.out)" "reading [" "no bar off a terminal"
zb_test_end
