# Services that write to a volume: containers labelled stop-during-backup are
# stopped while it is read and started again (their restart policies as
# they were, by Docker's own account), =pause pauses them, exec hooks
# run inside them (a failing pre-hook fails the backup); after a failure or
# SIGTERM they run again, and after kill -9 the next command restarts them.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/docker.sh"
zb_test_begin
zb_docker_setup
zb_docker_volume redis_data kafka_data zk_data
head -c 64M /dev/urandom >"$(zb_volume_dir kafka_data)/segment.log"
zb_docker_run redis redis_data '{"zakpos-backup.exec-pre":"echo flushed > /data/dump.rdb","zakpos-backup.exec-post":"echo after > /data/post.txt"}'
zb_docker_run kafka kafka_data '{"zakpos-backup.stop-during-backup":"true"}' unless-stopped
zb_docker_run zookeeper zk_data '{"zakpos-backup.stop-during-backup":"pause"}' on-failure
held_before=$(zb_docker_held_states redis kafka zookeeper)
started_at() { zb_dapi GET "/containers/$1/json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["State"]["StartedAt"])'; }
kafka_started=$(started_at kafka)
since=$(date +%s)

zb_expect_status 0 "backup of the three volumes" -- "$ZB_BIN" --log-format text backup --repo repo --recipient key.pub \
    --volume redis_data --volume kafka_data --volume zk_data
zb_expect_contains "$ZB_LAST_OUTPUT" "stopped container kafka while volume kafka_data is read" "kafka was stopped"
zb_expect_contains "$ZB_LAST_OUTPUT" "paused container zookeeper while volume zk_data is read" "zookeeper was paused"
for c in redis kafka zookeeper; do zb_expect_equal "$(zb_docker_state $c)" "running" "$c runs after the backup"; done
zb_expect_equal "$(zb_docker_held_states redis kafka zookeeper)" "$held_before" \
    "each container's state and restart policy are as before the backup"
if [ "$(started_at kafka)" != "$kafka_started" ]; then zb_pass; else zb_fail "kafka was not restarted"; fi
# dockerd may record an event a moment after the call that caused it: an
# "until" a second ahead waits for those (the API streams until then)
events=$(zb_dapi GET "/events?since=$since&until=$(($(date +%s) + 2))&filters=%7B%22type%22%3A%5B%22container%22%5D%7D")
zb_expect_contains "$events" '"status":"pause"' "a pause event"
zb_expect_contains "$events" '"status":"unpause"' "an unpause event"
archive=$("$ZB_BIN" latest --repo repo)
zb_expect_status 0 "restore the redis volume" -- "$ZB_BIN" -q restore --key key "$archive" --volume redis_data=redis_copy
zb_expect_equal "$(cat "$(zb_volume_dir redis_copy)/dump.rdb")" "flushed" "the pre-hook ran before the volume was read"
zb_expect_equal "$(cat "$(zb_volume_dir redis_data)/post.txt")" "after" "the post-hook ran"

# a failing pre-hook fails the backup before anything is stopped or paused:
# kafka, which would be stopped, is never touched
zb_docker_run worker kafka_data '{"zakpos-backup.exec-pre":"exit 3"}'
kafka_started=$(started_at kafka)
zb_expect_status 11 "a failing pre-hook" -- "$ZB_BIN" --log-format text backup --repo repo2 --recipient key.pub --volume kafka_data
zb_expect_contains "$ZB_LAST_OUTPUT" "exited with status 3" "names the hook's status"
zb_expect_not_contains "$ZB_LAST_OUTPUT" "stopped container kafka" "kafka was not stopped for a backup that could not run"
zb_expect_equal "$(started_at kafka)" "$kafka_started" "kafka kept running through the failed pre-hook"
zb_expect_equal "$(zb_archives_in repo2)" "" "no archive after the failure"
zb_dapi DELETE "/containers/worker?force=1" >/dev/null

# a failure while kafka is stopped (the repository's disk fills up while the
# volume is read) starts it again: it runs, with a new start time, and no
# archive or partial file is left on the full disk
mkdir -p "$ZB_TMP/full"
mount -t tmpfs -o size=4m zbfull "$ZB_TMP/full" || zb_fail "cannot mount a small tmpfs"
zb_on_exit umount "$ZB_TMP/full"
kafka_started=$(started_at kafka)
"$ZB_BIN" --log-format text backup --repo "$ZB_TMP/full/repo" --recipient key.pub --volume kafka_data --zstd-level 1 >out 2>err
full_rc=$?
if [ "$full_rc" -ne 0 ]; then zb_pass; else zb_fail "a backup onto a full disk succeeded"; fi
zb_expect_contains "$(cat err)" "No space left on device" "names the full disk"
zb_expect_contains "$(cat err)" "stopped container kafka while volume kafka_data is read" "kafka was stopped before the failure"
zb_expect_equal "$(zb_docker_state kafka)" "running" "kafka runs after the failure"
if [ "$(started_at kafka)" != "$kafka_started" ]; then zb_pass; else zb_fail "kafka was not started again after the failure"; fi
zb_expect_equal "$(find "$ZB_TMP/full/repo" -name '*.zbk' -o -name '*.partial' | wc -l)" "0" "nothing is left on the full disk"

# SIGTERM while the volume is read (through the API, so a helper exists):
# cleanup starts kafka again
backup_slowly() {
    "$ZB_BIN" --log-format text backup --repo repo3 --recipient key.pub --volume kafka_data --volume-api --zstd-level 19 --zstd-workers 0 >out 2>err &
    pid=$!
    for _ in $(seq 1 100); do
        [ "$(zb_docker_state kafka)" = exited ] && break
        sleep 0.1
    done
    zb_expect_equal "$(zb_docker_state kafka)" "exited" "kafka is stopped during the backup"
    sleep 0.5
}
backup_slowly
kill -TERM "$pid"
wait "$pid"
zb_expect_equal "$?" "130" "interrupted"
zb_expect_equal "$(zb_docker_state kafka)" "running" "kafka runs after SIGTERM"
zb_expect_equal "$(zb_dapi GET '/containers/json?all=1&filters=%7B%22label%22%3A%5B%22zakpos-backup.helper%22%5D%7D')" "[]" \
    "no helper container after SIGTERM"

# kill -9: nothing can clean up, the record lets the next command do it
backup_slowly
kill -9 "$pid"
wait "$pid" 2>/dev/null
zb_expect_equal "$(zb_docker_state kafka)" "exited" "kafka stays stopped after kill -9"
zb_expect_status 0 "any next command" -- "$ZB_BIN" --log-format text list --repo repo
zb_expect_contains "$ZB_LAST_OUTPUT" "container kafka was stopped: started again" "says what it repaired"
zb_expect_equal "$(zb_docker_state kafka)" "running" "kafka runs again"
zb_expect_equal "$(ls "$ZAKPOS_BACKUP_STATE_DIR/runs" | grep '\.json$')" "" "the record is gone"
helpers() { zb_dapi GET '/containers/json?all=1&filters=%7B%22label%22%3A%5B%22zakpos-backup.helper%22%5D%7D'; }
if [ "$(helpers)" != "[]" ]; then zb_pass; else zb_fail "kill -9 left no helper container: the sweep below proves nothing"; fi
zb_expect_status 0 "the next volume backup" -- "$ZB_BIN" -q backup --repo repo4 --recipient key.pub --volume zk_data --volume-api
zb_expect_equal "$(helpers)" "[]" "it removed the helper the killed run left"
zb_test_end
