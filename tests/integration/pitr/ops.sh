# The follower as a service of the daemon: a follower killed with -9 is
# restarted; the slot's lag reaches the metrics textfile and fails
# healthcheck past follow.max_lag; a slot holding more WAL than
# follow.slot_max_wal_size is dropped by the watcher while no follower runs,
# and the next follower starts a new chain; list shows each chain's window;
# prune removes the chain no kept archive needs, but not while its lock is held.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/pg.sh"
zb_test_begin
cd "$ZB_TMP"
major=${1:-15}
zb_pg_use_major "$major"
ZB_PG_SERVER_OPTIONS="-c wal_level=logical -c max_wal_senders=4 -c max_replication_slots=4"
zb_pg_start
db=$(zb_pg_conninfo shop)
zb_psql -c "CREATE DATABASE shop"
ZB_PG_DB=shop zb_psql -c "CREATE TABLE sales (id serial PRIMARY KEY, item text)" \
    -c "INSERT INTO sales (item) SELECT 'item' || g FROM generate_series(1, 100) g" >/dev/null
"$ZB_BIN" keygen --out key >/dev/null 2>&1
write_config() {
    printf '[repository]\npath = %s/repo\nrecipients = %s/key.pub\n[postgres]\nconninfo = %s\n[docker]\nenabled = no\n' \
        "$ZB_TMP" "$ZB_TMP" "$db" >zb.conf
    printf '[daemon]\nstate_dir = %s/state\nmetrics_file = %s/metrics.prom\n' "$ZB_TMP" "$ZB_TMP" >>zb.conf
    printf '[follow]\nenabled = yes\nsegment_seconds = 1\nslot_max_wal_size = %s\n' "$1" >>zb.conf
}
start_daemon() {
    "$ZB_BIN" --config zb.conf --log-format text --log-level detail daemon >>daemon.log 2>&1 &
    daemon=$!
    zb_on_exit "kill -9 $daemon 2>/dev/null"
}
# waits until the daemon's log holds $1 (grep -E) $2 times
wait_log() {
    local i
    for i in $(seq 1 240); do [ "$(grep -cE "$1" daemon.log)" -ge "${2:-1}" ] && return 0; sleep 0.25; done
    zb_fail "the daemon never logged '$1'"; cat daemon.log >&2
}
follower_pid() { grep -oE 'follower started \(pid [0-9]+\)' daemon.log | tail -1 | grep -oE '[0-9]+'; }
wal_lsn() { ZB_PG_DB=shop zb_psql -At -c "SELECT pg_current_wal_lsn()"; }
# each chain has its own slot: the one the state file names
chain_slot() { jq -r .slot repo/pitr/zakpos_backup.json; }
wait_confirmed() { zb_pg_wait_confirmed "$(chain_slot)" "$1" || zb_fail "the slot never confirmed $1"; }

write_config 1G
start_daemon
wait_log "following chain"
ZB_PG_DB=shop zb_psql -c "INSERT INTO sales (item) VALUES ('a'), ('b')" >/dev/null
wait_confirmed "$(wal_lsn)"
chain1=$(sed -n 's/.*"chain": "\([0-9TZ]*\)".*/\1/p' repo/pitr/zakpos_backup.json)
slot1=$(chain_slot)
flock -n "repo/pitr/$chain1.lock" true && zb_fail "the follower does not hold its chain's lock" || zb_pass

# kill -9: the daemon logs the exit and starts another follower, which resumes the chain
first=$(follower_pid)
kill -9 "$first"
wait_log "follower \(pid $first\) exited with status 137; restarting it"
wait_log "follower started" 2
second=$(follower_pid)
[ "$second" != "$first" ] && kill -0 "$second" 2>/dev/null && zb_pass || zb_fail "no new follower after kill -9"
wait_log "following chain $chain1" 2

# a follower that stops reading: the watcher sees the lag grow, the metrics
# say so, and healthcheck fails past the threshold (and passes under it)
for i in $(seq 1 80); do grep -q '^zakpos_backup_follow_lag_bytes{slot="zakpos_backup"}' metrics.prom 2>/dev/null && break; sleep 0.25; done
zb_expect_status 0 "healthcheck with a follower keeping up" -- "$ZB_BIN" --config zb.conf healthcheck --max-lag 1h
kill -STOP "$second"
ZB_PG_DB=shop zb_psql -c "INSERT INTO sales (item) SELECT repeat('x', 100) FROM generate_series(1, 200) g" >/dev/null
for i in $(seq 1 120); do
    "$ZB_BIN" --config zb.conf healthcheck --max-lag 2s >health.out 2>&1 || break
    sleep 0.5
done
zb_expect_status 1 "healthcheck past the lag threshold" -- "$ZB_BIN" --config zb.conf healthcheck --max-lag 2s
zb_expect_contains "$ZB_LAST_OUTPUT" "unhealthy: the follower's slot zakpos_backup is" "it says how far behind the slot is"
lag=$(sed -n 's/^zakpos_backup_follow_lag_bytes{slot="zakpos_backup"} //p' metrics.prom)
[ "${lag%.*}" -gt 0 ] && zb_pass || zb_fail "the lag metric is '$lag' while the follower is stopped"
kill -CONT "$second"

# the daemon stops its follower on SIGTERM and exits 0
kill -TERM "$daemon"
wait "$daemon"
zb_expect_equal "$?" "0" "the daemon exits 0"
kill -0 "$second" 2>/dev/null && zb_fail "the follower outlived the daemon" || zb_pass

# WAL piles up while nothing follows: the next daemon's watcher drops the
# slot before it starts a follower, which starts a new chain
ZB_PG_DB=shop zb_psql -c "INSERT INTO sales (item) SELECT repeat('y', 200) FROM generate_series(1, 20000) g" >/dev/null
retained=$(zb_psql -At -c "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) FROM pg_replication_slots WHERE slot_name = '$(chain_slot)'")
[ "${retained%.*}" -gt 1048576 ] && zb_pass || zb_fail "the slot retains only $retained bytes"
sleep 1 # a new chain is named by the second it starts in
write_config 1M
start_daemon
wait_log "dropping replication slot $slot1"
wait_log "new chain " 2
wait_log "following chain " 3
chain2=$(sed -n 's/.*"chain": "\([0-9TZ]*\)".*/\1/p' repo/pitr/zakpos_backup.json)
[ -n "$chain2" ] && [ "$chain2" != "$chain1" ] && zb_pass || zb_fail "no new chain after the slot was dropped ($chain1, $chain2)"
kill -TERM "$daemon"
wait "$daemon"

# list: each chain's window, its base and segments as the repository holds them
segments1=$(find "repo/pitr/$chain1" -name '*.zbseg' | wc -l)
base1=$(basename "$(zb_archives_in repo | grep -- "-$chain1.zbk")")
zb_expect_status 0 "list" -- "$ZB_BIN" list --repo repo
zb_expect_contains "$ZB_LAST_OUTPUT" "CHAIN" "list shows the chains"
row=$(printf '%s\n' "$ZB_LAST_OUTPUT" | grep "^$chain1 ")
zb_expect_equal "$(echo "$row" | awk '{print $2, $NF}')" "$base1 $segments1" "chain 1's base and segment count"
zb_expect_status 0 "list --json" -- "$ZB_BIN" list --repo repo --json
zb_expect_equal "$(printf '%s' "$ZB_LAST_OUTPUT" | python3 -c "import json,sys; a=[x for x in json.load(sys.stdin) if x['name']=='$base1'][0]['window']; print(a['chain'], a['segments'])")" \
    "$chain1 $segments1" "the base archive's window in JSON"

# prune --keep-last 1 keeps the newest archive, chain 2's base: chain 1 ends
# before it and goes, but not while its lock is held
(exec 9>"repo/pitr/$chain1.lock" && flock 9 && exec sleep 60) &
holder=$!
zb_on_exit "kill $holder 2>/dev/null"
for i in $(seq 1 40); do flock -n "repo/pitr/$chain1.lock" true || break; sleep 0.25; done
zb_expect_status 0 "prune while chain 1 is locked" -- "$ZB_BIN" prune --repo repo --keep-last 1
zb_expect_contains "$ZB_LAST_OUTPUT" "keep         pitr/$chain1  in use" "a locked chain stays"
[ -d "repo/pitr/$chain1" ] && zb_pass || zb_fail "a locked chain was removed"
kill "$holder"
wait "$holder" 2>/dev/null
zb_expect_status 0 "prune" -- "$ZB_BIN" prune --repo repo --keep-last 1
zb_expect_contains "$ZB_LAST_OUTPUT" "remove       pitr/$chain1" "chain 1 is removed"
zb_expect_contains "$ZB_LAST_OUTPUT" "keep         pitr/$chain2" "chain 2 stays"
zb_expect_equal "$(find repo/pitr -mindepth 1 -maxdepth 1 -type d -printf '%f\n')" "$chain2" "only chain 2 is left"
zb_expect_equal "$(zb_archives_in repo | xargs -n1 basename)" "$(basename "$(zb_archives_in repo | grep -- "-$chain2.zbk")")" \
    "only chain 2's base is left"
if [ "$major" != 15 ]; then zb_test_end; exit $?; fi
# prune cuts within a chain: two nightly snapshots inside chain 2, and a
# retention that keeps only the second; the segments replay from it does not
# read go (not while the follower holds the chain's lock), with the chain's
# base and the first snapshot; list shows the window start at the second
now() { ZB_PG_DB=shop zb_psql -At -c "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"; }
sales_hash() { ZB_PG_DB=$1 zb_psql -At -c "COPY (SELECT * FROM sales ORDER BY 1) TO STDOUT" | md5sum | cut -d' ' -f1; }
"$ZB_BIN" --config zb.conf follow 2>>follow.log &
fpid=$!
zb_on_exit "kill -9 $fpid 2>/dev/null"
ZB_PG_DB=shop zb_psql -c "INSERT INTO sales (item) VALUES ('before s1')" >/dev/null
wait_confirmed "$(wal_lsn)"
s1=$("$ZB_BIN" backup --repo repo --pg "$db" --recipient key.pub 2>>backup.log)
ZB_PG_DB=shop zb_psql -c "INSERT INTO sales (item) VALUES ('between')" >/dev/null
time_between=$(now)
wait_confirmed "$(wal_lsn)"
sleep 1 # archives are named by the second
s2=$("$ZB_BIN" backup --repo repo --pg "$db" --recipient key.pub 2>>backup.log)
ZB_PG_DB=shop zb_psql -c "INSERT INTO sales (item) VALUES ('after s2')" -c "DELETE FROM sales WHERE id = 3" >/dev/null
time_after=$(now)
hash_after=$(sales_hash shop)
wait_confirmed "$(wal_lsn)"
base2=$(zb_archives_in repo | grep -- "-$chain2.zbk")
cp "$base2" base2.saved
zb_expect_status 0 "prune while the follower writes chain 2" -- "$ZB_BIN" prune --repo repo --keep-last 1
zb_expect_not_contains "$ZB_LAST_OUTPUT" "cut " "no cut under the follower's lock"
[ -f "$base2" ] && zb_pass || zb_fail "the base of an uncut chain was removed"
kill -TERM "$fpid"
wait "$fpid"
segments_before=$(find "repo/pitr/$chain2" -name '*.zbseg' | wc -l)
zb_expect_status 0 "prune cuts chain 2 at the second snapshot" -- "$ZB_BIN" prune --repo repo --keep-last 1
zb_expect_contains "$ZB_LAST_OUTPUT" "cut          pitr/$chain2" "prune says it cut the chain"
segments_after=$(find "repo/pitr/$chain2" -name '*.zbseg' | wc -l)
[ "$segments_after" -lt "$segments_before" ] && [ "$segments_after" -ge 1 ] && zb_pass ||
    zb_fail "segments before and after the cut: $segments_before, $segments_after"
zb_expect_equal "$(zb_archives_in repo | xargs -n1 basename)" "$(basename "$s2")" "the base and the first snapshot go"
zb_expect_status 0 "list after the cut" -- "$ZB_BIN" list --repo repo
zb_expect_equal "$(printf '%s\n' "$ZB_LAST_OUTPUT" | grep "^$chain2 " | awk '{print $2, $NF}')" "$(basename "$s2") $segments_after" \
    "the window starts at the second snapshot"
zb_expect_status 0 "recovery to a point after the kept snapshot" -- "$ZB_BIN" restore --key key "$s2" \
    --pg-target "$(zb_pg_conninfo after)" --until "$time_after"
zb_expect_equal "$(sales_hash after)" "$hash_after" "... the table as it was then"
zb_expect_status 13 "recovery to a point before the kept snapshot" -- "$ZB_BIN" restore --key key "$s2" \
    --pg-target "$(zb_pg_conninfo before)" --until "$time_between"
zb_expect_contains "$ZB_LAST_OUTPUT" "taken after the point asked for" "it is refused, saying why"
# the base brought back from elsewhere: its segments are gone, and replay says so
cp base2.saved "$base2"
"$ZB_BIN" list --repo repo --rebuild-index --key key >/dev/null 2>&1
zb_expect_status 13 "recovery from the chain's old base" -- "$ZB_BIN" restore --key key "$base2" \
    --pg-target "$(zb_pg_conninfo before)" --until "$time_between"
zb_expect_contains "$ZB_LAST_OUTPUT" "holds changes only from snapshot $(basename "$s2") on" "... saying the segments were pruned"

# no replication slot free when a schema change needs a new chain: the
# follower says so and what to change, and keeps retrying on the old chain
"$ZB_BIN" --config zb.conf follow 2>>nofree.log &
npid=$!
zb_on_exit "kill -9 $npid 2>/dev/null"
for i in $(seq 1 240); do grep -q "following chain" nofree.log && break; sleep 0.25; done
current=$(jq -r .chain repo/pitr/zakpos_backup.json)
zb_psql -c "SELECT pg_create_logical_replication_slot('zb_fill_' || g, 'pgoutput')
    FROM generate_series(1, (SELECT setting::int FROM pg_settings WHERE name = 'max_replication_slots') -
                            (SELECT count(*) FROM pg_replication_slots)::int) g" >/dev/null
ZB_PG_DB=shop zb_psql -c "CREATE TABLE extra (id int PRIMARY KEY)" -c "INSERT INTO sales (item) VALUES ('new table')" >/dev/null
for i in $(seq 1 240); do grep -q "no replication slot is free" nofree.log && break; sleep 0.25; done
zb_expect_contains "$(cat nofree.log)" "hint: raise max_replication_slots" "no free slot for the new chain: the log says what to change"
zb_expect_contains "$(cat nofree.log)" "chain $current stays the current one and the follower keeps retrying on it" \
    "... and that it keeps to the old chain"
zb_expect_equal "$(jq -r .chain repo/pitr/zakpos_backup.json)" "$current" "the state file still names the old chain"
zb_expect_status 1 "healthcheck while the new chain cannot start" -- "$ZB_BIN" --config zb.conf healthcheck
zb_expect_contains "$ZB_LAST_OUTPUT" "unhealthy: the follower cannot start its new chain" "healthcheck says why"
zb_expect_contains "$ZB_LAST_OUTPUT" "raise max_replication_slots" "... and what to change"
# a slot free again: the next try starts the new chain, and healthcheck no longer names the switch
zb_psql -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'zb_fill_%'" >/dev/null
for i in $(seq 1 360); do [ "$(jq -r .chain repo/pitr/zakpos_backup.json)" != "$current" ] && break; sleep 0.25; done
zb_expect_not_contains "$("$ZB_BIN" --config zb.conf healthcheck 2>&1)" "cannot start its new chain" "the new chain started"
kill -TERM "$npid"
wait "$npid"
zb_test_end
