# Backups as the roles a production setup uses, not as a superuser: the
# application's role that owns the database (no superuser, no pg_authid) and
# a read-only role given SELECT. The owner's backup restores to the same
# database (pg_dump as the oracle). A table whose row-level security policy
# hides rows from the backup's role fails the backup naming the table (never
# a silent subset): for the reader under a policy, and for the owner of a
# table that forces row security; so does a table or a large object the role
# may not read.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/pg.sh"
zb_test_begin
cd "$ZB_TMP"
zb_pg_start
zb_psql -c "CREATE ROLE zakpos_user LOGIN CREATEDB" -c "CREATE ROLE zb_reporter LOGIN" \
    -c "CREATE DATABASE pos OWNER zakpos_user"
# the schema and rows as the application's migrations make them: as the owner
ZB_PG_DB=pos zb_psql -U zakpos_user >/dev/null <<'SQL'
CREATE SCHEMA app;
CREATE TYPE app.status AS ENUM ('open', 'paid');
CREATE SEQUENCE app.receipt_no START 100;
CREATE TABLE app.orders (id bigint PRIMARY KEY, store int NOT NULL, status app.status, total numeric(10, 2),
                         receipt int DEFAULT nextval('app.receipt_no'));
CREATE INDEX orders_store ON app.orders (store);
INSERT INTO app.orders (id, store, status, total) SELECT g, g % 3, 'paid', g * 1.5 FROM generate_series(1, 500) g;
CREATE TABLE app.tenant_notes (tenant text NOT NULL, note text);
INSERT INTO app.tenant_notes VALUES ('store1', 'a'), ('store2', 'b'), ('zb_reporter', 'visible to the reporter');
ALTER TABLE app.tenant_notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON app.tenant_notes USING (tenant = current_user);
CREATE VIEW app.paid AS SELECT id, total FROM app.orders WHERE status = 'paid';
CREATE FUNCTION app.total(bigint) RETURNS numeric LANGUAGE sql STABLE AS 'SELECT total FROM app.orders WHERE id = $1';
COMMENT ON TABLE app.orders IS 'one row per sale';
GRANT USAGE ON SCHEMA app TO zb_reporter;
GRANT SELECT ON ALL TABLES IN SCHEMA app TO zb_reporter;
GRANT SELECT ON ALL SEQUENCES IN SCHEMA app TO zb_reporter;
SELECT lo_from_bytea(0, '\x0102'::bytea);
SQL
lo=$(ZB_PG_DB=pos zb_psql -At -c "SELECT min(oid) FROM pg_largeobject_metadata")
ZB_PG_DB=pos zb_psql -U zakpos_user -c "GRANT SELECT ON LARGE OBJECT $lo TO zb_reporter"
[ "$(zb_psql -At -c "SELECT rolsuper FROM pg_roles WHERE rolname = 'zakpos_user'")" = f ] && zb_pass || zb_fail "the owner is a superuser"
conninfo() { echo "host=$ZB_PG_SOCKET port=$ZB_PG_PORT user=$1 dbname=${2:-pos}"; }
backup() { "$ZB_BIN" --log-format text backup --repo "$1" --no-encryption --pg "$(conninfo "$2")"; }

# the owner: everything, restored identical
zb_expect_status 0 "backup as the database's owner" -- backup repo zakpos_user
archive=$("$ZB_BIN" latest --repo repo)
zb_expect_status 0 "restore as the owner" -- "$ZB_BIN" --log-format text restore "$archive" \
    --pg-target "$(conninfo zakpos_user pos_restored)"
zb_pg_dump_schema pos >schema.src
zb_pg_dump_schema pos_restored >schema.copy
if diff -u schema.src schema.copy >schema.diff; then zb_pass; else zb_fail "schemas differ:"$'\n'"$(head -40 schema.diff)"; fi
zb_pg_dump_data pos >data.src
zb_pg_dump_data pos_restored >data.copy
if diff -u data.src data.copy >data.diff; then zb_pass; else zb_fail "data differs:"$'\n'"$(head -40 data.diff)"; fi
zb_expect_contains "$(cat data.src)" "visible to the reporter" "every tenant's rows were dumped"
zb_expect_equal "$(ZB_PG_DB=pos_restored zb_psql -At -c "SELECT count(*) FROM app.tenant_notes")" "3" \
    "the owner's backup holds every row of the table with a policy"

# the reader under a policy that hides rows: refused, naming the table
zb_expect_status 10 "backup as a reader whose policy hides rows" -- backup repo2 zb_reporter
zb_expect_contains "$ZB_LAST_OUTPUT" "app.tenant_notes" "names the table"
zb_expect_contains "$ZB_LAST_OUTPUT" "row-level security" "says why"
zb_expect_equal "$(zb_archives_in repo2)" "" "no archive with a subset of the rows"

# the owner of a table that forces row security: refused too
ZB_PG_DB=pos zb_psql -U zakpos_user -c "ALTER TABLE app.tenant_notes FORCE ROW LEVEL SECURITY"
zb_expect_status 10 "backup as the owner of a table that forces row security" -- backup repo3 zakpos_user
zb_expect_contains "$ZB_LAST_OUTPUT" "app.tenant_notes" "names the table"
zb_expect_contains "$ZB_LAST_OUTPUT" "row-level security" "says why"
zb_expect_equal "$(zb_archives_in repo3)" "" "no archive with a subset of the rows"
ZB_PG_DB=pos zb_psql -U zakpos_user -c "ALTER TABLE app.tenant_notes NO FORCE ROW LEVEL SECURITY"

# a table the reader may not read
ZB_PG_DB=pos zb_psql -U zakpos_user -c "ALTER TABLE app.tenant_notes DISABLE ROW LEVEL SECURITY" \
    -c "REVOKE SELECT ON app.orders FROM zb_reporter"
zb_expect_status 10 "backup as a reader without SELECT on a table" -- backup repo4 zb_reporter
zb_expect_contains "$ZB_LAST_OUTPUT" "permission denied" "quotes the server"
zb_expect_contains "$ZB_LAST_OUTPUT" "orders" "names the table"
zb_expect_equal "$(zb_archives_in repo4)" "" "no archive without the table"
# given it back, a large object it may not read still fails the backup
ZB_PG_DB=pos zb_psql -U zakpos_user -c "GRANT SELECT ON app.orders TO zb_reporter" \
    -c "REVOKE SELECT ON LARGE OBJECT $lo FROM zb_reporter"
zb_expect_status 10 "backup as a reader without SELECT on a large object" -- backup repo5 zb_reporter
zb_expect_contains "$ZB_LAST_OUTPUT" "permission denied for large object $lo" "names the large object"
zb_expect_equal "$(zb_archives_in repo5)" "" "no archive without the large object"
# and with that too, the reader's backup holds every row
ZB_PG_DB=pos zb_psql -U zakpos_user -c "GRANT SELECT ON LARGE OBJECT $lo TO zb_reporter"
zb_expect_status 0 "backup as a reader with SELECT on every table" -- backup repo5 zb_reporter
zb_expect_status 0 "show its summary" -- "$ZB_BIN" show --json "$("$ZB_BIN" latest --repo repo5)"
zb_expect_equal "$(echo "$ZB_LAST_OUTPUT" | python3 -c 'import json,sys; d=json.load(sys.stdin)["manifest"]; s=[x for x in d["sources"] if x["kind"]=="pg"][0]["summary"]; print(s["rows"])')" \
    "503" "every row of both tables"
zb_test_end
