# A database restore on a terminal: the bar counts archive bytes against the
# archive's size (it used to add the tables' rows to the file's bytes and
# run past 100%), and names each phase that follows: loading tables,
# checking row counts, building indexes and keys, publishing.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/pg.sh"
zb_test_begin
cd "$ZB_TMP"
zb_pg_start
zb_psql -c "CREATE DATABASE shop"
ZB_PG_DB=shop zb_psql -c "CREATE TABLE sales AS SELECT g AS id, md5(g::text) AS note FROM generate_series(1, 300000) g;
                          ALTER TABLE sales ADD PRIMARY KEY (id); CREATE INDEX ON sales (note);"
"$ZB_BIN" keygen --out key >/dev/null 2>&1
zb_expect_status 0 "backup" -- "$ZB_BIN" -q backup --repo repo --recipient key.pub --pg "$(zb_pg_conninfo shop)"
archive=$(zb_archives_in repo)
zb_expect_status 0 "restore on a terminal" -- python3 "$ZB_SOURCE_DIR/tests/tools/pty_run.py" restore.tty \
    "$ZB_BIN" restore --key key "$archive" --pg-target "$(zb_pg_conninfo copy)"
zb_expect_equal "$(python3 "$ZB_SOURCE_DIR/tests/tools/progress_check.py" restore.tty restore "$(stat -c %s "$archive")" \
    'reading,loading tables,checking row counts,building indexes,publishing the database')" "ok" \
    "one unit for the bar, and every phase named"
zb_expect_equal "$(ZB_PG_DB=copy zb_psql -At -c "SELECT count(*), sum(id) FROM sales")" "300000|45000150000" "the rows came back"
zb_test_end
