# healthcheck: exit 0 while the newest archive is younger than the limit.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
cd "$ZB_TMP"
export ZAKPOS_BACKUP_REPO=$ZB_TMP/repo
zb_expect_status 1 "no repository (unhealthy, as the help says)" -- "$ZB_BIN" healthcheck
mkdir repo
zb_expect_status 1 "no archive yet" -- "$ZB_BIN" healthcheck
zb_expect_contains "$ZB_LAST_OUTPUT" "unhealthy: no archive" "says why"
mkdir src && echo x >src/f
"$ZB_BIN" backup --repo repo --no-encryption --path src >/dev/null 2>&1
zb_expect_status 0 "a fresh backup is healthy" -- "$ZB_BIN" healthcheck
zb_expect_contains "$ZB_LAST_OUTPUT" "healthy: last backup" "reports the age"
old=$(date -u -d '3 days ago' +%Y%m%dT%H%M%SZ)
rm repo/*.zbk && "$ZB_BIN" backup --repo repo --no-encryption --path src >/dev/null 2>&1 && mv repo/*.zbk "repo/zakpos-$old.zbk"
zb_expect_status 1 "three days old is unhealthy by default (26h)" -- "$ZB_BIN" healthcheck
zb_expect_contains "$ZB_LAST_OUTPUT" "unhealthy: last backup 72h" "names the age"
zb_expect_status 0 "a longer limit" -- "$ZB_BIN" healthcheck --max-age 4d
printf '[daemon]\nhealthcheck_max_age = 5d\n' >conf
zb_expect_status 0 "the limit from the config file" -- "$ZB_BIN" --config conf healthcheck
zb_expect_status 2 "a bad duration" -- "$ZB_BIN" healthcheck --max-age soon
zb_expect_contains "$ZB_LAST_OUTPUT" "--max-age takes a duration such as 90s, 15m, 26h or 7d, not 'soon'" "names the value"
zb_test_end
