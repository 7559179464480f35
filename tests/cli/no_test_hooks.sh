# The shipped binary reads no test hook: the settings only tests give (the
# toc format a backup writes, SQL run in a restored database before it is
# compared, the fault points) exist in the test build alone. Each string is
# looked for in both binaries, so a search that finds nothing anywhere
# cannot pass.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
for s in ZAKPOS_BACKUP_TEST_HOOK_SQL ZAKPOS_BACKUP_TEST_PG_TOC_FORMAT ZB_FAULT_AT ZB_FAULT_RUN ZB_FAULT_SIGNAL \
    pg-toc-format pg-before-compare-sql before-read-back final-flush; do
    if grep -q -a -F "$s" "$ZB_FAULT_BIN"; then zb_pass; else zb_fail "the test build lacks $s: this search proves nothing"; fi
    if grep -q -a -F "$s" "$ZB_BIN"; then zb_fail "the shipped binary contains $s"; else zb_pass; fi
done
zb_test_end
