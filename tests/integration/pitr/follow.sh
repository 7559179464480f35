# follow + restore --until against a real server: the tables' rows after
# recovery to a point must hash exactly as psql hashed them at that point
# (md5 of an ordered COPY: the oracle never goes through the tool), through a
# follower killed with -9 and a server restart mid-stream (no gap: nothing
# missing; no duplicate: the table without a key would show it).
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/pg.sh"
zb_test_begin
cd "$ZB_TMP"
zb_pg_use_major "${1:-15}"
ZB_PG_SERVER_OPTIONS="-c max_wal_senders=4 -c max_replication_slots=4 -c logical_decoding_work_mem=64kB"
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
SQL
"$ZB_BIN" keygen --out key >/dev/null 2>&1
follow=("$ZB_BIN" --log-level detail follow --repo repo --pg "$db" --recipient key.pub --segment-seconds 1)

# the oracle: each table's rows, ordered, as psql's COPY prints them
hashes() {
    local t
    for t in sales stock audit_log; do
        printf '%s %s\n' "$t" "$(ZB_PG_DB=$1 zb_psql -At -c "COPY (SELECT * FROM $t ORDER BY 1, 2) TO STDOUT" | md5sum | cut -d' ' -f1)"
    done
}
now() { ZB_PG_DB=shop zb_psql -At -c "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"; }
wal_lsn() { ZB_PG_DB=shop zb_psql -At -c "SELECT pg_current_wal_lsn()"; }
# waits until the slot confirmed LSN: the changes before it are durable in the repository
wait_confirmed() {
    zb_pg_wait_confirmed zakpos_backup "$1" && return 0
    zb_fail "the slot never confirmed $1"; cat follow*.log >&2
    return 1
}
start_follower() {
    "${follow[@]}" "$@" >>follow.out 2>>"follow$((++runs)).log" &
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

# kill -9 mid-stream, changes while it is down, then a server restart
wait_confirmed "$(wal_lsn)"
for i in $(seq 1 20); do ZB_PG_DB=shop zb_psql -c "INSERT INTO audit_log VALUES (100 + $i, 'tx $i')" -c "UPDATE stock SET qty = qty + $i WHERE sku = 'new1'"; done &
load=$!
sleep 0.5
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
ZB_PG_DB=shop zb_psql -c "INSERT INTO audit_log VALUES (300, 'after restart')" -c "INSERT INTO sales (item) VALUES ('last')"
time_c=$(now)
hashes shop >hashes.c
seq_c=$(ZB_PG_DB=shop zb_psql -At -c "SELECT last_value FROM sales_id_seq")
wait_confirmed "$(wal_lsn)"
kill -TERM "$pid"
wait "$pid"
zb_expect_equal "$?" "0" "SIGTERM stops the follower cleanly"
zb_expect_equal "$(zb_archives_in repo | wc -l)" "1" "segments are never taken for archives"
segments=$(find repo/pitr -name '*.zbseg' | wc -l)
[ "$segments" -ge 2 ] && zb_pass || zb_fail "expected several segments, found $segments"
zb_expect_not_contains "$(cat repo/pitr/*/*.zbseg | head -c 100000 | strings)" "coffee" "segments are encrypted"
base=$(zb_archives_in repo)

zb_expect_status 0 "restore --until A" -- "$ZB_BIN" restore --key key "$base" --pg-target "$(zb_pg_conninfo at_a)" --until "$time_a"
hashes at_a >got.a
zb_expect_equal "$(cat got.a)" "$(cat hashes.a)" "recovery to A: every table as it was at A"
zb_expect_status 0 "restore --until-lsn B" -- "$ZB_BIN" restore --key key "$base" --pg-target "$(zb_pg_conninfo at_b)" --until-lsn "$lsn_b"
hashes at_b >got.b
zb_expect_equal "$(cat got.b)" "$(cat hashes.b)" "recovery to B (a large transaction and a TRUNCATE)"
zb_expect_status 0 "restore --until C" -- "$ZB_BIN" restore --key key "$base" --pg-target "$(zb_pg_conninfo at_c)" --until "$time_c"
hashes at_c >got.c
zb_expect_equal "$(cat got.c)" "$(cat hashes.c)" "recovery to C, across kill -9 and a server restart: no gap, no duplicate"
zb_expect_equal "$(ZB_PG_DB=at_c zb_psql -At -c "SELECT nextval('sales_id_seq') > $seq_c")" "t" \
    "sequences set past every value used at C"
zb_expect_status 0 "one table to B" -- "$ZB_BIN" restore --key key "$base" --pg-target "$(zb_pg_conninfo one)" \
    --table public.stock --until-lsn "$lsn_b"
zb_expect_equal "$(hashes one | grep stock)" "$(grep stock hashes.b)" "a single table recovered to B"

zb_expect_status 0 "follow --stop" -- "$ZB_BIN" follow --stop --repo repo --pg "$db"
zb_expect_equal "$(zb_psql -At -c "SELECT count(*) FROM pg_replication_slots")|$(ZB_PG_DB=shop zb_psql -At -c "SELECT count(*) FROM pg_publication")" \
    "0|0" "--stop drops the slot and the publication"
zb_test_end
