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
zb_pg_use_major "$major"
zb_pg_start
zb_psql -c "CREATE DATABASE attrs"
if ! ZB_PG_DB=attrs zb_psql -f "$ZB_SOURCE_DIR/tests/integration/pg/fixture_attrs.sql" >/dev/null; then
    zb_fail "the fixture did not load"
    exit 1
fi
"$ZB_BIN" keygen --out key >/dev/null 2>&1

zb_expect_status 0 "backup from PostgreSQL $major" -- "$ZB_BIN" --log-format text backup --repo repo \
    --recipient key.pub --pg "$(zb_pg_conninfo attrs)" --jobs 2
archive=$("$ZB_BIN" latest --repo repo)
zb_expect_status 0 "restore into PostgreSQL $major" -- "$ZB_BIN" --log-format text restore --key key "$archive" \
    --pg-target "$(zb_pg_conninfo copy)" --jobs 2

oracle() { ZB_PG_DB=$1 zb_psql -At -f "$ZB_SOURCE_DIR/tests/integration/pg/attrs_oracle.sql"; }
oracle attrs >oracle.src
oracle copy >oracle.copy
zb_pg_expect_same_oracle oracle.src oracle.copy "the objects of the source and the copy"
for want in 'schema public|zb_attrs_owner|' "column attrs.documents.body|2|e|" 'index attrs.documents_lower|t|f' \
    'relation attrs.audit|r|p|f|'; do
    zb_expect_contains "$(cat oracle.src)" "$want" "the oracle saw $want"
done
if [ "$major" -le "$(basename "$(dirname "$ZB_PG_BIN")")" ]; then
    zb_pg_dump_schema attrs >schema.src
    zb_pg_dump_schema copy >schema.copy
    if diff -u schema.src schema.copy >schema.diff; then zb_pass; else zb_fail "pg_dump schemas differ:"$'\n'"$(head -60 schema.diff)"; fi
    zb_expect_contains "$(cat schema.src)" "CREATE TABLE attrs.documents" "pg_dump saw the fixture"
    zb_pg_dump_data attrs >data.src
    zb_pg_dump_data copy >data.copy
    if diff -q data.src data.copy >/dev/null; then zb_pass; else zb_fail "pg_dump rows differ"; fi
fi
zb_expect_status 0 "verify --restore on PostgreSQL $major" -- "$ZB_BIN" --log-format text verify --restore --key key "$archive" \
    --pg-target "$(zb_pg_conninfo postgres)" --jobs 2
zb_test_end
