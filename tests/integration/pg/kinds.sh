# kinds.sh MAJOR: every object kind beyond the application schema
# (fixture_kinds.sql: aggregates, operators and their classes, casts,
# collations, text search, foreign data, rules, extended statistics, column
# grants, default privileges, event triggers, publications...) is backed up,
# restored and proven on a PostgreSQL MAJOR server. Backups used to refuse
# every one of these kinds (exit 10).
# Oracles: pg_dump --schema-only and its rows, where Debian's pg_dump reads
# the server; everywhere, a listing of the objects made from the catalogs
# (pg_describe_object and each kind's defining fields).
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/pg.sh"
major=${1:?usage: kinds.sh MAJOR}
zb_test_begin
cd "$ZB_TMP"
zb_pg_fixture_copy "$major" kinds fixture_kinds.sql kinds_oracle.sql "CREATE AGGREGATE kinds.sum_abs"
for want in 'aggregate kinds.pct(double precision,double precision)|o|1|' 'opclass int4_reverse_ops|f|integer|' \
    'cast kinds.mood integer|kinds.mood_rank' 'collation case_insensitive|i|f|' 'ts config shop_search|default_parser|' \
    'rule log_delete kinds.items|O|' 'rule no_update_log kinds.items_log|D|' 'statistics items_price_mood|' \
    'foreign table kinds.remote_orders|{file=orders.csv}' 'event trigger zb_on_ddl|ddl_command_start|kinds.on_ddl|D|' \
    'publication zb_items|' 'default acl zb_kinds_owner|kinds|r|' 'user mapping zb_kinds_owner zb_server|' \
    'transform kinds.mood|' 'am zb_heap|t|' 'type kinds.later' 'column label of table kinds.items grants|' \
    'typed table kinds.people|kinds.person|' 'base type kinds.code|kinds.code_in|kinds.code_out|kinds.code_recv|kinds.code_send|kinds.code_typmod_in|kinds.code_typmod_out|-|' \
    '|4|t|i|p|N|f|7|-|;|f|a base type in internal functions' 'base type kinds.tag|kinds.tag_in|kinds.tag_out|-|-|-|-|-|' '|-1|f|i|m|S|t||-|,|t|' \
    'base type kinds.pair|' 'base type kinds.unused|kinds.unused_in|kinds.unused_out|-|-|-|-|kinds.code_analyze|' '|16|f|d|p|U|f||double precision|,|f|' 'window kinds.row_no()|w|window_row_number' 'coded 2|7|second|(3.5,-4)' 'subscription zb_from_head_office|f|host=127.0.0.1' 'conversion latin1_to_utf8|' 'language zb_pl|' 'server zb_server|archive|'; do
    zb_expect_contains "$(cat oracle.src)" "$want" "the oracle saw $want"
done
# a subscription's password is a secret: never in the archive, while the
# subscription itself is
ZB_PG_DB=kinds zb_psql -c "CREATE SUBSCRIPTION zb_with_password CONNECTION 'host=127.0.0.1 port=1 password=''s3cr3t pw'' dbname=x'
    PUBLICATION p WITH (connect = false, slot_name = NONE)"
zb_expect_status 0 "backup of a subscription with a password" -- "$ZB_BIN" -q backup --repo plain --no-encryption \
    --pg "$(zb_pg_conninfo kinds)"
plain=$("$ZB_BIN" latest --repo plain)
header=$(od -An -tu2 -j10 -N2 "$plain" | tr -d ' ')
tail -c +$((header + 1)) "$plain" | zstd -dcq | tar -xOf - pg/kinds/toc.json >toc.json
zb_expect_contains "$(cat toc.json)" "CREATE SUBSCRIPTION zb_with_password CONNECTION 'host=127.0.0.1 port=1 dbname=x'" \
    "the subscription is kept without its password"
if grep -q s3cr3t toc.json; then zb_fail "the password is in the archive"; else zb_pass; fi
ZB_PG_DB=kinds zb_psql -c "DROP SUBSCRIPTION zb_with_password"

zb_expect_status 0 "verify --restore on PostgreSQL $major" -- "$ZB_BIN" --log-format text verify --restore --key key "$archive" \
    --pg-target "$(zb_pg_conninfo postgres)" --jobs 2

# coverage_cases.sh's fixture (partition index names, trigger clones'
# states, extension members' privileges, views in a cycle) on this server
zb_pg_fixture_restore "$major" cov fixture_coverage.sql coverage_oracle.sql "CREATE TABLE cov.events" cov_copy
zb_expect_contains "$(cat oracle.src)" 'trigger cov.events_2024 events_touch D' "the oracle saw the trigger clones"
zb_expect_status 0 "verify --restore of the coverage fixture on PostgreSQL $major" -- "$ZB_BIN" --log-format text verify \
    --restore --key key "$archive" --pg-target "$(zb_pg_conninfo postgres)" --jobs 2

# restore_cases.sh's fixture (schemas whose restore used to fail) on the
# oldest and newest majors; there Debian's pg_dump cannot read 17, so the
# catalog oracle compares
case $major in
12 | 17)
    zb_pg_fixture_restore "$major" cases fixture_restore.sql catalog_oracle.sql "amounts_positive CHECK" cases_copy
    zb_expect_contains "$(cat oracle.src)" "amounts_positive CHECK ((x > 0)) NOT VALID" "the oracle saw the NOT VALID check"
    ;;
esac
zb_test_end
