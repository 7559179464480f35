# A SIGINT or SIGTERM that arrives during the final flush of a backup, after
# the last byte reached the temporary file and before it is published, still
# stops the run: exit 130, no archive, no partial file. No outside timing can
# hit that moment, so the test build of the tool raises the signal there.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
cd "$ZB_TMP"
mkdir src
seq 1 20000 >src/list.txt
"$ZB_BIN" keygen --out key >/dev/null 2>&1

zb_expect_status 0 "the test build backs up when no fault is asked for" -- \
    "$ZB_FAULT_BIN" backup --repo control --recipient key.pub --path src
zb_expect_equal "$(zb_archives_in control | wc -l)" "1" "it published one archive"
for sig in 2 15; do
    rm -rf repo
    zb_expect_status 130 "signal $sig during the final flush" -- env ZB_FAULT_AT=final-flush ZB_FAULT_SIGNAL=$sig \
        "$ZB_FAULT_BIN" --log-format text backup --repo repo --recipient key.pub --path src
    zb_expect_contains "$ZB_LAST_OUTPUT" "fault point final-flush reached" "the signal came at the end of the flush"
    zb_expect_contains "$ZB_LAST_OUTPUT" "interrupted by signal $sig" "the interruption is reported"
    zb_expect_equal "$(zb_archives_in repo)" "" "nothing is published after signal $sig"
    zb_expect_equal "$(ls -A repo | grep -v '^\.zakpos-backup\.lock$')" "" "no partial file is left after signal $sig"
done
zb_test_end
