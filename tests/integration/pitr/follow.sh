# follow + restore --until against a real server: the tables' rows after
# recovery to a point must hash exactly as psql hashed them at that point
# (md5 of an ordered COPY: the oracle never goes through the tool), through a
# follower killed with -9 and a server restart mid-stream (no gap: nothing
# missing; no duplicate: the table without a key would show it).
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/pg.sh"
zb_test_begin
cd "$ZB_TMP"
major=${1:-15}
zb_pg_use_major "$major"
ZB_PG_SERVER_OPTIONS="-c max_wal_senders=4 -c max_replication_slots=4"
# 12 has no logical_decoding_work_mem: its decoder spills past 4096 changes
[ "$major" -ge 13 ] && ZB_PG_SERVER_OPTIONS+=" -c logical_decoding_work_mem=64kB"
zb_pg_start
db=$(zb_pg_conninfo shop)
zb_psql -c "CREATE DATABASE shop"
ZB_PG_DB=shop zb_psql <<'SQL'
CREATE TABLE sales (id serial PRIMARY KEY, item text NOT NULL, qty int, total numeric(10,2), note text);
CREATE TABLE stock (sku text PRIMARY KEY, qty int NOT NULL, label text);
CREATE TABLE audit_log (at int, msg text);
INSERT INTO sales (item, qty, total, note) SELECT 'item' || g, g % 7, g * 1.25, CASE WHEN g % 3 = 0 THEN NULL ELSE 'n' || g END
  FROM generate_series(1, 200) g;
INSERT INTO stock SELECT 'sku' || g, g, E'tab\there' FROM generate_series(1, 50) g;
INSERT INTO audit_log SELECT g, 'start' FROM generate_series(1, 10) g;
-- values COPY's text format escapes, NULLs, bytea, arrays, and a value kept
-- out of line (an update that leaves it alone sends it as "unchanged")
CREATE TABLE odd (id int PRIMARY KEY, t text, b bytea, a text[], big text);
ALTER TABLE odd ALTER big SET STORAGE EXTERNAL;
INSERT INTO odd VALUES (1, 'plain', '\x00', '{x}', NULL), (2, 'toasted', NULL, NULL, repeat('big', 3000));
SQL
"$ZB_BIN" keygen --out key >/dev/null 2>&1
follow=("$ZB_BIN" --log-level detail follow --repo repo --pg "$db" --recipient key.pub --segment-seconds 1)

# the oracle: each table's rows, ordered, as psql's COPY prints them
table_hash() { ZB_PG_DB=$1 zb_psql -At -c "COPY (SELECT * FROM $2 ORDER BY 1, 2) TO STDOUT" | md5sum | cut -d' ' -f1; }
hashes() {
    local t
    for t in sales stock audit_log odd; do
        printf '%s %s\n' "$t" "$(table_hash "$1" $t)"
    done
}
now() { ZB_PG_DB=shop zb_psql -At -c "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"; }
wal_lsn() { ZB_PG_DB=shop zb_psql -At -c "SELECT pg_current_wal_lsn()"; }
# the current chain's slot, as the state file names it (each chain has its own)
chain_slot() { jq -r .slot repo/pitr/zakpos_backup.json; }
# waits until the slot confirmed LSN: the changes before it are durable in the repository
wait_confirmed() {
    zb_pg_wait_confirmed "$(chain_slot)" "$1" && return 0
    zb_fail "the slot never confirmed $1"; cat follow*.log >&2
    return 1
}
# each run's log of its own (counted here: a redirection of a command put in
# the background is expanded in its subshell, and would count there)
start_follower() {
    runs=$((runs + 1))
    "${follow[@]}" "$@" >>follow.out 2>>"follow$runs.log" &
    pid=$!
    zb_on_exit "kill -9 $pid 2>/dev/null"
}
runs=0

# wal_level=replica: the follower says what to change in the compose file
zb_expect_status 3 "follow needs wal_level=logical" -- "${follow[@]}"
zb_expect_contains "$ZB_LAST_OUTPUT" "command: postgres -c wal_level=logical" "the hint names the compose file's setting"
zb_psql -c "ALTER SYSTEM SET wal_level = logical"
runuser -u postgres -- "$ZB_PG_SERVER_BIN/pg_ctl" -D "$ZB_PG_DATA" -w -m fast restart >/dev/null

# a table without a key is refused, named, until the configuration says what to do
zb_expect_status 3 "a table without a key is refused" -- "${follow[@]}"
zb_expect_contains "$ZB_LAST_OUTPUT" "public.audit_log" "the refusal names the table"
zb_expect_equal "$(zb_psql -At -c "SELECT count(*) FROM pg_replication_slots")" "0" "no slot left by the refusal"
follow+=(--replica-identity-full public.audit_log)

start_follower
for i in $(seq 1 240); do [ -f repo/pitr/zakpos_backup.json ] && break; sleep 0.25; done
zb_expect_equal "$(zb_archives_in repo | wc -l)" "1" "the base snapshot is an archive"
zb_expect_equal "$(ZB_PG_DB=shop zb_psql -At -c "SELECT puballtables FROM pg_publication")" "f" "the publication names its tables"

# point A: small POS transactions
ZB_PG_DB=shop zb_psql <<'SQL'
INSERT INTO sales (item, qty, total) VALUES ('coffee', 1, 2.50);
UPDATE stock SET qty = qty - 1 WHERE sku = 'sku1';
DELETE FROM sales WHERE id = 5;
UPDATE sales SET note = NULL, total = 9.99 WHERE id = 7;
UPDATE sales SET id = 100000 WHERE id = 8;
INSERT INTO audit_log VALUES (11, 'void 5');
UPDATE audit_log SET msg = 'start!' WHERE at = 3;
DELETE FROM audit_log WHERE at = 4;
-- one run of inserts (one COPY in replay), then changes to its own rows:
-- updated, deleted and inserted again, a key changed and reused
BEGIN;
INSERT INTO odd VALUES (3, E'tab\there', '\x00ff5c0a', ARRAY[E'a\tb', E'c\\d', NULL, 'e,f', ''], NULL),
  (4, E'new\nline\r\n', '\x', '{}', 'x'), (5, '\N', NULL, ARRAY['\N'], NULL),
  (6, '\.', '\x5c2e', NULL, ''), (7, E'back\\slash\\', NULL, ARRAY[E'q"uote', '{b}'], NULL);
INSERT INTO audit_log VALUES (13, E'dup\ttab'), (13, E'dup\ttab');
UPDATE odd SET t = t || E'\t!' WHERE id = 3;
DELETE FROM odd WHERE id = 4;
INSERT INTO odd VALUES (4, E'again\\', NULL, NULL, NULL);
UPDATE odd SET id = 8 WHERE id = 5;
INSERT INTO odd VALUES (5, 'reused key', NULL, NULL, NULL);
UPDATE odd SET t = 'toast kept' WHERE id = 2;
COMMIT;
SQL
time_a=$(now)
hashes shop >hashes.a
# point B: a transaction larger than logical_decoding_work_mem, a TRUNCATE
ZB_PG_DB=shop zb_psql <<'SQL'
BEGIN;
INSERT INTO sales (item, qty, total, note) SELECT 'bulk' || g, 1, g, repeat('x', 100) FROM generate_series(1, 3000) g;
UPDATE sales SET qty = qty + 1 WHERE id % 10 = 0;
COMMIT;
TRUNCATE stock;
INSERT INTO stock SELECT 'new' || g, g, NULL FROM generate_series(1, 20) g;
SQL
lsn_b=$(wal_lsn)
hashes shop >hashes.b
ZB_PG_DB=shop zb_psql -c "DELETE FROM sales WHERE item LIKE 'bulk%' AND id % 2 = 0" -c "INSERT INTO audit_log VALUES (12, 'after b')"

# killed after a segment was published but before the server heard of it:
# the server sends those transactions again and the next follower skips them
wait_confirmed "$(wal_lsn)"
kill -TERM "$pid"
wait "$pid"
ZB_FAULT_AT=pitr-segment-published ZB_FAULT_SIGNAL=9 "$ZB_FAULT_BIN" "${follow[@]:1}" 2>fault.log &
fpid=$!
zb_on_exit "kill -9 $fpid 2>/dev/null"
ZB_PG_DB=shop zb_psql -c "INSERT INTO audit_log VALUES (50, 'published, not confirmed')" -c "UPDATE stock SET qty = qty + 1"
for i in $(seq 1 240); do kill -0 "$fpid" 2>/dev/null || break; sleep 0.25; done
kill -9 "$fpid" 2>/dev/null
wait "$fpid"
zb_expect_contains "$(cat fault.log)" "fault point pitr-segment-published reached" "the follower died between publishing and confirming"
start_follower

# a nightly archive taken mid-load, while one transaction has written its
# commit record but is not yet visible (it waits for a synchronous standby
# that never comes): its commit LSN lies before the WAL position the backup
# read ahead of its snapshot, yet the snapshot does not hold it (its xid is in
# xip), so a replay from the nightly must apply it; every other session
# commits with synchronous_commit = local
wait_confirmed "$(wal_lsn)"
zb_psql -c "ALTER SYSTEM SET synchronous_standby_names = 'nosuch'" -c "SELECT pg_reload_conf()" >/dev/null
ZB_PG_DB=shop zb_psql -c "SET synchronous_commit = on" -c "INSERT INTO audit_log VALUES (400, 'committed, not yet visible')" \
    >/dev/null 2>&1 &
waiter=$!
zb_on_exit "kill -9 $waiter 2>/dev/null"
for i in $(seq 1 240); do
    [ "$(zb_psql -At -c "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'")" = 1 ] && break
    sleep 0.25
done
zb_expect_equal "$(ZB_PG_DB=shop zb_psql -At -c "SELECT count(*) FROM audit_log WHERE at = 400")" "0" \
    "the waiting transaction is not visible yet"
for i in $(seq 1 30); do
    ZB_PG_DB=shop zb_psql -c "SET synchronous_commit = local" -c "INSERT INTO sales (item, qty) VALUES ('night $i', $i)" \
        -c "UPDATE stock SET qty = qty + 1 WHERE sku = 'new2'" -c "DELETE FROM audit_log WHERE at = 12"
done &
load=$!
nightly=$("$ZB_BIN" backup --repo repo --pg "$db" --recipient key.pub 2>nightly.log)
zb_expect_equal "$?" "0" "a nightly backup while the follower runs"
wait "$load"
zb_psql -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event = 'SyncRep'" >/dev/null
wait "$waiter"
zb_psql -c "ALTER SYSTEM RESET synchronous_standby_names" -c "SELECT pg_reload_conf()" >/dev/null
zb_expect_equal "$(ZB_PG_DB=shop zb_psql -At -c "SELECT count(*) FROM audit_log WHERE at = 400")" "1" \
    "the waiting transaction committed"

# kill -9 mid-stream, changes while it is down, then a server restart
wait_confirmed "$(wal_lsn)"
for i in $(seq 1 20); do ZB_PG_DB=shop zb_psql -c "INSERT INTO audit_log VALUES (100 + $i, 'tx $i')" -c "UPDATE stock SET qty = qty + $i WHERE sku = 'new1'"; done &
load=$!
mid_load() { [ "$(ZB_PG_DB=shop zb_psql -At -c "SELECT count(*) FROM audit_log WHERE at > 100 AND at <= 120")" -ge 2 ]; }
zb_wait_until mid_load
kill -9 "$pid"
wait "$load"
ZB_PG_DB=shop zb_psql -c "INSERT INTO audit_log VALUES (200, 'while down')"
start_follower
wait_confirmed "$(wal_lsn)"
runuser -u postgres -- "$ZB_PG_SERVER_BIN/pg_ctl" -D "$ZB_PG_DATA" -w -m fast restart >/dev/null
# the same follower waits the restart out and reconnects, resuming where its
# last segment ends
for i in $(seq 1 120); do cat follow*.log | grep -q "reconnecting in" && break; sleep 0.25; done
zb_expect_contains "$(cat follow*.log)" "reconnecting in" "the follower says it reconnects"
kill -0 "$pid" 2>/dev/null && zb_pass || zb_fail "the follower exited after the server restart"
ZB_PG_DB=shop zb_psql -c "INSERT INTO audit_log VALUES (300, 'after restart')"
wait_confirmed "$(wal_lsn)"
kill -TERM "$pid"
wait "$pid"
zb_expect_equal "$?" "0" "SIGTERM stops the follower cleanly"

# a stop while complete transactions are held, not yet in a segment (one
# segment an hour): they are published before the follower exits 0
start_follower --segment-seconds 3600
segments_before=$(find repo/pitr -name '*.zbseg' | wc -l)
ZB_PG_DB=shop zb_psql <<'SQL'
INSERT INTO sales (item) VALUES ('last');
UPDATE audit_log SET msg = E'dup\\ updated' WHERE at = 13;
BEGIN;
INSERT INTO odd VALUES (9, E'\\N\t\\.', '\x0a0d09', ARRAY[NULL, E'\n'], NULL), (10, NULL, NULL, NULL, repeat('z', 5000));
UPDATE odd SET b = '\xdeadbeef', a = ARRAY['x\y'] WHERE id IN (3, 6, 9);
UPDATE odd SET t = E'twice\r' WHERE id = 2;
COMMIT;
SQL
time_c=$(now)
hashes shop >hashes.c
audit_c=$(ZB_PG_DB=shop zb_psql -At -c "SELECT count(*) FROM audit_log")
seq_c=$(ZB_PG_DB=shop zb_psql -At -c "SELECT last_value FROM sales_id_seq")
lsn_c=$(wal_lsn)
# received: the follower reports what it read (every 10 s at most)
for i in $(seq 1 120); do
    [ "$(zb_psql -At -c "SELECT r.write_lsn >= '$lsn_c' FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid")" = t ] && break
    sleep 0.25
done
zb_expect_equal "$(zb_psql -At -c "SELECT confirmed_flush_lsn < '$lsn_c' FROM pg_replication_slots")|$(find repo/pitr -name '*.zbseg' | wc -l)" \
    "t|$segments_before" "the last changes are with the follower, not yet in a segment"
kill -TERM "$pid"
wait "$pid"
zb_expect_equal "$?" "0" "SIGTERM with complete transactions held: the follower exits 0"
zb_expect_equal "$(find repo/pitr -name '*.zbseg' | wc -l)" "$((segments_before + 1))" "... after publishing them"
zb_expect_equal "$(zb_archives_in repo | wc -l)" "2" "segments are never taken for archives"
# 14+: the transaction larger than logical_decoding_work_mem came in progress
# (Stream messages), and recovery to B below replays it whole
if [ "$major" -ge 14 ]; then
    zb_expect_equal "$(zb_psql -At -c "SELECT stream_txns > 0 FROM pg_stat_replication_slots WHERE slot_name = '$(chain_slot)'")" \
        "t" "the server streamed the large transaction in progress"
fi
segments=$(find repo/pitr -name '*.zbseg' | wc -l)
[ "$segments" -ge 2 ] && zb_pass || zb_fail "expected several segments, found $segments"
zb_expect_not_contains "$(cat repo/pitr/*/*.zbseg | head -c 100000 | strings)" "coffee" "segments are encrypted"
base=$(zb_archives_in repo | grep -v "$nightly")

# given the chain's base and the nightly, restore starts from the newest
# snapshot before the point: the base for A, the nightly for C
zb_expect_status 0 "restore --until A" -- "$ZB_BIN" restore --key key "$base" "$nightly" --pg-target "$(zb_pg_conninfo at_a)" \
    --until "$time_a"
zb_expect_contains "$ZB_LAST_OUTPUT" "starting from $base (the chain's base)" "the nightly is after A: the base is the start"
hashes at_a >got.a
zb_expect_equal "$(cat got.a)" "$(cat hashes.a)" "recovery to A: every table as it was at A"
zb_expect_status 0 "restore --until-lsn B" -- "$ZB_BIN" --log-level detail restore --key key "$base" \
    --pg-target "$(zb_pg_conninfo at_b)" --until-lsn "$lsn_b"
# each segment is read (decrypted, verified) once: its signature is checked once
signed=$(grep -o '[^ "]*\.zbseg is signed by' <<<"$ZB_LAST_OUTPUT")
zb_expect_equal "$(wc -l <<<"$signed")" "$(sort -u <<<"$signed" | wc -l)" "each segment is read once"
[ -n "$signed" ] && zb_pass || zb_fail "the replay logged no segment's signature"
hashes at_b >got.b
zb_expect_equal "$(cat got.b)" "$(cat hashes.b)" "recovery to B (a large transaction and a TRUNCATE)"
zb_expect_status 0 "restore --until C" -- "$ZB_BIN" restore --key key "$base" --pg-target "$(zb_pg_conninfo at_c)" --until "$time_c"
zb_expect_contains "$ZB_LAST_OUTPUT" "passed snapshot $nightly and equalled it there" \
    "the replay from the base passes the nightly and compares every replayed table with it at its position"
hashes at_c >got.c
zb_expect_equal "$(cat got.c)" "$(cat hashes.c)" "recovery to C, across kill -9 and a server restart: no gap, no duplicate"
zb_expect_equal "$(ZB_PG_DB=at_c zb_psql -At -c "SELECT nextval('sales_id_seq') > $seq_c")" "t" \
    "sequences set past every value used at C"
zb_expect_status 0 "restore --until C from the nightly" -- "$ZB_BIN" restore --key key "$nightly" "$base" \
    --pg-target "$(zb_pg_conninfo night_c)" --until "$time_c"
zb_expect_contains "$ZB_LAST_OUTPUT" "starting from $nightly (a snapshot inside the chain)" "C is after the nightly: it is the start"
hashes night_c >got.night_c
zb_expect_equal "$(cat got.night_c)" "$(cat hashes.c)" \
    "recovery to C from the nightly: nothing it held applied twice, nothing it lacked left out"
printf '[repository]\npath = %s/repo\n' "$ZB_TMP" >zb.conf
zb_expect_status 0 "drill --until C" -- env TMPDIR="$ZB_TMP" "$ZB_BIN" -q --config zb.conf drill --key key \
    --pg-target "host=$ZB_PG_SOCKET port=$ZB_PG_PORT user=postgres" --until "$time_c" --json
zb_expect_equal "$(jq -r '.result + " " + .pitr.archive + " " + .pitr.from + " " + (.pitr.replayed | tostring)' <<<"$ZB_LAST_OUTPUT")" \
    "pass $ZB_TMP/$nightly snapshot true" "drill --until starts from the nightly, restores, verifies and replays to C"
zb_expect_equal "$(jq -r '(.pitr.transactions > 0) and (.pitr.replay_seconds > 0)' <<<"$ZB_LAST_OUTPUT")" "true" \
    "drill --until reports the replay"
# the index is not signed: a position edited there is refused against the manifest's
index=repo/.zakpos-backup-index.json
cp "$index" index.saved
jq --arg n "$(basename "$nightly")" '(.archives[$n].sources[] | select(.kind == "pg") | .position.snapshot) |= "1:1:"' \
    index.saved >"$index"
zb_expect_status 6 "drill --until with an edited index position" -- env TMPDIR="$ZB_TMP" "$ZB_BIN" -q --config zb.conf drill \
    --key key --pg-target "host=$ZB_PG_SOCKET port=$ZB_PG_PORT user=postgres" --until "$time_c"
zb_expect_contains "$ZB_LAST_OUTPUT" "differs from the repository index's" "drill refuses the index's position"
cp index.saved "$index"
zb_expect_status 0 "one table to B" -- "$ZB_BIN" restore --key key "$base" --pg-target "$(zb_pg_conninfo one)" \
    --table public.stock --until-lsn "$lsn_b"
zb_expect_equal "$(hashes one | grep stock)" "$(grep stock hashes.b)" "a single table recovered to B"

# replay runs in the temporary database and publishes only once verified:
# a damaged later segment fails the recovery and leaves the target as it was
ZB_PG_DB=postgres zb_psql -c "CREATE DATABASE keep"
ZB_PG_DB=keep zb_psql -c "CREATE TABLE mine (x int)" -c "INSERT INTO mine VALUES (42)"
cp -a repo repo_bad
last=$(find repo_bad/pitr -name '*.zbseg' | sort | tail -1)
printf 'XXXXXXXX' | dd of="$last" bs=1 seek=$(( $(stat -c %s "$last") / 2 )) conv=notrunc status=none
zb_expect_status 6 "a damaged segment fails the recovery" -- "$ZB_BIN" restore --key key "repo_bad/$(basename "$base")" \
    --pg-target "$(zb_pg_conninfo keep)" --force --until "$time_c"
zb_expect_equal "$(ZB_PG_DB=keep zb_psql -At -c "SELECT string_agg(x::text, ',') FROM mine")|$(ZB_PG_DB=keep zb_psql -At -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" \
    "42|1" "the target is untouched by the failed recovery"
zb_expect_equal "$(zb_psql -At -c "SELECT count(*) FROM pg_database WHERE datname ~ '^zb'")" "0" "no temporary database left"

# replay verification: a change lost on the way is named, with the count the
# stream gives and the count found, and nothing is published (from the
# nightly: from the base, the nightly it passes names the table first)
ZAKPOS_BACKUP_TEST_PITR_LOSE_CHANGE=public.audit_log zb_expect_status 14 "a lost change fails the verification" -- \
    "$ZB_FAULT_BIN" restore --key key "$nightly" --pg-target "$(zb_pg_conninfo lost)" --until "$time_c"
zb_expect_contains "$ZB_LAST_OUTPUT" "table public.audit_log should have $audit_c rows" "the difference names the table and the expected count"
zb_expect_contains "$ZB_LAST_OUTPUT" "found $((audit_c - 1))" "... and the count found"
zb_expect_equal "$(zb_psql -At -c "SELECT count(*) FROM pg_database WHERE datname = 'lost'")" "0" "nothing published"
# an update lost on the way changes no count: the nightly the replay passes
# shows it, naming the table
if [ "$major" = 15 ]; then
    ZAKPOS_BACKUP_TEST_PITR_LOSE_UPDATE=public.sales zb_expect_status 14 "a lost update fails at the nightly's position" -- \
        "$ZB_FAULT_BIN" restore --key key "$base" --pg-target "$(zb_pg_conninfo lost)" --until "$time_c"
    zb_expect_contains "$ZB_LAST_OUTPUT" "at the position of snapshot $nightly" "the difference names the snapshot"
    zb_expect_contains "$ZB_LAST_OUTPUT" "table public.sales: the restored rows differ" "... and the table"
    zb_expect_equal "$(zb_psql -At -c "SELECT count(*) FROM pg_database WHERE datname = 'lost'")" "0" "nothing published"
fi

# a schema change mid-stream (15): a changed table (ALTER TABLE ADD COLUMN)
# ends the chain at its last consistent point and starts a new one from a
# fresh snapshot; so does a new table, which the next publication lists
if [ "$major" = 15 ]; then
    # the follower stopped between the two steps of the switch: the new
    # chain's slot exists before the old one is dropped
    old_slot=$(chain_slot)
    ZB_FAULT_AT=pitr-chain-switched ZB_FAULT_SIGNAL=9 "$ZB_FAULT_BIN" "${follow[@]:1}" 2>switch.log &
    fpid=$!
    zb_on_exit "kill -9 $fpid 2>/dev/null"
    archives_before=$(zb_archives_in repo | wc -l)
    ZB_PG_DB=shop zb_psql -c "INSERT INTO audit_log VALUES (400, 'before the change')"
    time_d=$(now)
    hashes shop >hashes.d
    wait_confirmed "$(wal_lsn)"
    ZB_PG_DB=shop zb_psql -c "BEGIN" -c "ALTER TABLE stock ADD COLUMN price numeric" \
        -c "UPDATE stock SET price = 1.5 WHERE sku = 'new2'" -c "COMMIT"
    for i in $(seq 1 480); do kill -0 "$fpid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$fpid" 2>/dev/null
    wait "$fpid"
    zb_expect_contains "$(cat switch.log)" "fault point pitr-chain-switched reached ($old_slot)" "the follower stopped mid-switch"
    new_slot=$(chain_slot)
    zb_expect_equal "$(zb_psql -At -c "SELECT string_agg(slot_name, ' ' ORDER BY slot_name) FROM pg_replication_slots")" \
        "$old_slot $new_slot" "the new chain's slot exists before the old one is dropped"
    start_follower
    for i in $(seq 1 240); do [ "$(zb_psql -At -c "SELECT count(*) FROM pg_replication_slots")" = 1 ] && break; sleep 0.25; done
    zb_expect_equal "$(zb_psql -At -c "SELECT string_agg(slot_name, ' ') FROM pg_replication_slots")" "$new_slot" \
        "the next follower resumes the new chain and drops the old chain's slot"
    zb_expect_contains "$(cat follow*.log)" "following chain $(jq -r .chain repo/pitr/zakpos_backup.json)" "... following the new chain"
    zb_expect_equal "$(zb_archives_in repo | wc -l)" "$((archives_before + 1))" "a changed table starts a new chain with its own base snapshot"
    ZB_PG_DB=shop zb_psql -c "CREATE TABLE extra (id int PRIMARY KEY, v text)" -c "INSERT INTO extra VALUES (1, 'x')" \
        -c "INSERT INTO audit_log VALUES (500, 'after create')"
    for i in $(seq 1 240); do [ "$(zb_archives_in repo | wc -l)" -ge $((archives_before + 2)) ] && break; sleep 0.25; done
    zb_expect_equal "$(zb_archives_in repo | wc -l)" "$((archives_before + 2))" "a new table starts a new chain"
    zb_expect_equal "$(ZB_PG_DB=shop zb_psql -At -c "SELECT count(*) FROM pg_publication_tables WHERE tablename = 'extra'")|$(zb_psql -At -c "SELECT count(*) FROM pg_replication_slots")" \
        "1|1" "the new chain's publication lists the new table; one slot"
    ZB_PG_DB=shop zb_psql -c "INSERT INTO extra VALUES (2, 'streamed')" -c "UPDATE stock SET price = 2 WHERE sku = 'new3'"
    time_f=$(now)
    hashes shop >hashes.f
    extra_f=$(table_hash shop extra)
    wait_confirmed "$(wal_lsn)"
    kill -TERM "$pid"
    wait "$pid"
    first=$(zb_archives_in repo | head -1)
    last=$(zb_archives_in repo | tail -1)
    zb_expect_status 0 "the first chain to a point before the change" -- "$ZB_BIN" restore --key key "$first" \
        --pg-target "$(zb_pg_conninfo at_d)" --until "$time_d"
    zb_expect_equal "$(hashes at_d)" "$(cat hashes.d)" "recovery before the change"
    zb_expect_status 0 "the first chain to a point after the change" -- "$ZB_BIN" restore --key key "$first" \
        --pg-target "$(zb_pg_conninfo across)" --until "$time_f"
    zb_expect_contains "$ZB_LAST_OUTPUT" "the chain ends at" "recovery across the change says where it stopped"
    zb_expect_contains "$ZB_LAST_OUTPUT" "a table's columns or name changed" "... and why"
    zb_expect_equal "$(hashes across)" "$(cat hashes.d)" "... and stops at the last consistent point"
    zb_expect_status 0 "the last chain to a point after both changes" -- "$ZB_BIN" restore --key key "$last" \
        --pg-target "$(zb_pg_conninfo at_f)" --until "$time_f"
    zb_expect_equal "$(hashes at_f)|$(table_hash at_f extra)" "$(cat hashes.f)|$extra_f" "recovery after both changes, the new table too"

    # what no Relation message shows: each change ends the chain with its
    # reason (a row in audit_log closes a segment, where the catalog is
    # checked); a TRUNCATE of several tables is replayed within the chain
    start_follower
    ZB_PG_DB=shop zb_psql -c "TRUNCATE stock, extra" -c "INSERT INTO extra VALUES (3, 'after truncate')" >/dev/null
    time_g=$(now)
    hashes shop >hashes.g
    extra_g=$(table_hash shop extra)
    chain_g=$(jq -r .chain repo/pitr/zakpos_backup.json)
    wait_confirmed "$(wal_lsn)"
    ends_chain() { # SQL, the reason end.json must give
        local chain i
        chain=$(jq -r .chain repo/pitr/zakpos_backup.json)
        ZB_PG_DB=shop zb_psql -c "$1" -c "INSERT INTO audit_log VALUES (600, 'after ddl')" >/dev/null
        for i in $(seq 1 240); do [ -f "repo/pitr/$chain/end.json" ] && break; sleep 0.25; done
        zb_expect_equal "$(jq -r .reason "repo/pitr/$chain/end.json" 2>/dev/null)" "$2" "the chain ends at: $1"
        for i in $(seq 1 240); do cat follow*.log | grep -q "following chain $(jq -r .next_chain "repo/pitr/$chain/end.json")" && break; sleep 0.25; done
    }
    ends_chain "CREATE SEQUENCE tickets" "a sequence was created or dropped"
    ends_chain "ALTER TABLE extra ALTER COLUMN v TYPE varchar(40)" \
        "a followed table's columns, schema, replica identity or partitioning changed"
    ends_chain "ALTER TABLE stock REPLICA IDENTITY FULL" \
        "a followed table's columns, schema, replica identity or partitioning changed"
    ends_chain "CREATE TABLE parted (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
        CREATE TABLE part1 PARTITION OF parted FOR VALUES FROM (0) TO (100); CREATE TABLE part2 (id int PRIMARY KEY, v text)" \
        "a table was created"
    ends_chain "ALTER TABLE parted ATTACH PARTITION part2 FOR VALUES FROM (100) TO (200)" \
        "a followed table's columns, schema, replica identity or partitioning changed"
    ends_chain "CREATE SCHEMA other; ALTER TABLE extra SET SCHEMA other" \
        "a followed table's columns, schema, replica identity or partitioning changed"
    ends_chain "DROP TABLE other.extra" "a followed table was dropped"
    ZB_PG_DB=shop zb_psql -c "SELECT nextval('tickets') FROM generate_series(1, 5)" -c "INSERT INTO parted VALUES (1, 'a'), (150, 'b')" >/dev/null
    time_h=$(now)
    hashes shop >hashes.h
    wait_confirmed "$(wal_lsn)"
    kill -TERM "$pid"
    wait "$pid"
    base_g=$(zb_archives_in repo | grep -- "-$chain_g.zbk")
    zb_expect_status 0 "recovery after a TRUNCATE of two tables" -- "$ZB_BIN" restore --key key "$base_g" \
        --pg-target "$(zb_pg_conninfo at_g)" --until "$time_g"
    zb_expect_equal "$(hashes at_g)|$(table_hash at_g extra)" "$(cat hashes.g)|$extra_g" "... both tables as they were"
    zb_expect_status 0 "recovery after every change" -- "$ZB_BIN" restore --key key "$(zb_archives_in repo | tail -1)" \
        --pg-target "$(zb_pg_conninfo at_h)" --until "$time_h"
    zb_expect_equal "$(hashes at_h)|$(ZB_PG_DB=at_h zb_psql -At -c "SELECT count(*) FROM parted")|$(ZB_PG_DB=at_h zb_psql -At -c "SELECT nextval('tickets')")" \
        "$(cat hashes.h)|2|6" "... the tables, the partitions and the sequence created mid-stream"
fi

zb_expect_equal "$(ls follow*.log | wc -l)" "$runs" "each follower run kept its own log"
zb_expect_status 0 "follow --stop" -- "$ZB_BIN" follow --stop --repo repo --pg "$db"
zb_expect_equal "$(zb_psql -At -c "SELECT count(*) FROM pg_replication_slots")|$(ZB_PG_DB=shop zb_psql -At -c "SELECT count(*) FROM pg_publication")" \
    "0|0" "--stop drops the slot and the publication"
zb_test_end
