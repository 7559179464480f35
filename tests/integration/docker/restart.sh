# dockerd restarts while a backup holds services: the backup fails, Docker
# starts the services again itself (restart policy), and the record is cleared by
# the next command without a word about containers it did not restart; the
# command after that has nothing to say.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/docker.sh"
zb_test_begin
zb_docker_setup
zb_docker_volume kafka_data
head -c 24M /dev/urandom >"$(zb_volume_dir kafka_data)/segment.log"
zb_docker_run kafka kafka_data '{"zakpos-backup.stop-during-backup":"true"}' always
zb_docker_run zookeeper kafka_data '{"zakpos-backup.stop-during-backup":"pause"}' always
nice -n 10 "$ZB_BIN" --log-format text backup --repo repo --recipient key.pub --volume kafka_data --zstd-level 19 --zstd-workers 0 \
    >out 2>err &
pid=$!
zb_wait_state kafka exited
zb_wait_state zookeeper paused
zb_expect_equal "$(zb_docker_state kafka)/$(zb_docker_state zookeeper)" "exited/paused" "the backup holds both"
# dockerd is down until the backup gave up (it cannot put anything back)
zb_docker_stop
wait "$pid"
rc=$?
if [ "$rc" -ne 0 ]; then zb_pass; else zb_fail "the backup succeeded although dockerd went away under it"; fi
zb_docker_start
zb_wait_state kafka running
zb_wait_state zookeeper running
zb_expect_equal "$(zb_docker_state kafka)/$(zb_docker_state zookeeper)" "running/running" "Docker restarted both"
zb_expect_equal "$(zb_run_records)" "1" "the failed run left its record"

zb_expect_status 0 "the next command" -- "$ZB_BIN" --log-format text list --repo repo
zb_expect_not_contains "$ZB_LAST_OUTPUT" "started again" "claims no restart Docker did itself"
zb_expect_not_contains "$ZB_LAST_OUTPUT" "unpaused again" "claims no unpause Docker did itself"
zb_expect_not_contains "$ZB_LAST_OUTPUT" "could not" "no error"
zb_expect_equal "$(zb_run_records)" "0" "the record is cleared"
zb_expect_status 0 "the command after" -- "$ZB_BIN" --log-format text list --repo repo
zb_expect_not_contains "$ZB_LAST_OUTPUT" "warn" "nothing to warn about"
zb_expect_not_contains "$ZB_LAST_OUTPUT" "error" "nothing to report"
zb_expect_equal "$(zb_docker_state kafka)/$(zb_docker_state zookeeper)" "running/running" "both still run"
zb_test_end
