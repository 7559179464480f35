# attrs.sh MAJOR: attributes a restore used to lose silently (restore and
# verify --restore exited 0): fixture_attrs.sql sets each of them; the copy
# restored on a PostgreSQL MAJOR server must have them all.
# Oracles: pg_dump --schema-only and its rows, where Debian's pg_dump reads
# the server; everywhere, attrs_oracle.sql's reading of the catalogs.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/pg.sh"
major=${1:?usage: attrs.sh MAJOR}
zb_test_begin
cd "$ZB_TMP"
zb_pg_fixture_copy "$major" attrs fixture_attrs.sql attrs_oracle.sql "CREATE TABLE attrs.documents"
for want in 'schema public|zb_attrs_owner|' "column attrs.documents.body|2|e|" 'index attrs.documents_lower|t|f' \
    'relation attrs.audit|r|p|f|' "database|zb_attrs_owner|" "|the attributes' database|- {work_mem=3MB}; zb_attrs_reader {statement_timeout=5min}" \
    'zb_attrs_reader=c/zb_attrs_grantor'; do
    zb_expect_contains "$(cat oracle.src)" "$want" "the oracle saw $want"
done
zb_expect_status 0 "verify --restore on PostgreSQL $major" -- "$ZB_BIN" --log-format text verify --restore --key key "$archive" \
    --pg-target "$(zb_pg_conninfo postgres)" --jobs 2
zb_test_end
