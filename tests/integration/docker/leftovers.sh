# What a backup killed outright leaves (its hidden .partial archive and its
# helper container) is removed by the next prune, and by the next backup,
# under the repository lock, each removal logged.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/docker.sh"
zb_test_begin
zb_docker_setup
zb_docker_volume big_data
head -c 24M /dev/urandom >"$(zb_volume_dir big_data)/blob"
helpers() { zb_dapi GET '/containers/json?all=1&filters=%7B%22label%22%3A%5B%22zakpos-backup.helper%22%5D%7D'; }
partials() { find repo -maxdepth 1 -name '.*.partial' | wc -l; }
started_writing() { [ "$(partials)" -gt 0 ] && [ "$(helpers)" != "[]" ]; }

# kill_backup_midway: a backup through the API, killed once its .partial
# and its helper exist
kill_backup_midway() {
    nice -n 10 "$ZB_BIN" -q backup --repo repo --recipient key.pub --volume big_data --volume-api --zstd-level 19 --zstd-workers 0 &
    local pid=$!
    zb_wait_until started_writing
    kill -9 "$pid"
    wait "$pid" 2>/dev/null
    zb_expect_equal "$(partials)" "1" "the killed backup left its .partial"
    if [ "$(helpers)" != "[]" ]; then zb_pass; else zb_fail "the killed backup left no helper: the sweep below proves nothing"; fi
}

kill_backup_midway
zb_expect_status 0 "prune after a killed backup" -- "$ZB_BIN" --log-format text prune --repo repo --keep-last 1
zb_expect_contains "$ZB_LAST_OUTPUT" "the unfinished archive of a run that was killed" "prune names the .partial it removed"
zb_expect_contains "$ZB_LAST_OUTPUT" "removing helper container" "prune names the helper it removed"
zb_expect_equal "$(partials)" "0" "prune removed the .partial"
zb_expect_equal "$(helpers)" "[]" "prune removed the helper"

kill_backup_midway
zb_expect_status 0 "the next backup" -- "$ZB_BIN" --log-format text backup --repo repo --recipient key.pub --path "$ZB_TMP/key.pub"
zb_expect_contains "$ZB_LAST_OUTPUT" "the unfinished archive of a run that was killed" "backup names the .partial it removed"
zb_expect_equal "$(partials)" "0" "the backup removed the .partial"
zb_expect_status 0 "a volume backup" -- "$ZB_BIN" --log-format text backup --repo repo --recipient key.pub --volume big_data --volume-api \
    --zstd-level 1
zb_expect_contains "$ZB_LAST_OUTPUT" "removing helper container" "the backup names the helper it removed"
zb_expect_equal "$(helpers)" "[]" "no helper is left"
zb_expect_equal "$(find repo -maxdepth 1 -name '*.zbk' | wc -l)" "2" "both archives are published"
zb_test_end
