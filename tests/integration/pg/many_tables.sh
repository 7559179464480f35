# Frozen loading holds a lock on every loaded table until the load ends; on a
# server whose lock table is too small for that, the restore loads the rows
# unfrozen in separate commits instead, and the database comes back the same.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/pg.sh"
zb_test_begin
cd "$ZB_TMP"
# 10 locks x (20 connections + 0 prepared) = 200 slots: frozen loading may
# take 50, three per table, so 16 tables fit and 40 do not
ZB_PG_SERVER_OPTIONS="-c max_locks_per_transaction=10 -c max_connections=20" zb_pg_start
zb_psql -c "CREATE DATABASE few" -c "CREATE DATABASE many"
ZB_PG_DB=few zb_psql -c "DO \$\$ BEGIN FOR i IN 1..5 LOOP
    EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, note text)', i);
    EXECUTE format('INSERT INTO t%s SELECT g, repeat(''x'', g %% 50) FROM generate_series(1, 2000) g', i);
    END LOOP; END \$\$"
ZB_PG_DB=many zb_psql -c "DO \$\$ BEGIN FOR i IN 1..40 LOOP
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

for db in few many; do
    zb_expect_status 0 "backup of $db" -- "$ZB_BIN" -q backup --repo "repo-$db" --recipient key.pub --pg "$(zb_pg_conninfo "$db")" --jobs 2
    archive=$ZB_LAST_OUTPUT
    zb_expect_status 0 "restore of $db" -- "$ZB_BIN" --log-level detail --log-format text restore --key key "$archive" \
        --pg-target "$(zb_pg_conninfo "$db-copy")" --jobs 2
    restore_log=$ZB_LAST_OUTPUT
    zb_pg_dump_schema "$db" >"schema.$db"
    zb_pg_dump_schema "$db-copy" >"schema.$db-copy"
    zb_pg_dump_data "$db" >"data.$db"
    zb_pg_dump_data "$db-copy" >"data.$db-copy"
    if cmp -s "schema.$db" "schema.$db-copy" && cmp -s "data.$db" "data.$db-copy"; then zb_pass; else zb_fail "$db: the copy differs"; fi
    zb_expect_contains "$(cat "data.$db")" "COPY public.t5" "$db: the oracle saw its tables"
    case $db in
    few)
        zb_expect_equal "$(visible_pages few-copy)" "5|5" "few tables: loaded frozen"
        zb_expect_not_contains "$restore_log" "unfrozen" "few tables: no fallback"
        ;;
    many)
        zb_expect_equal "$(visible_pages many-copy)" "0|40" "many tables: loaded unfrozen"
        zb_expect_contains "$restore_log" "40 tables would take 120 of the server's 200 lock slots: loading them unfrozen" \
            "many tables: says why"
        ;;
    esac
done
zb_test_end
