# Two runs at once hold the same service: each keeps its own record and the
# holds are counted, so the run that ends first never starts a container the
# other still holds, and after kill -9 of the other the next command starts
# it again.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/docker.sh"
zb_test_begin
zb_docker_setup
zb_docker_volume kafka_data
head -c 24M /dev/urandom >"$(zb_volume_dir kafka_data)/segment.log"
zb_docker_run kafka kafka_data '{"zakpos-backup.stop-during-backup":"true"}'

# run A: slow (level 19 on one thread), holds kafka stopped
nice -n 10 "$ZB_BIN" --log-format text backup --repo repo_a --recipient key.pub --volume kafka_data --zstd-level 19 --zstd-workers 0 \
    >a.out 2>a.err &
a=$!
zb_wait_state kafka exited
zb_expect_equal "$(zb_docker_state kafka)" "exited" "run A stopped kafka"

# run B, to another repository, reads the same volume and ends first
zb_expect_status 0 "run B while A holds kafka" -- "$ZB_BIN" --log-format text backup --repo repo_b --recipient key.pub \
    --volume kafka_data --zstd-level 1
zb_expect_contains "$ZB_LAST_OUTPUT" "another run" "B says kafka stays held by the other run"
if kill -0 "$a" 2>/dev/null; then zb_pass; else zb_fail "run A ended before B: the test proves nothing (make the volume larger)"; fi
zb_expect_equal "$(zb_docker_state kafka)" "exited" "B did not start kafka while A holds it"
zb_expect_equal "$(zb_run_records)" "1" "A's record is still there after B"

# A dies without cleanup: the next command puts kafka back
kill -9 "$a"
wait "$a" 2>/dev/null
zb_expect_equal "$(zb_docker_state kafka)" "exited" "kafka is still stopped after kill -9 of A"
zb_expect_status 0 "any next command" -- "$ZB_BIN" --log-format text list --repo repo_b
zb_expect_contains "$ZB_LAST_OUTPUT" "container kafka was stopped: started again" "says what it repaired"
zb_expect_equal "$(zb_docker_state kafka)" "running" "kafka runs again"
zb_expect_equal "$(zb_run_records)" "0" "no record is left"

# the same with pauses: two runs pausing one container, the first to end
# leaves it paused for the other, which unpauses it when it ends (here on
# SIGTERM)
zb_docker_run zookeeper kafka_data '{"zakpos-backup.stop-during-backup":"pause"}'
zb_dapi DELETE "/containers/kafka?force=1" >/dev/null
nice -n 10 "$ZB_BIN" --log-format text backup --repo repo_c --recipient key.pub --volume kafka_data --zstd-level 19 --zstd-workers 0 \
    >c.out 2>c.err &
c=$!
zb_wait_state zookeeper paused
zb_expect_status 0 "a second run pausing the same container" -- "$ZB_BIN" -q backup --repo repo_d --recipient key.pub \
    --volume kafka_data --zstd-level 1
if kill -0 "$c" 2>/dev/null; then zb_pass; else zb_fail "the first run ended too soon: the test proves nothing"; fi
zb_expect_equal "$(zb_docker_state zookeeper)" "paused" "the second run did not unpause it under the first"
kill -TERM "$c"
wait "$c"
zb_expect_equal "$?" "130" "the first run stops on SIGTERM"
zb_expect_equal "$(zb_docker_state zookeeper)" "running" "the last run to end unpaused it"
zb_expect_equal "$(zb_run_records)" "0" "no record is left"
zb_test_end
