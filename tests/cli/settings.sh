# The settings table, the configuration keys `config check` prints, the
# commands' option parsers and help, docs/CONFIG.md and the manual page agree
# (settings_check.py); and the checker notices a document that drifted.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
md=$ZB_SOURCE_DIR/docs/CONFIG.md
page=$ZB_SOURCE_DIR/docs/man/zakpos-backup.1
check() { python3 "$ZB_SOURCE_DIR/tests/cli/settings_check.py" --binary "$ZB_BIN" "$@"; }

zb_expect_status 0 "the table and its documents agree" -- check --config-md "$md" --man "$page"

sed '/^| `daemon.lock_wait`/d' "$md" >"$ZB_TMP/CONFIG.md"
zb_expect_status 1 "CONFIG.md without daemon.lock_wait" -- check --config-md "$ZB_TMP/CONFIG.md" --man "$page"
zb_expect_contains "$ZB_LAST_OUTPUT" "key table is not the table's" "names the drifted document"
sed 's/^\.B postgres\.jobs$/.B postgres.workers/' "$page" >"$ZB_TMP/page.1"
zb_expect_status 1 "a page that renamed postgres.jobs" -- check --config-md "$md" --man "$ZB_TMP/page.1"
zb_expect_contains "$ZB_LAST_OUTPUT" "key list is not the table's" "names the drifted page"
zb_test_end
