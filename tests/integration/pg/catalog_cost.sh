# The catalog queries run without JIT compilation: their estimated cost
# grows with the number of tables until the server compiles them with LLVM
# (inlining and optimising), which took most of the TABLE query's time at
# 8,000 tables. The server here compiles every statement it can (its JIT
# cost threshold 0; inlining and optimising left off, they only make the
# test slower); pg_stat_statements, an oracle outside the tool, counts the
# functions compiled for the backup's, the restore's and the verification's
# statements: none.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/pg.sh"
zb_test_begin
cd "$ZB_TMP"
ZB_PG_SERVER_OPTIONS="-c shared_preload_libraries=pg_stat_statements -c jit=on -c jit_above_cost=0" zb_pg_start
if [ "$(zb_psql -At -c "SELECT pg_catalog.pg_jit_available()")" != t ]; then
    zb_require "a PostgreSQL server built with JIT (llvmjit)"
fi
zb_psql -c "CREATE EXTENSION pg_stat_statements" -c "CREATE DATABASE shop"
ZB_PG_DB=shop zb_psql -c "CREATE TABLE a (id int PRIMARY KEY, note text DEFAULT 'x')" \
    -c "CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a, made timestamptz)" \
    -c "INSERT INTO a SELECT g FROM generate_series(1, 50) g"
# the oracle works: a catalog query here is compiled when JIT is left on
zb_psql -c "SELECT pg_stat_statements_reset()" >/dev/null
ZB_PG_DB=shop zb_psql -c "SELECT count(*) FROM pg_catalog.pg_class c WHERE c.relname || 'x' <> 'y'" >/dev/null
zb_expect_equal "$(zb_psql -At -c "SELECT sum(jit_functions) > 0 FROM pg_stat_statements WHERE query LIKE '%relname%'")" \
    t "a catalog query with JIT on is compiled (the oracle counts it)"

"$ZB_BIN" keygen --out key >/dev/null 2>&1
zb_psql -c "SELECT pg_stat_statements_reset()" >/dev/null
zb_expect_status 0 "backup" -- "$ZB_BIN" -q backup --repo repo --recipient key.pub --pg "$(zb_pg_conninfo shop)" --jobs 2
archive=$ZB_LAST_OUTPUT
zb_expect_status 0 "restore and verify" -- "$ZB_BIN" -q restore --key key "$archive" \
    --pg-target "$(zb_pg_conninfo copy)" --jobs 2
zb_expect_status 0 "verify --restore" -- "$ZB_BIN" -q verify --restore --key key "$archive" \
    --pg-target "$(zb_pg_conninfo postgres)" --jobs 2
zb_expect_equal "$(zb_psql -At -c "SELECT count(*) > 10 FROM pg_stat_statements WHERE query LIKE '%pg_catalog.pg_class%'")" \
    t "the oracle saw the tool's catalog queries"
zb_expect_equal "$(zb_psql -At -c "SELECT coalesce(sum(jit_functions), 0) FROM pg_stat_statements WHERE query NOT LIKE
    '%pg_stat_statements%'")" 0 "no statement of the backup, restore or verification was compiled"
zb_pg_dump_schema shop >schema.src
zb_pg_dump_schema copy >schema.copy
zb_expect_equal "$(diff schema.src schema.copy && echo same)" same "the copy's schema is the source's"
zb_expect_contains "$(cat schema.copy)" "REFERENCES public.a(id)" "the oracle dumped the schema"
zb_test_end
