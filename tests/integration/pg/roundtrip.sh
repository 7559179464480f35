# Back up a database that uses every supported object kind, awkward names
# and awkward data; restore it into a new database; pg_dump (the oracle, used
# only here) must print the same schema and the same rows for both.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/pg.sh"
zb_test_begin
cd "$ZB_TMP"
zb_pg_start
zb_psql -c "CREATE DATABASE shop"
zb_pg_load_fixture shop
"$ZB_BIN" keygen --out key >/dev/null 2>&1

zb_expect_status 0 "backup --pg" -- "$ZB_BIN" --log-level debug --log-format text backup --repo repo --recipient key.pub \
    --pg "$(zb_pg_conninfo shop)" --jobs 2
# built-in types go in binary COPY form; a table with an extension's type in text
zb_expect_contains "$ZB_LAST_OUTPUT" 'copying shop.order_items (binary)' "binary COPY where the types allow it"
zb_expect_contains "$ZB_LAST_OUTPUT" 'copying shop.customers (text)' "text COPY for other types"
archive=$("$ZB_BIN" latest --repo repo)
zb_expect_equal "$(zb_archives_in repo | wc -l)" "1" "one archive written"
zb_expect_status 0 "verify" -- "$ZB_BIN" verify --key key "$archive"

zb_expect_status 0 "restore into a new database" -- "$ZB_BIN" -q restore --key key "$archive" --pg-target "$(zb_pg_conninfo copy)" --jobs 2
zb_expect_equal "$ZB_LAST_OUTPUT" "restored pg shop copy" "names what was restored where"
zb_pg_expect_same_dump shop copy
zb_expect_contains "$(cat schema.src data.src)" "424243" "the large objects were dumped"
zb_expect_equal "$(ZB_PG_DB=copy zb_psql -At -c "SELECT length(lo_get(424243)), md5(lo_get(424242))")" \
    "$(ZB_PG_DB=shop zb_psql -At -c "SELECT length(lo_get(424243)), md5(lo_get(424242))")" "large objects came back"
zb_expect_equal "$(ZB_PG_DB=copy zb_psql -At -c "SELECT ispopulated FROM pg_matviews ORDER BY matviewname")" $'t\nf' \
    "materialized views refreshed as they were"
zb_expect_equal "$(ZB_PG_DB=copy zb_psql -At -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'zbrestore%'")" "0" \
    "no temporary database left"
# rows were loaded frozen: ANALYZE (run by the restore) counts every page of
# every loaded table as all-visible, which plain loading would not give
zb_expect_equal "$(ZB_PG_DB=copy zb_psql -At -c "SELECT count(*) FILTER (WHERE c.relpages > 0), count(*) FILTER (WHERE c.relallvisible < c.relpages)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg_toast%'")" "$(ZB_PG_DB=shop zb_psql -At -c "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
    AND pg_relation_size(c.oid) > 0")|0" "every loaded table's pages are all-visible"

# the target now holds objects: a second restore into it needs --force
zb_expect_status 9 "restore into a non-empty database" -- "$ZB_BIN" --log-format text restore --key key "$archive" --pg-target "$(zb_pg_conninfo copy)"
zb_expect_contains "$ZB_LAST_OUTPUT" 'target database "copy" exists and is not empty' "says why"
zb_expect_contains "$ZB_LAST_OUTPUT" "hint: " "says what to do"
ZB_PG_DB=copy zb_psql -c "INSERT INTO shop.cache VALUES ('marker', 'kept')"
zb_expect_equal "$(ZB_PG_DB=copy zb_psql -At -c "SELECT v FROM shop.cache WHERE k = 'marker'")" "kept" "the refused target was left alone"
zb_expect_status 0 "restore with --force replaces it" -- "$ZB_BIN" --log-level debug --log-format text restore --key key "$archive" \
    --pg-target "$(zb_pg_conninfo copy)" --force
# keys of plain tables: index built, then attached; valid foreign keys: added
# unchecked, then validated; the never-validated one as it was, in one go
zb_expect_equal "$(grep -c 'CONSTRAINT shop.vouchers_pk: ' <<<"$ZB_LAST_OUTPUT")" "2" "a primary key restores in two steps"
zb_expect_equal "$(grep -c 'FK CONSTRAINT shop.voucher_uses_code_fkey: ' <<<"$ZB_LAST_OUTPUT")" "2" "a valid foreign key restores in two steps"
zb_expect_equal "$(grep -c 'FK CONSTRAINT shop.voucher_uses_order: ' <<<"$ZB_LAST_OUTPUT")" "1" "a NOT VALID foreign key restores in one"
zb_expect_equal "$(grep -c 'CONSTRAINT shop.sales_pkey: ' <<<"$ZB_LAST_OUTPUT")" "1" "a partitioned table's key restores in one"
zb_expect_equal "$(ZB_PG_DB=copy zb_psql -At -c "SELECT count(*) FROM shop.cache WHERE k = 'marker'")" "0" "the replaced content is gone"
zb_pg_dump_data copy >data.forced
if diff -q data.src data.forced >/dev/null; then zb_pass; else zb_fail "data differs after --force"; fi

# without a dbname the target is <source>_restored, never the live database
zb_expect_status 0 "restore without a target name" -- "$ZB_BIN" -q restore --key key "$archive" --pg-target "host=$ZB_PG_SOCKET port=$ZB_PG_PORT user=postgres"
zb_expect_equal "$ZB_LAST_OUTPUT" "restored pg shop shop_restored" "default target name"

# selective restore: one table and what it needs
zb_expect_status 0 "restore one table" -- "$ZB_BIN" restore --key key "$archive" --pg-target "$(zb_pg_conninfo partial)" \
    --table shop.customers --no-owner --no-acl
zb_expect_equal "$(ZB_PG_DB=partial zb_psql -At -c "SELECT count(*) FROM shop.customers")" "3" "the table's rows"
zb_expect_equal "$(ZB_PG_DB=partial zb_psql -At -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'shop'")" "1" "no other table"
zb_expect_equal "$(ZB_PG_DB=partial zb_psql -At -c "SELECT count(*) FROM pg_indexes WHERE tablename = 'customers'")" "4" \
    "its indexes and keys came along"

# an archive in the toc format of earlier versions (ACLs written as REVOKE
# ALL and every grant) restores the same and passes its restore proof
# (the test build writes it: the shipped binary has no such setting)
ZAKPOS_BACKUP_TEST_PG_TOC_FORMAT=1 zb_expect_status 0 "backup in toc format 1" -- "$ZB_FAULT_BIN" -q backup --repo repo1 \
    --recipient key.pub --pg "$(zb_pg_conninfo shop)"
archive1=$("$ZB_BIN" latest --repo repo1)
zb_expect_status 0 "restore of a format-1 archive" -- "$ZB_BIN" -q restore --key key "$archive1" --pg-target "$(zb_pg_conninfo copy1)"
zb_pg_dump_schema copy1 >schema.copy1
if diff -q schema.src schema.copy1 >/dev/null; then zb_pass; else zb_fail "schema of the format-1 archive's copy differs"; fi
zb_expect_status 0 "verify --restore of a format-1 archive" -- "$ZB_BIN" --log-format text verify --restore --key key "$archive1" \
    --pg-target "$(zb_pg_conninfo postgres)"
zb_expect_contains "$ZB_LAST_OUTPUT" "verified $archive1 by restore (pg shop, " "the proof passed"

# a table's rows after its end mark, or two end marks, make a hostile or
# broken archive: refused naming the entry, nothing left behind
toc='{"format":2,"database":"shop","encoding":"UTF8","connections":1,"items":[],"tables":[{"oid":7,"schema":"s","name":"t","table":"s.t","columns":"a","format":"text"}]}'
for case in "after:file:pg/shop/data/7/000001.copy:1" "twice:file:pg/shop/data/7/end:"; do
    "$ZB_CRAFT" --recipient key.pub --out "marks-${case%%:*}.zbk" "file:pg/shop/toc.json:$toc" "file:pg/shop/data/7/end:" \
        "${case#*:}" || zb_fail "cannot craft an archive"
done
zb_expect_status 5 "rows after the end mark" -- "$ZB_BIN" --log-format text restore --key key marks-after.zbk \
    --pg-target "$(zb_pg_conninfo marks)"
zb_expect_contains "$ZB_LAST_OUTPUT" "entry data/7/000001.copy comes after the end of its table" "names the misplaced chunk"
zb_expect_status 5 "two end marks" -- "$ZB_BIN" --log-format text restore --key key marks-twice.zbk \
    --pg-target "$(zb_pg_conninfo marks)"
zb_expect_contains "$ZB_LAST_OUTPUT" "entry data/7/end appears twice" "names the repeated mark"

# a table of contents missing what the restore relies on is refused naming
# the item or table at fault, before anything is created
bad_item='{"format":2,"database":"shop","connections":1,"items":[{"kind":"SCHEMA","name":"s","sql":"CREATE SCHEMA s;"}],"tables":[]}'
bad_table='{"format":2,"database":"shop","connections":1,"items":[{"section":"post-data","kind":"INDEX","schema":"s","name":"i",'\
'"table":"s.t","sql":"CREATE INDEX i ON s.t (a);","parallel":true}],"tables":[{"oid":7,"schema":"s","name":"t","columns":"a","format":"text"}]}'
for case in "item:$bad_item:item 1 has no section" "table:$bad_table:table 1 has no name"; do
    name=${case%%:*} rest=${case#*:}
    "$ZB_CRAFT" --recipient key.pub --out "toc-$name.zbk" "file:pg/shop/toc.json:${rest%:*}" || zb_fail "cannot craft an archive"
    zb_expect_status 5 "a toc whose $name lacks a field" -- "$ZB_BIN" --log-format text restore --key key "toc-$name.zbk" \
        --pg-target "$(zb_pg_conninfo marks)"
    zb_expect_contains "$ZB_LAST_OUTPUT" "the database's table of contents is not valid: ${rest##*:}" "names the $name at fault"
done
zb_expect_equal "$(zb_psql -At -c "SELECT count(*) FROM pg_database WHERE datname = 'marks' OR datname LIKE 'zbrestore%'")" "0" \
    "no database left behind"
zb_test_end
