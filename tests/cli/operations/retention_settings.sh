# Retention settings mean one thing: a policy that keeps nothing is refused
# (restic: "no policy was specified"), and any keep_* in [repository]
# replaces the built-in rules, as it does in a [remote] section.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
cd "$ZB_TMP"
export TZ=UTC
mkdir -p src repo && echo data >src/f
a=$("$ZB_BIN" backup --repo repo --no-encryption --path src 2>/dev/null)
for day in 15 16 17 18 19 20 21 22 23 24; do cp "$a" "repo/zakpos-202611${day}T020000Z.zbk"; done
rm "$a"

for within in 0d 0h 0y0m0d0h; do
    zb_expect_status 2 "prune --keep-within $within" -- "$ZB_BIN" prune --repo repo --keep-within "$within"
    zb_expect_contains "$ZB_LAST_OUTPUT" "no --keep rule that keeps anything" "says why ($within)"
done
zb_expect_equal "$(zb_archives_in repo | wc -l)" "10" "nothing was removed"

{
    printf '[repository]\npath = %s/repo\nkeep_last = 3\n' "$ZB_TMP"
    zb_config_paths_only
    printf '[job tidy]\nschedule = 0 3 * * *\naction = prune\n'
} >zb.conf
zb_expect_status 0 "config check" -- "$ZB_BIN" --config zb.conf config check
zb_expect_contains "$ZB_LAST_OUTPUT" "repository.keep_daily = 0  (default)" "keep_last alone: no daily rule beside it"
zb_expect_contains "$ZB_LAST_OUTPUT" "zb.conf:3: [repository] keeps only the keep_* rules it gives; the built-in keep_daily = 7, keep_weekly = 4, keep_monthly = 12 no longer apply" \
    "a configuration that relied on the mixing is told"
zb_expect_status 0 "run tidy" -- "$ZB_BIN" --config zb.conf --log-format text run tidy
zb_expect_equal "$(cd repo && ls *.zbk | tr '\n' ' ')" \
    "zakpos-20261122T020000Z.zbk zakpos-20261123T020000Z.zbk zakpos-20261124T020000Z.zbk " "keep_last = 3 keeps three"

printf '[repository]\nkeep_within = 0d\n' >none.conf
zb_expect_status 3 "a configured policy that keeps nothing" -- "$ZB_BIN" --config none.conf config check
zb_expect_contains "$ZB_LAST_OUTPUT" "none.conf:2: [repository] keep_within: these keep_* rules keep no archive at all" "names the line"
zb_expect_equal "$(zb_archives_in repo | wc -l)" "3" "nothing more was removed"
zb_test_end
