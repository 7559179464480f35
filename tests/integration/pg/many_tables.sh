# Frozen loading holds a lock on each table until its rows are committed.
# Archives mark each table's end, so a table commits as soon as its rows are
# in and the locks held at once stay few however many tables there are;
# with archives of toc format 1 (no end marks) the locks pile up until the
# load ends, so on a server whose lock table is too small for that the
# restore loads the rows unfrozen in separate commits instead, the tables
# spread over the connections as when frozen. Either way the database comes
# back the same. Pre-data runs beside the loading: with a lock table this
# small it goes in batches of three tables, and rows load into the tables
# of the first batches while the leader still creates the others.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/pg.sh"
zb_test_begin
cd "$ZB_TMP"
# 10 locks x (20 connections + 0 prepared) = 200 slots: frozen loading of a
# format-1 archive may take 50, three per table, so 16 tables fit and 80 do
# not (their 240 locks held at once would not even fit the whole table);
# no autovacuum, which on a slow run marks the unfrozen copy's pages
# all-visible before they are counted; each statement logged with its
# backend's process id, to see which connections loaded rows
ZB_PG_SERVER_OPTIONS="-c max_locks_per_transaction=10 -c max_connections=20 -c autovacuum=off \
    -c log_min_duration_statement=0 -c log_line_prefix=%p:" zb_pg_start
zb_psql -c "CREATE DATABASE few" -c "CREATE DATABASE many"
ZB_PG_DB=few zb_psql -c "DO \$\$ BEGIN FOR i IN 1..5 LOOP
    EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, note text)', i);
    EXECUTE format('INSERT INTO t%s SELECT g, repeat(''x'', g %% 50) FROM generate_series(1, 2000) g', i);
    END LOOP; END \$\$"
ZB_PG_DB=many zb_psql -c "DO \$\$ BEGIN FOR i IN 1..80 LOOP
    EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, note text, big text)', i);
    EXECUTE format('INSERT INTO t%s SELECT g, repeat(''y'', g %% 50), CASE WHEN g = 1 THEN repeat(md5(g::text), 400) END
        FROM generate_series(1, 2000) g', i);
    END LOOP; END \$\$"
"$ZB_BIN" keygen --out key >/dev/null 2>&1

# the share of loaded tables' pages that ANALYZE counts as all-visible
visible_pages() {
    ZB_PG_DB=$1 zb_psql -At -c "SELECT count(*) FILTER (WHERE relallvisible = relpages), count(*) FROM pg_class
        WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
}

# CASE: database, toc format of its archive
for case in few:2 many:2 many:1; do
    db=${case%%:*} format=${case#*:} copy=${case/:/-v}
    ZAKPOS_BACKUP_TEST_PG_TOC_FORMAT=$format zb_expect_status 0 "backup of $db (toc format $format)" -- "$ZB_FAULT_BIN" -q backup \
        --repo "repo-$copy" --recipient key.pub --pg "$(zb_pg_conninfo "$db")" --jobs 2
    archive=$ZB_LAST_OUTPUT
    log_at=$(stat -c %s "$ZB_TMP/pg.log")
    zb_expect_status 0 "restore of $db (toc format $format)" -- "$ZB_BIN" --log-level detail --log-format text restore \
        --key key "$archive" --pg-target "$(zb_pg_conninfo "$copy")" --jobs 2
    restore_log=$ZB_LAST_OUTPUT
    zb_pg_dump_schema "$db" >"schema.$db"
    zb_pg_dump_schema "$copy" >"schema.$copy"
    zb_pg_dump_data "$db" >"data.$db"
    zb_pg_dump_data "$copy" >"data.$copy"
    if cmp -s "schema.$db" "schema.$copy" && cmp -s "data.$db" "data.$copy"; then zb_pass; else zb_fail "$copy: the copy differs"; fi
    zb_expect_contains "$(cat "data.$db")" "COPY public.t5" "$copy: the oracle saw its tables"
    case $case in
    few:2)
        zb_expect_equal "$(visible_pages "$copy")" "5|5" "few tables: loaded frozen"
        zb_expect_not_contains "$restore_log" "unfrozen" "few tables: no fallback"
        ;;
    many:2)
        zb_expect_equal "$(visible_pages "$copy")" "80|80" "many tables, each marked at its end: loaded frozen"
        zb_expect_not_contains "$restore_log" "unfrozen" "many tables, each marked at its end: no fallback"
        # the server logs each message as it ends: a COPY by a loading
        # connection ended before the leader's last batch of CREATE TABLE
        restore_messages=$(tail -c +$((log_at + 1)) "$ZB_TMP/pg.log" | grep -an 'statement: ')
        last_create=$(grep 'statement: CREATE TABLE' <<<"$restore_messages" | tail -1)
        first_copy=$(grep 'statement: .*COPY .* FROM STDIN' <<<"$restore_messages" | head -1)
        zb_expect_equal "$(grep -c 'statement: CREATE TABLE' <<<"$restore_messages")" 27 \
            "many tables: pre-data in batches of three"
        if [ -n "$first_copy" ] && [ "${first_copy%%:*}" -lt "${last_create%%:*}" ] &&
            [ "$(cut -d: -f2 <<<"$first_copy")" != "$(cut -d: -f2 <<<"$last_create")" ]; then
            zb_pass
        else
            zb_fail "many tables: no rows loaded before the last pre-data batch ended (first COPY: ${first_copy:0:80}; last CREATE: ${last_create:0:80})"
        fi
        ;;
    many:1)
        zb_expect_equal "$(visible_pages "$copy")" "0|80" "many tables, no end marks: loaded unfrozen"
        zb_expect_contains "$restore_log" "80 tables would take 240 of the server's 200 lock slots: loading them unfrozen" \
            "many tables, no end marks: says why"
        loaders=$(tail -c +$((log_at + 1)) "$ZB_TMP/pg.log" | grep -a 'statement: COPY .* FROM STDIN' | cut -d: -f1 | sort -u | wc -l)
        zb_expect_equal "$loaders" 2 "many tables, no end marks: rows loaded by both connections"
        ;;
    esac
done

# The catalog fingerprint is read on a second connection while the leader
# reads the schema. That connection must adopt the leader's exported
# snapshot once the leader holds its locks: a table made at that moment is
# then in neither the toc nor catalog.json, and the restored database
# matches the fingerprint. The server's log says which backend ran what.
log_at=$(stat -c %s "$ZB_TMP/pg.log")
make_late="runuser -u postgres -- '$ZB_PG_BIN/psql' -X -q -h '$ZB_PG_SOCKET' -p '$ZB_PG_PORT' -d few -c 'CREATE TABLE late (id int)'"
ZB_FAULT_AT=pg-tables-locked ZB_FAULT_RUN="$make_late" zb_expect_status 0 "backup while a table is made" -- \
    "$ZB_FAULT_BIN" -q backup --repo repo-late --recipient key.pub --pg "$(zb_pg_conninfo few)" --jobs 2
archive=$("$ZB_BIN" latest --repo repo-late)
zb_expect_equal "$(ZB_PG_DB=few zb_psql -At -c "SELECT count(*) FROM pg_class WHERE relname = 'late'")" 1 \
    "the table was made during the backup"
tail -c +$((log_at + 1)) "$ZB_TMP/pg.log" >backup-late.log
leader=$(grep -a 'pg_export_snapshot' backup-late.log | head -1 | cut -d: -f1)
reader=$(grep -a 'statement: DECLARE zb_fingerprint_' backup-late.log | cut -d: -f1 | sort -u)
zb_expect_equal "$(echo "$reader" | wc -l)" 1 "one backend read the catalog fingerprint"
if [ -n "$leader" ] && [ -n "$reader" ] && [ "$reader" != "$leader" ]; then zb_pass; else
    zb_fail "the fingerprint was read by the leader ($leader), not a connection of its own ($reader)"; fi
# the catalog functions lock what they read (a view): behind a DDL that
# waits for the leader, that connection must give up as the leader would
zb_expect_contains "$(grep -a "^$reader:" backup-late.log)" "statement: SET LOCAL lock_timeout = 10000" \
    "the fingerprint's connection waits for a lock no longer than the leader"
first_declare=$(grep -an "^$reader:.*statement: DECLARE zb_fingerprint_" backup-late.log | head -1 | cut -d: -f1)
adopted=$(grep -an "^$reader:.*statement: SET TRANSACTION SNAPSHOT" backup-late.log | head -1 | cut -d: -f1)
if [ -n "$adopted" ] && [ -n "$first_declare" ] && [ "$adopted" -lt "$first_declare" ]; then zb_pass; else
    zb_fail "the fingerprint's backend did not adopt the snapshot before reading"; fi
# small tables' COPY statements go several to a query message (the rows
# are compared by the verification below)
copies=$(grep -ac 'statement: COPY .* TO STDOUT' backup-late.log)
if [ "$copies" -ge 1 ] && [ "$copies" -lt 5 ]; then zb_pass; else
    zb_fail "the 5 small tables took $copies COPY messages, not fewer than 5"; fi
zb_expect_status 0 "verify --restore of the backup made beside the new table" -- "$ZB_BIN" -q verify --restore --key key \
    "$archive" --pg-target "$(zb_pg_conninfo postgres)" --jobs 2

# A COPY that fails inside a message of several names its own table: the
# owner's policy, forced on itself, refuses the backup's row_security=off
# (b1, larger, is queued first; b2 to b4 follow it in the same message).
zb_psql -c "CREATE DATABASE forced" -c "CREATE ROLE zb_owner LOGIN"
ZB_PG_DB=forced zb_psql -c "GRANT CREATE ON SCHEMA public TO zb_owner" -c "SET ROLE zb_owner;
    CREATE TABLE b1 (id int); CREATE TABLE b2 (id int); CREATE TABLE b3 (id int); CREATE TABLE b4 (id int);
    INSERT INTO b1 SELECT generate_series(1, 1000); INSERT INTO b2 VALUES (2); INSERT INTO b3 VALUES (3);
    INSERT INTO b4 VALUES (4); ALTER TABLE b3 ENABLE ROW LEVEL SECURITY; ALTER TABLE b3 FORCE ROW LEVEL SECURITY;
    CREATE POLICY p ON b3 USING (id > 0)"
zb_expect_status 10 "backup of a table whose rows the backup may not read" -- "$ZB_BIN" --log-format text backup \
    --repo repo-forced --recipient key.pub --pg "$(zb_pg_conninfo forced) user=zb_owner" --jobs 2
zb_expect_contains "$ZB_LAST_OUTPUT" "table public.b3: cannot start copying" "the failing COPY names its table"
zb_expect_not_contains "$ZB_LAST_OUTPUT" "table public.b1" "and no other table of its message"
zb_test_end
