# A database of many small tables restores with few round trips: the
# pre-data statements (each table's CREATE and owner) go to the server in
# batches, each table's BEGIN and TRUNCATE go with its COPY, a small
# table's key in one message and ANALYZE of small tables several to a
# message; the copy is the same as the source. When one object's statement fails inside a
# batch, the restore names that object and the server's reason, and
# publishes nothing.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/pg.sh"
zb_test_begin
cd "$ZB_TMP"
# every query message logged with its backend's process id
ZB_PG_SERVER_OPTIONS="-c log_min_duration_statement=0 -c log_line_prefix=%p:" zb_pg_start
zb_psql -c "CREATE DATABASE shop" -c "CREATE ROLE clerk"
ZB_PG_DB=shop zb_psql -c "DO \$\$ BEGIN FOR i IN 1..60 LOOP
    EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, note text)', i);
    EXECUTE format('INSERT INTO t%s SELECT g, repeat(''x'', g %% 7) FROM generate_series(1, 20) g', i);
    END LOOP; END \$\$" -c "ALTER TABLE t37 OWNER TO clerk" -c "COMMENT ON TABLE t12 IS 'the till'"
"$ZB_BIN" keygen --out key >/dev/null 2>&1
zb_expect_status 0 "backup" -- "$ZB_BIN" -q backup --repo repo --recipient key.pub --pg "$(zb_pg_conninfo shop)" --jobs 2
archive=$ZB_LAST_OUTPUT

log_at=$(stat -c %s "$ZB_TMP/pg.log")
zb_expect_status 0 "restore" -- "$ZB_BIN" --log-format text restore --key key "$archive" \
    --pg-target "$(zb_pg_conninfo copy)" --jobs 2
messages=$(tail -c +$((log_at + 1)) "$ZB_TMP/pg.log" | grep -a '^[0-9]*:LOG:  duration: ')
zb_expect_equal "$(grep -c 'statement: CREATE TABLE public.t' <<<"$messages")" 1 \
    "the 60 tables' pre-data statements went in one query message"
zb_expect_equal "$(grep -c 'statement: TRUNCATE' <<<"$messages")" 0 "no TRUNCATE sent on its own"
zb_expect_equal "$(grep -c 'statement: \(COMMIT; \)\?BEGIN; TRUNCATE ONLY "public"."t[0-9]*"; COPY' <<<"$messages")" 60 \
    "each table's transaction, TRUNCATE and COPY in one message"
# a small table's key (index, then constraint) in one message, ANALYZE of
# small tables several to a message
zb_expect_equal "$(grep -c 'statement: ALTER TABLE public.t[0-9]* ADD CONSTRAINT' <<<"$messages")" 0 \
    "no key's constraint sent apart from its index"
analyze=$(grep -c 'statement: ANALYZE "public"."t' <<<"$messages")
if [ "$analyze" -gt 0 ] && [ "$analyze" -le 30 ]; then zb_pass; else zb_fail "ANALYZE of 60 tables took $analyze messages"; fi
zb_pg_dump_schema shop >schema.src
zb_pg_dump_schema copy >schema.copy
zb_pg_dump_data shop >data.src
zb_pg_dump_data copy >data.copy
zb_expect_contains "$(cat schema.src)" "ALTER TABLE public.t37 OWNER TO clerk" "the oracle sees the owner"
zb_expect_contains "$(cat schema.src)" "COMMENT ON TABLE public.t12 IS 'the till'" "the oracle sees the comment"
zb_expect_contains "$(cat data.src)" "COPY public.t60" "the oracle sees the rows"
if diff -u schema.src schema.copy >schema.diff; then zb_pass; else zb_fail "schemas differ:"$'\n'"$(head -30 schema.diff)"; fi
if cmp -s data.src data.copy; then zb_pass; else zb_fail "rows differ"; fi

# t37's owner is gone from the server: its statement fails inside a batch
zb_psql -c "DROP DATABASE shop" -c "DROP DATABASE copy" -c "DROP ROLE clerk"
zb_expect_status 10 "restore with a role missing" -- "$ZB_BIN" --log-format text restore --key key "$archive" \
    --pg-target "$(zb_pg_conninfo again)" --jobs 2
zb_expect_contains "$ZB_LAST_OUTPUT" "restoring TABLE public.t37 failed" "names the object that failed"
zb_expect_contains "$ZB_LAST_OUTPUT" 'role "clerk" does not exist' "quotes the server's reason"
zb_expect_equal "$(zb_psql -At -c "SELECT datname FROM pg_database WHERE datname NOT IN ('postgres', 'template0', 'template1')")" \
    "" "nothing published, nothing left behind"

# an index whose build fails (its function divides by a value changed
# since it was built) among its small table's other statements, sent
# together in one message
zb_psql -c "CREATE DATABASE odd"
ZB_PG_DB=odd zb_psql -c "CREATE TABLE cfg (d int)" -c "INSERT INTO cfg VALUES (1)" \
    -c "CREATE FUNCTION scaled(int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT \$1 / COALESCE((SELECT d FROM public.cfg), 0)'" \
    -c "CREATE TABLE t (id int PRIMARY KEY, note text UNIQUE)" -c "INSERT INTO t SELECT g, g::text FROM generate_series(1, 20) g" \
    -c "CREATE INDEX t_scaled ON t (scaled(id))" -c "UPDATE cfg SET d = 0"
zb_expect_status 0 "backup of odd" -- "$ZB_BIN" -q backup --repo repo-odd --recipient key.pub --pg "$(zb_pg_conninfo odd)" --jobs 2
zb_expect_status 10 "restore with an index that cannot be built" -- "$ZB_BIN" --log-format text restore --key key \
    "$ZB_LAST_OUTPUT" --pg-target "$(zb_pg_conninfo odd_copy)" --jobs 2
zb_expect_contains "$ZB_LAST_OUTPUT" "restoring INDEX public.t_scaled" "names the index that failed"
zb_expect_contains "$ZB_LAST_OUTPUT" "division by zero" "quotes the server's reason"
zb_expect_equal "$(zb_psql -At -c "SELECT datname FROM pg_database WHERE datname NOT IN ('postgres', 'template0', 'template1', 'odd')")" \
    "" "nothing published, nothing left behind"
zb_test_end
