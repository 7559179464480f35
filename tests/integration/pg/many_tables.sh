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
zb_test_end
