# versions.sh MAJOR: back up and restore the fixture on a PostgreSQL MAJOR
# server (12 to 17; Debian ships only 15, the others come from the test
# tools). The tool talks to every version through the same libpq, with no
# pg_dump of the server's version anywhere.
# Oracles: a description of every user object and every table's rows made by
# the server's own catalog functions (catalog_oracle.sql), equal for the
# source and the restored copy; and where Debian's pg_dump can read the
# server (15 and older), pg_dump's schema and rows, equal too.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/pg.sh"
major=${1:?usage: versions.sh MAJOR}
zb_test_begin
cd "$ZB_TMP"
zb_pg_use_major "$major"
zb_pg_start
zb_expect_equal "$(zb_psql -At -c "SELECT current_setting('server_version_num')::int / 10000")" "$major" \
    "the server is PostgreSQL $major"
zb_psql -c "CREATE DATABASE shop"
zb_pg_load_fixture shop
"$ZB_BIN" keygen --out key >/dev/null 2>&1

zb_expect_status 0 "backup --pg from PostgreSQL $major" -- "$ZB_BIN" -q backup --repo repo --recipient key.pub \
    --pg "$(zb_pg_conninfo shop)" --jobs 2
archive=$("$ZB_BIN" latest --repo repo)
zb_expect_equal "$("$ZB_BIN" show --key key "$archive" 2>&1 | grep -o "PostgreSQL $major[.0-9]*" | head -1 | cut -d. -f1)" \
    "PostgreSQL $major" "the manifest records the server's version"
zb_expect_status 0 "restore into PostgreSQL $major" -- "$ZB_BIN" -q restore --key key "$archive" \
    --pg-target "$(zb_pg_conninfo copy)" --jobs 2

zb_pg_oracle shop >oracle.src
zb_pg_oracle copy >oracle.copy
zb_pg_expect_same_oracle oracle.src oracle.copy "objects or rows of the source and the copy"
# the oracle described the fixture, not two empty databases
zb_expect_contains "$(cat oracle.src)" 'index CREATE UNIQUE INDEX "Quoted Index"' "the oracle saw the indexes"
zb_expect_contains "$(cat oracle.src)" 'constraint shop.voucher_uses voucher_uses_order FOREIGN KEY (order_id) REFERENCES shop.orders(id) NOT VALID validated false' \
    "the oracle saw the constraints"
zb_expect_contains "$(cat oracle.src)" 'large object 424243 owner postgres' "the oracle saw the large objects"
zb_expect_equal "$(grep -c '^rows ' oracle.src)" "$(ZB_PG_DB=shop zb_psql -At -c "SELECT count(*) FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'm') AND c.relispopulated
    AND n.nspname IN ('shop', 'Mixed Case ü')")" "the oracle hashed every table's rows"
zb_expect_contains "$(grep '^rows shop.customers ' oracle.src)" "rows shop.customers 3 " "with their row counts"

if [ "$major" -le "$(basename "$(dirname "$ZB_PG_BIN")")" ]; then
    zb_pg_expect_same_dump shop copy
fi

# the restore proof works against this version's catalogs too
zb_expect_status 0 "verify --restore on PostgreSQL $major" -- "$ZB_BIN" -q verify --restore --key key "$archive" \
    --pg-target "$(zb_pg_conninfo postgres)" --jobs 2

# the object kinds beyond the application schema and the attributes a
# restore must keep, on the majors kinds.sh and attrs.sh do not start a
# server for: the same fixtures and oracles, once
case $major in
13 | 14 | 16)
    zb_pg_fixture_restore "$major" kinds fixture_kinds.sql kinds_oracle.sql "CREATE AGGREGATE kinds.sum_abs" kinds_copy
    zb_expect_contains "$(cat oracle.src)" 'aggregate kinds.pct(double precision,double precision)|o|1|' "the oracle saw the kinds"
    zb_expect_status 0 "verify --restore of the kinds on PostgreSQL $major" -- "$ZB_BIN" -q verify --restore --key key \
        "$archive" --pg-target "$(zb_pg_conninfo postgres)" --jobs 2
    zb_pg_fixture_restore "$major" attrs fixture_attrs.sql attrs_oracle.sql "CREATE TABLE attrs.documents" attrs_copy
    zb_expect_contains "$(cat oracle.src)" "column attrs.documents.body|2|e|" "the oracle saw the attributes"
    zb_expect_status 0 "verify --restore of the attributes on PostgreSQL $major" -- "$ZB_BIN" -q verify --restore \
        --key key "$archive" --pg-target "$(zb_pg_conninfo postgres)" --jobs 2
    ;;
esac
zb_test_end
