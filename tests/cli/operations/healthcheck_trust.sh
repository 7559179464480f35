# healthcheck counts only archives whose header checks out and whose time is
# not in the future; no repository is "unhealthy" (exit 1), as documented.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
cd "$ZB_TMP"
zb_expect_status 1 "no repository" -- "$ZB_BIN" healthcheck --repo "$ZB_TMP/none"
zb_expect_contains "$ZB_LAST_OUTPUT" "unhealthy: cannot open repository $ZB_TMP/none" "says why"
mkdir -p src repo && echo data >src/f
old=$(date -u -d '3 days ago' +%Y%m%dT%H%M%SZ)
"$ZB_BIN" backup --repo repo --no-encryption --path src 2>/dev/null | xargs -I{} mv {} "repo/zakpos-$old.zbk"
zb_expect_status 1 "a three-day-old backup" -- "$ZB_BIN" healthcheck --repo repo
# junk named like a future archive, and junk named like one made now
printf 'junk\n' >repo/zakpos-20990101T000000Z.zbk
zb_expect_status 1 "a junk file dated 2099 does not count" -- "$ZB_BIN" --log-format text healthcheck --repo repo
zb_expect_contains "$ZB_LAST_OUTPUT" "unhealthy: last backup 72h" "the real archive's age"
zb_expect_contains "$ZB_LAST_OUTPUT" "zakpos-20990101T000000Z.zbk does not count as a backup: dated in the future" "says why"
printf 'junk\n' >"repo/zakpos-$(date -u +%Y%m%dT%H%M%SZ).zbk"
zb_expect_status 1 "a junk file dated now does not count" -- "$ZB_BIN" --log-format text healthcheck --repo repo
zb_expect_contains "$ZB_LAST_OUTPUT" "does not count as a backup: " "names the junk"
zb_expect_contains "$ZB_LAST_OUTPUT" "unhealthy: last backup 72h" "still the real archive's age"
# a real archive copied under a future name is dated in the future too
cp "repo/zakpos-$old.zbk" repo/zakpos-20980101T000000Z.zbk
zb_expect_status 1 "a real archive named for 2098" -- "$ZB_BIN" healthcheck --repo repo
"$ZB_BIN" backup --repo repo --no-encryption --path src >/dev/null 2>&1
zb_expect_status 0 "a fresh real backup is healthy" -- "$ZB_BIN" healthcheck --repo repo
zb_expect_contains "$ZB_LAST_OUTPUT" "healthy: last backup" "reports it"
zb_test_end
