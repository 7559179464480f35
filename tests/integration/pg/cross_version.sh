# verify --restore onto a newer major version: a PostgreSQL 15 archive of
# the fixture verified by a restore into PostgreSQL 17, which prints view
# definitions (and other deparsed SQL) differently and gives table owners a
# privilege 15 does not have (MAINTAIN), passes: the catalog fingerprint
# compares deparsed text normalised across versions (docs/FORMAT.md). A real
# difference is still named (the test hook changes a column's storage, and
# the database's locale provider and ICU locale, which 17 reads from a column
# of another name).
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/pg.sh"
zb_test_begin
cd "$ZB_TMP"
"$ZB_BIN" keygen --out key >/dev/null 2>&1
start_server() {
    ZB_PG_NAME=$1
    ZB_PG_SERVER_BIN=
    zb_pg_use_major "$2"
    zb_pg_start
    eval "${1}_socket=\$ZB_PG_SOCKET ${1}_port=\$ZB_PG_PORT"
}
use_server() { eval "ZB_PG_SOCKET=\$${1}_socket ZB_PG_PORT=\$${1}_port"; }
start_server old 15
start_server new 17
use_server old
zb_psql -c "CREATE DATABASE shop"
zb_pg_load_fixture shop
# a view the newer server prints differently
ZB_PG_DB=shop zb_psql -c "CREATE VIEW shop.order_totals AS SELECT o.id, (SELECT count(i.sku) FROM shop.order_items i
    WHERE i.order_id = o.id) AS items FROM shop.orders o WHERE o.id IN (1, 2, 3)"
zb_expect_status 0 "backup on PostgreSQL 15" -- "$ZB_BIN" -q backup --repo repo --recipient key.pub --pg "$(zb_pg_conninfo shop)"
archive=$("$ZB_BIN" latest --repo repo)
use_server new
zb_psql -c 'CREATE ROLE zb_reader' -c 'CREATE ROLE "Zb Owner"' >/dev/null
zb_expect_status 0 "verify --restore onto PostgreSQL 17" -- "$ZB_BIN" --log-format text verify --restore --key key "$archive" \
    --pg-target "$(zb_pg_conninfo postgres)"
# 17 keeps the database's ICU locale in datlocale (15 and 16: daticulocale)
hook="ALTER TABLE shop.order_items ALTER sku SET STORAGE EXTERNAL;
UPDATE pg_catalog.pg_database SET datlocprovider = 'i', datlocale = 'sv-SE' WHERE datname = pg_catalog.current_database()"
zb_expect_status 14 "a changed column and locale are still named across versions" -- env ZAKPOS_BACKUP_TEST_HOOK_SQL="$hook" \
    "$ZB_FAULT_BIN" --log-format text verify --restore --key key "$archive" --pg-target "$(zb_pg_conninfo postgres)"
zb_expect_contains "$ZB_LAST_OUTPUT" "pg shop: column shop.order_items.sku: storage: archive" "names the column and the attribute"
zb_expect_contains "$ZB_LAST_OUTPUT" "pg shop: database: locale_provider: archive 'c', restored 'i'" "names the locale provider"
zb_expect_contains "$ZB_LAST_OUTPUT" "pg shop: database: icu_locale: archive (not set), restored 'sv-SE'" "names the ICU locale"
zb_test_end
