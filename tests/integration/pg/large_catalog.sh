# A database's table of contents and catalog fingerprint grow with its
# number of objects; past the 16 MiB every other archive document is held
# to (as 20,000 tables make them), its archive still restores whole. One
# comment of 17 MiB stands for the tables here, to keep the test short.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/pg.sh"
zb_test_begin
cd "$ZB_TMP"
zb_pg_start
zb_psql -c "CREATE DATABASE wide"
ZB_PG_DB=wide zb_psql -c "CREATE TABLE t (id int PRIMARY KEY)" -c "INSERT INTO t VALUES (1)" \
    -c "DO \$\$ BEGIN EXECUTE format('COMMENT ON TABLE t IS %L', repeat('x', 17 * 1024 * 1024)); END \$\$"
"$ZB_BIN" keygen --out key >/dev/null 2>&1
zb_expect_status 0 "backup of a schema whose toc and fingerprint pass 16 MiB" -- "$ZB_BIN" -q backup --repo repo \
    --recipient key.pub --pg "$(zb_pg_conninfo wide)"
archive=$ZB_LAST_OUTPUT
zb_expect_status 0 "its restore" -- "$ZB_BIN" -q restore --key key "$archive" --pg-target "$(zb_pg_conninfo copy)"
comment_sql="SELECT length(d.description), md5(d.description) FROM pg_description d WHERE d.objoid = 't'::regclass"
zb_expect_equal "$(ZB_PG_DB=copy zb_psql -At -c "$comment_sql")" "$(ZB_PG_DB=wide zb_psql -At -c "$comment_sql")" \
    "the 17 MiB comment came back whole"
zb_expect_equal "$(ZB_PG_DB=copy zb_psql -At -c "SELECT count(*) FROM t")" "1" "the table's row came back"
zb_test_end
