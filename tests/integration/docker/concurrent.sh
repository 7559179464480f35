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

# two runs into the SAME repository: the second is refused by the
# repository's lock (exit 12, naming the run that holds it) before it
# touches a container; a third that waits for the lock runs after the
# first. Both finish, solr ends as it was, no record stays, and every
# archive the repository lists verifies. (A volume of its own, smaller:
# level 19 keeps the first run going long enough.)
zb_docker_volume solr_data
head -c 8M /dev/urandom >"$(zb_volume_dir solr_data)/index.bin"
zb_docker_run solr solr_data '{"zakpos-backup.stop-during-backup":"true"}' unless-stopped
held_before=$(zb_docker_held_states solr)
nice -n 10 "$ZB_BIN" --log-format text backup --repo repo_same --recipient key.pub --volume solr_data --zstd-level 19 \
    --zstd-workers 0 >same.out 2>same.err &
first=$!
zb_wait_state solr exited
zb_expect_status 12 "a second run into the same repository" -- "$ZB_BIN" --log-format text backup --repo repo_same \
    --recipient key.pub --volume solr_data --zstd-level 1
zb_expect_contains "$ZB_LAST_OUTPUT" "is in use by another run (pid $first)" "names the run that holds the lock"
zb_expect_contains "$ZB_LAST_OUTPUT" "hint: wait for it to finish (--lock-wait DURATION" "says how to wait"
zb_expect_not_contains "$ZB_LAST_OUTPUT" "stopped container" "the refused run stopped nothing"
# solr's state read first, then the first run found still going: the
# state was read while the first run held it
solr_state=$(zb_docker_state solr)
if kill -0 "$first" 2>/dev/null; then zb_pass; else zb_fail "the first run ended before the second: the test proves nothing"; fi
zb_expect_equal "$solr_state" "exited" "the refused run left solr stopped for the first"
"$ZB_BIN" -q backup --repo repo_same --recipient key.pub --volume solr_data --zstd-level 1 --lock-wait 10m \
    >waited.out 2>waited.err &
waiting=$!
wait "$first"
zb_expect_equal "$?" "0" "the first run finishes"
wait "$waiting"
zb_expect_equal "$?" "0" "the run that waited for the lock finishes: $(cat waited.err)"
zb_expect_equal "$(zb_docker_held_states solr)" "$held_before" "solr's state and restart policy as before"
zb_expect_equal "$(zb_run_records)" "0" "no record is left after two runs into one repository"
listed=$("$ZB_BIN" list --repo repo_same --json | python3 -c 'import json,sys; print("\n".join(a["archive"] for a in json.load(sys.stdin)))')
zb_expect_equal "$(printf '%s\n' "$listed" | grep -c .)" "2" "the repository lists both archives"
for a in $listed; do
    zb_expect_status 0 "verify $(basename "$a")" -- "$ZB_BIN" -q verify --key key "$a"
done
zb_test_end
