# One time zone rule for prune, run and the daemon: daemon.timezone, checked
# at load; a rejected reload changes nothing, the zone included.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
cd "$ZB_TMP"
export TZ=UTC
mkdir -p src repo && echo data >src/f
a=$("$ZB_BIN" backup --repo repo --no-encryption --path src 2>/dev/null)
rm "$a"
# 08:00, 10:00 and 12:00 UTC on 2026-11-24: one UTC day, but in Auckland
# (UTC+13) 21:00 and 23:00 on the 24th and 01:00 on the 25th.
for stamp in 20261124T080000Z 20261124T100000Z 20261124T120000Z; do
    "$ZB_BIN" backup --repo repo --no-encryption --path src 2>/dev/null | xargs -I{} mv {} "repo/zakpos-$stamp.zbk"
done
cp -a repo repo.orig
{
    printf '[repository]\npath = %s/repo\nkeep_daily = 2\n' "$ZB_TMP"
    zb_config_paths_only
    printf 'timezone = Pacific/Auckland\n[job tidy]\nschedule = 0 3 * * *\naction = prune\n'
} >zb.conf
zb_expect_status 0 "run tidy" -- "$ZB_BIN" --config zb.conf run tidy
zb_expect_equal "$(cd repo && ls *.zbk | tr '\n' ' ')" "zakpos-20261124T100000Z.zbk zakpos-20261124T120000Z.zbk " \
    "run JOB prunes by the days of daemon.timezone, not of TZ"
rm -rf repo && cp -a repo.orig repo
zb_expect_status 0 "prune by hand" -- "$ZB_BIN" --config zb.conf -q prune --repo repo --keep-daily 2
zb_expect_equal "$(cd repo && ls *.zbk | tr '\n' ' ')" "zakpos-20261124T100000Z.zbk zakpos-20261124T120000Z.zbk " \
    "prune reads the same zone"

# unknown zones are refused at load, from the file (with its line) or the environment
sed 's|^timezone = .*|timezone = Europe/Berlinn|' zb.conf >bad.conf
zb_expect_status 3 "an unknown zone in the file" -- "$ZB_BIN" --config bad.conf config check
zb_expect_contains "$ZB_LAST_OUTPUT" "bad.conf:12: [daemon] timezone: unknown time zone 'Europe/Berlinn'" "names file, line and zone"
zb_expect_status 3 "an unknown zone in the environment" -- env ZAKPOS_BACKUP_TZ=Mars/Olympus "$ZB_BIN" --config zb.conf run tidy
zb_expect_contains "$ZB_LAST_OUTPUT" "environment variable ZAKPOS_BACKUP_TZ: unknown time zone 'Mars/Olympus'" "names the variable"

# the daemon: a reload that is rejected keeps the zone it had
write_daemon_config() {
    {
        zb_config_paths_only
        printf 'timezone = %s\n[job nightly]\nschedule = 0 2 * * *\naction = prune\n' "$1"
        [ -z "${2:-}" ] || printf '[job never]\nschedule = %s\naction = prune\n' "$2"
    } >daemon.conf
}
write_daemon_config Asia/Tokyo
"$ZB_BIN" --config daemon.conf --log-format text daemon >daemon.log 2>&1 &
daemon=$!
zb_on_exit "kill -9 $daemon"
for _ in $(seq 1 100); do grep -q "next run at" daemon.log && break; sleep 0.1; done
zb_expect_contains "$(cat daemon.log)" "+0900 Asia/Tokyo)" "the schedule is read in the configured zone"
write_daemon_config America/New_York "0 0 31 2 *"
kill -HUP "$daemon"
for _ in $(seq 1 100); do [ "$(grep -c 'next run at' daemon.log)" -ge 2 ] && break; sleep 0.1; done
zb_expect_contains "$(cat daemon.log)" "the configuration was not reloaded" "the reload is rejected"
zb_expect_contains "$(cat daemon.log)" "[job never] schedule: cron expression '0 0 31 2 *' never fires" "and says why"
zb_expect_equal "$(grep 'next run at' daemon.log | tail -1 | grep -o '+0900 Asia/Tokyo')" "+0900 Asia/Tokyo" \
    "the zone stays as it was"
zb_expect_not_contains "$(cat daemon.log)" "America/New_York" "the rejected zone was never used"
kill -TERM "$daemon"
wait "$daemon"
zb_test_end
