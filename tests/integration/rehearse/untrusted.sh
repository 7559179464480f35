# A restore runs the archive's SQL, so verify --restore, drill and
# verify-restore jobs restore into the server and role of verify.pg_conninfo:
# here a scratch server and a role that may only create databases. There an
# archive of the production database verifies: owners and grants the role
# cannot set are left out, an extension it cannot create is reported as not
# verified (result "incomplete", exit 0; verify --restore, a verify-restore
# job and drill alike), nothing touches production. A
# crafted table of contents whose statement runs COPY ... TO PROGRAM fails
# there without running it (the same archive restored by a superuser would
# run it). Table and column names the restore pastes into its own TRUNCATE
# and COPY come from the toc's structured fields, quoted: crafted names run
# nothing even for a superuser.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/pg.sh"
zb_test_begin
cd "$ZB_TMP"
ZB_PG_NAME=scratch zb_pg_start
scratch_socket=$ZB_PG_SOCKET scratch_port=$ZB_PG_PORT
zb_psql -c "CREATE ROLE verifier LOGIN CREATEDB"
scratch_psql() { ZB_PG_SOCKET=$scratch_socket ZB_PG_PORT=$scratch_port zb_psql "$@"; }
ZB_PG_NAME=prod zb_pg_start
zb_psql -c "CREATE ROLE zakpos_user LOGIN" -c "CREATE ROLE zb_reader" -c "CREATE DATABASE pos OWNER zakpos_user"
ZB_PG_DB=pos zb_psql -c "CREATE EXTENSION pageinspect" >/dev/null
ZB_PG_DB=pos zb_psql -U zakpos_user >/dev/null <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.orders (id bigint PRIMARY KEY, total numeric(10, 2), note text);
INSERT INTO app.orders SELECT g, g * 1.5, 'n' || g FROM generate_series(1, 300) g;
GRANT USAGE ON SCHEMA app TO zb_reader;
GRANT SELECT ON app.orders TO zb_reader;
CREATE VIEW app.big AS SELECT id FROM app.orders WHERE total > 100;
SELECT lo_from_bytea(0, '\x0102'::bytea);
SQL
"$ZB_BIN" keygen --out key >/dev/null 2>&1
"$ZB_BIN" -q backup --repo repo --recipient key.pub --pg "host=$ZB_PG_SOCKET port=$ZB_PG_PORT user=zakpos_user dbname=pos" \
    >/dev/null || zb_fail "the backup failed"
archive=$("$ZB_BIN" latest --repo repo)
cat >zb.conf <<CONF
[repository]
path = $ZB_TMP/repo
key_file = $ZB_TMP/key
[postgres]
conninfo = host=$ZB_PG_SOCKET port=$ZB_PG_PORT user=zakpos_user dbname=pos
[verify]
pg_conninfo = host=$scratch_socket port=$scratch_port user=verifier dbname=postgres
[docker]
enabled = no
[paths]
[daemon]
state_dir = $ZB_TMP/state
[job weekly]
schedule = 30 4 * * 0
action = verify-restore
CONF
scratch_dbs() { scratch_psql -At -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'zakpos_backup_verify_%' OR datname LIKE 'zbrestore%'"; }
prod_dbs() { zb_psql -At -c "SELECT count(*) FROM pg_database WHERE datname NOT IN ('postgres', 'template0', 'template1', 'pos')"; }

# the production archive verifies on the scratch server as the verifier
zb_expect_status 0 "verify --restore on the scratch server" -- "$ZB_BIN" --config zb.conf --log-format text verify --restore \
    --key key "$archive"
zb_expect_contains "$ZB_LAST_OUTPUT" "verified $archive by restore (pg pos, 300 rows)" "names what it proved"
zb_expect_contains "$ZB_LAST_OUTPUT" "except 1 object not verified" "and what it could not"
zb_expect_contains "$ZB_LAST_OUTPUT" "EXTENSION public.pageinspect: not verified" "warns naming the extension"
zb_expect_contains "$ZB_LAST_OUTPUT" "permission denied to create extension" "quotes the server"
zb_expect_status 0 "the JSON report" -- "$ZB_BIN" --config zb.conf -q verify --restore --json --key key "$archive"
report=$ZB_LAST_OUTPUT
zb_expect_equal "$(echo "$report" | python3 -c 'import json,sys; r=json.load(sys.stdin); p=r["parts"][0]; print(r["result"], p["result"], len(p["not_verified"]), p["difference_count"], p["owners_privileges_left_out"] > 0)')" \
    "incomplete incomplete 1 0 True" "a distinct result: incomplete, one object not verified, no difference, owners left out"
zb_expect_equal "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(list(d["archives"].values())[0]["verified"]["result"])' repo/.zakpos-backup-index.json)" \
    "incomplete" "the repository index records it as incomplete, not as a pass"
zb_expect_contains "$("$ZB_BIN" list --repo repo)" "INCOMPLETE" "list shows it"
zb_expect_status 0 "the verify-restore job uses the verification's server" -- "$ZB_BIN" --config zb.conf run weekly
zb_expect_status 0 "drill on the verification's server" -- "$ZB_BIN" -q --config zb.conf drill --json "$archive"
zb_expect_equal "$(echo "$ZB_LAST_OUTPUT" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["result"], r["parts"][0]["result"])')" \
    "incomplete incomplete" "the drill's report says incomplete"
zb_expect_equal "$(prod_dbs)" "0" "nothing was created on the production server"
zb_expect_equal "$(scratch_dbs)" "0" "no scratch database left"

# a crafted table of contents: one more item, which runs a program on the server
H=$(od -An -tu2 -j10 -N2 "$archive" | tr -d ' ')
"$ZB_BIN" -q backup --repo plain --no-encryption --pg "host=$ZB_PG_SOCKET port=$ZB_PG_PORT user=zakpos_user dbname=pos" >/dev/null
plain=$("$ZB_BIN" latest --repo plain)
H=$(od -An -tu2 -j10 -N2 "$plain" | tr -d ' ')
tail -c +$((H + 1)) "$plain" | zstd -dcq | tar -xOf - pg/pos/toc.json >toc.json
craft() { # $1: output archive; $2: python statement changing toc t
    python3 -c 'import json,sys; t=json.load(open("toc.json")); exec(sys.argv[1]); json.dump(t, open("toc.crafted.json", "w"))' "$2"
    "$ZB_CRAFT" --recipient key.pub --out "$1" --rewrite "$plain" "" --set-toc pos toc.crafted.json || zb_fail "cannot craft $1"
}
craft evil.zbk "t['items'].insert(0, {'section': 'pre-data', 'kind': 'FUNCTION', 'schema': 'app', 'name': 'evil()', 'sql': \"COPY (SELECT 1) TO PROGRAM 'id > $ZB_TMP/ran-program'\"})"
zb_expect_status 0 "the crafted archive is intact" -- "$ZB_BIN" -q verify --key key evil.zbk
zb_expect_status 10 "verify --restore of the crafted archive as the verifier" -- "$ZB_BIN" --config zb.conf --log-format text \
    verify --restore --key key evil.zbk
zb_expect_contains "$ZB_LAST_OUTPUT" "pg_execute_server_program" "the server refused the program"
zb_expect_contains "$ZB_LAST_OUTPUT" "FUNCTION app.evil()" "names the item"
[ -e ran-program ] && zb_fail "the crafted statement ran a program" || zb_pass
zb_expect_equal "$(scratch_dbs)" "0" "no scratch database left"
zb_expect_equal "$(prod_dbs)" "0" "nothing on the production server"
# the property itself: restored by a superuser, the archive's SQL runs the program
zb_expect_status 0 "the crafted archive restored by a superuser" -- "$ZB_BIN" -q restore --key key evil.zbk \
    --pg-target "host=$ZB_PG_SOCKET port=$ZB_PG_PORT user=postgres dbname=superuser_copy"
[ -e ran-program ] && zb_pass || zb_fail "a superuser's restore did not run the crafted statement: the check above proves nothing"
rm -f ran-program

# crafted names in the data tables: quoted from the structured fields, they run nothing
craft names.zbk "t['tables'][0]['table'] = \"app.orders; COPY (SELECT 1) TO PROGRAM 'id > $ZB_TMP/ran-table'; --\""
# (the rows are loaded into "app"."orders"; the name then matches nothing the
# manifest counted, so the restore fails before publishing)
zb_expect_status 14 "a crafted table name restored by a superuser" -- "$ZB_BIN" --log-format text restore --key key names.zbk \
    --pg-target "host=$ZB_PG_SOCKET port=$ZB_PG_PORT user=postgres dbname=names_copy"
zb_expect_contains "$ZB_LAST_OUTPUT" "is not in the manifest" "the name matches no table the backup counted"
[ -e ran-table ] && zb_fail "a crafted table name ran a program" || zb_pass
craft columns.zbk "t['tables'][0]['columns'] = \"id) FROM STDIN; COPY (SELECT 1) TO PROGRAM 'id > $ZB_TMP/ran-columns'; --\""
zb_expect_status 5 "a crafted column list is refused" -- "$ZB_BIN" --log-format text restore --key key columns.zbk \
    --pg-target "host=$ZB_PG_SOCKET port=$ZB_PG_PORT user=postgres dbname=columns_copy"
zb_expect_contains "$ZB_LAST_OUTPUT" "is not a list of column names" "says why"
[ -e ran-columns ] && zb_fail "a crafted column list ran a program" || zb_pass
zb_test_end
