# A container already paused before a run ends paused: a backup neither
# pauses it again nor unpauses it, whatever its label, and a forced restore
# of its volume stops it and leaves it paused again; a user already stopped
# stays stopped. Restart policies stay as they were (Docker's own account).
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/docker.sh"
zb_test_begin
zb_docker_setup
for v in cache_data worker_data; do
    zb_docker_volume "$v"
    echo "content of $v" >"$(zb_volume_dir $v)/file.txt"
done
# an archive of worker_data made before any container uses it, for the
# restore below (so no run has touched the containers before the checks)
zb_expect_status 0 "backup before the pause" -- "$ZB_BIN" -q backup --repo repo0 --recipient key.pub --volume worker_data
zb_docker_run cache cache_data '{"zakpos-backup.stop-during-backup":"pause"}' always
zb_docker_run worker worker_data '{"zakpos-backup.stop-during-backup":"true"}' unless-stopped
zb_dapi POST /containers/cache/pause >/dev/null
zb_dapi POST /containers/worker/pause >/dev/null
events_since() {
    zb_dapi GET "/events?since=$1&until=$(($(date +%s) + 2))&filters=%7B%22type%22%3A%5B%22container%22%5D%7D"
}

# events are stamped in whole seconds: the next second starts after the
# first backup's own stop and start
sleep 1
since=$(date +%s)
held_before=$(zb_docker_held_states cache worker)
zb_expect_status 0 "backup with containers the user paused" -- "$ZB_BIN" --log-format text backup --repo repo \
    --recipient key.pub --volume cache_data --volume worker_data
zb_expect_contains "$ZB_LAST_OUTPUT" "container cache is already paused" "says it left cache paused"
for c in cache worker; do zb_expect_equal "$(zb_docker_state $c)" "paused" "$c is still paused after the backup"; done
events=$(events_since "$since")
zb_expect_not_contains "$events" '"status":"unpause"' "nothing was unpaused"
zb_expect_not_contains "$events" '"status":"stop"' "nothing was stopped"
zb_expect_not_contains "$events" '"status":"die"' "nothing died"
zb_expect_equal "$(zb_docker_held_states cache worker)" "$held_before" "states and restart policies as before the backup"

# a forced restore replaces the volume under the paused worker: it is
# stopped for that, and paused again afterwards
archive=$("$ZB_BIN" latest --repo repo0)
echo changed >"$(zb_volume_dir worker_data)/file.txt"
# and a user of the volume that was already stopped stays so
zb_docker_run idle worker_data '{}' on-failure
zb_dapi POST /containers/idle/stop >/dev/null
held_before=$(zb_docker_held_states worker idle)
zb_expect_status 0 "forced restore under a paused container" -- "$ZB_BIN" --log-format text restore --key key "$archive" \
    --volume worker_data --force
zb_expect_equal "$(cat "$(zb_volume_dir worker_data)/file.txt")" "content of worker_data" "the content is restored"
zb_expect_equal "$(zb_docker_state worker)" "paused" "the worker is paused again after the restore"
zb_expect_equal "$(zb_docker_held_states worker idle)" "$held_before" \
    "the users' states and restart policies as before the restore"
zb_expect_equal "$(zb_run_records)" "0" "no run record is left"
zb_test_end
