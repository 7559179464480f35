# The manual page covers the program: every command, every option each one
# accepts, every global option, every exit status in README's words, every
# environment variable (man_check.py); and the checker itself notices a page
# that lost an option or an exit status.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
page=$ZB_SOURCE_DIR/docs/man/zakpos-backup.1
check() { python3 "$ZB_SOURCE_DIR/tests/packaging/man_check.py" --binary "$ZB_BIN" --source "$ZB_SOURCE_DIR" --man "$@"; }

zb_expect_status 0 "the page documents the program" -- check "$page"

# a page that lost something is refused, naming what is missing
sed '/^\.BI \\-\\-pg\\-lock\\-timeout/d' "$page" >"$ZB_TMP/no-option.1"
zb_expect_status 1 "a page without backup --pg-lock-timeout" -- check "$ZB_TMP/no-option.1"
zb_expect_contains "$ZB_LAST_OUTPUT" "section backup lacks --pg-lock-timeout" "names the option"
sed '/^\.B 12$/,+1d' "$page" >"$ZB_TMP/no-status.1"
zb_expect_status 1 "a page without exit status 12" -- check "$ZB_TMP/no-status.1"
zb_expect_contains "$ZB_LAST_OUTPUT" "EXIT STATUS lists" "names the exit statuses"
sed 's/^\.SS restore$/.SS recover/' "$page" >"$ZB_TMP/no-command.1"
zb_expect_status 1 "a page without a restore section" -- check "$ZB_TMP/no-command.1"
zb_expect_contains "$ZB_LAST_OUTPUT" "command restore has no section" "names the command"
zb_test_end
