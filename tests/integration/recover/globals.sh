# Every database backup stores the cluster globals (pg/<name>/globals.json):
# the roles, memberships and settings, with password verifiers only when
# asked (--with-role-passwords); a backup role that cannot read pg_authid
# still stores every role, without verifiers, and says so in one warning.
# The oracle reads the unencrypted archive's tar stream itself (header
# skipped, zstd -d), not through the tool. A globals.json past the JSON
# reader's limit (16 MiB), in an archive signed by a trusted writer, is
# refused by `recover --plan` with a message naming it, before it is held.
# An SQL_ASCII database's role settings holding bytes that are not UTF-8
# come back byte for byte through recover, and its relations in a
# tablespace (which recover makes before loading the database) come back in
# it, the tablespace owned by a role recover creates.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/pg.sh"
zb_test_begin
cd "$ZB_TMP"
zb_pg_start
zb_psql >/dev/null <<'SQL'
CREATE ROLE app_owner LOGIN PASSWORD 'owner-pw-1';
CREATE ROLE app_group NOLOGIN;
GRANT app_group TO app_owner WITH ADMIN OPTION;
ALTER ROLE app_owner SET statement_timeout = '5min';
CREATE DATABASE zakpos_db OWNER app_owner;
SQL
ZB_PG_DB=zakpos_db zb_psql -U app_owner -c "CREATE TABLE t (id int PRIMARY KEY)" >/dev/null
# the archive's plain bytes: the header's length is at offset 10 (2 bytes, little-endian)
plain() {
    local a h
    a=$(zb_archives_in "$1")
    h=$(od -An -tu2 -j10 -N2 "$a" | tr -d ' ')
    tail -c +$((h + 1)) "$a" | zstd -dcq
}
backup() {
    local repo=$1 user=$2
    shift 2
    "$ZB_BIN" --log-format text backup --repo "$repo" --no-encryption --pg "host=$ZB_PG_SOCKET port=$ZB_PG_PORT user=$user dbname=zakpos_db" "$@"
}

zb_expect_status 0 "backup as a superuser, without --with-role-passwords" -- backup plain postgres
text=$(plain plain | tr -d '\0')
zb_expect_contains "$text" "globals.json" "the archive holds the globals"
zb_expect_contains "$text" '"name":"app_owner"' "with the roles"
zb_expect_contains "$text" '"role":"app_group","member":"app_owner"' "their memberships"
zb_expect_contains "$text" '"setting":"statement_timeout=5min"' "their settings"
zb_expect_not_contains "$text" "SCRAM-SHA-256" "and no verifier"

zb_expect_status 0 "backup as a superuser, with --with-role-passwords" -- backup verifiers postgres --with-role-passwords
verifier=$(zb_psql -At -c "SELECT rolpassword FROM pg_authid WHERE rolname = 'app_owner'")
zb_expect_contains "$(plain verifiers | tr -d '\0')" "$verifier" "the verifier is stored"
zb_expect_not_contains "$ZB_LAST_OUTPUT" "SCRAM" "and never logged"

zb_expect_status 0 "backup as the database's owner, with --with-role-passwords" -- backup owner app_owner --with-role-passwords
zb_expect_equal "$(grep -c 'cannot read pg_authid' <<<"$ZB_LAST_OUTPUT")" 1 "one warning"
text=$(plain owner | tr -d '\0')
zb_expect_contains "$text" '"name":"app_group"' "every role is still stored"
zb_expect_not_contains "$text" "SCRAM-SHA-256" "without verifiers"
zb_expect_status 0 "that archive restores" -- "$ZB_BIN" restore "$(zb_archives_in owner)" \
    --pg-target "host=$ZB_PG_SOCKET port=$ZB_PG_PORT user=postgres dbname=copy"

# an SQL_ASCII database whose role settings hold bytes that are not UTF-8
# (globals.json keeps them as {"hex": ...}): recover gives them back byte
# for byte, and reports no problem. Oracle: the settings' bytes in hex, read
# by psql from pg_db_role_setting before and after.
zb_psql >/dev/null <<'SQL'
CREATE ROLE app_raw LOGIN;
CREATE DATABASE raw_db OWNER app_raw TEMPLATE template0 ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C';
SQL
mkdir -p "$ZB_TMP/raw_space" && chown postgres "$ZB_TMP/raw_space"
zb_psql -c "CREATE TABLESPACE raw_space OWNER app_raw LOCATION '$ZB_TMP/raw_space'" >/dev/null
PGCLIENTENCODING=SQL_ASCII ZB_PG_DB=raw_db zb_psql >/dev/null <<'SQL'
CREATE TABLE t (id int PRIMARY KEY);
CREATE TABLE placed (id int PRIMARY KEY USING INDEX TABLESPACE raw_space, note text) TABLESPACE raw_space;
CREATE INDEX placed_note ON placed (note) TABLESPACE raw_space;
INSERT INTO placed VALUES (1, 'one');
DO $$ BEGIN EXECUTE E'ALTER ROLE app_raw IN DATABASE raw_db SET zb.note = \'r\xf4le \xc3\x28 \xff\'';
EXECUTE E'ALTER ROLE app_raw IN DATABASE raw_db SET search_path = "sch\xe9ma", public';
END $$;
SQL
# read in the database itself: its SQL_ASCII converts nothing
setting_bytes() {
    ZB_PG_DB=raw_db zb_psql -At -c "SELECT coalesce(r.rolname, '-') || ' ' || encode(convert_to(s.setconfig::text, 'SQL_ASCII'), 'hex')
        FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase LEFT JOIN pg_roles r ON r.oid = s.setrole
        WHERE d.datname = 'raw_db' ORDER BY 1"
}
# where each relation is (oracle: pg_class and pg_tablespace read by psql)
placement() {
    ZB_PG_DB=raw_db zb_psql -At -c "SELECT c.relname || ' ' || coalesce(t.spcname, '-') FROM pg_class c
        LEFT JOIN pg_tablespace t ON t.oid = c.reltablespace WHERE c.relnamespace = 'public'::regnamespace
        AND c.relkind IN ('r', 'i', 'S', 'p', 'm') ORDER BY 1"
}
setting_bytes >raw.src
placement >raw.placement
zb_expect_contains "$(cat raw.placement)" "placed_note raw_space" "the oracle sees the tablespace"
zb_expect_contains "$(cat raw.src)" "$(printf 'zb.note=r\xf4le \xc3\x28 \xff' | od -An -tx1 | tr -d ' \n')" \
    "the oracle reads the setting's bytes"
zb_expect_status 0 "backup of the SQL_ASCII database" -- "$ZB_BIN" -q backup --repo raw --no-encryption \
    --pg "$(zb_pg_conninfo raw_db)"
zb_expect_contains "$(plain raw | tr -d '\0')" '"setting":{"hex":' "globals.json holds the setting in hex"
zb_psql -c "DROP DATABASE raw_db" -c "DROP TABLESPACE raw_space" -c "DROP ROLE app_raw" >/dev/null
zb_pg_recover_config raw.conf "$ZB_TMP/raw" "$ZB_TMP/raw_state" raw_db
zb_expect_status 0 "recover of the SQL_ASCII database" -- "$ZB_BIN" --log-format text --config raw.conf recover \
    --report "$ZB_TMP/raw_report"
zb_expect_not_contains "$ZB_LAST_OUTPUT" "per-role setting" "no setting refused"
zb_expect_equal "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["roles"]["problems"])' <raw_report.json)" "[]" \
    "the report lists no problem"
zb_expect_equal "$(setting_bytes)" "$(cat raw.src)" "the role's settings in the database are the source's bytes"
# the tablespace exists before the database is loaded: the relations are made in it
zb_expect_equal "$(placement)" "$(cat raw.placement)" "every relation in the source's tablespace"
zb_expect_equal "$(zb_psql -At -c "SELECT pg_get_userbyid(spcowner) FROM pg_tablespace WHERE spcname = 'raw_space'")" \
    "app_raw" "the tablespace has the source's owner"

# a role comment of 17 MiB makes globals.json larger than the reader accepts
zb_psql -c "DO \$\$ BEGIN EXECUTE format('COMMENT ON ROLE app_group IS %L', repeat('x', 17 << 20)); END \$\$" >/dev/null
"$ZB_BIN" keygen --out key >/dev/null 2>&1
zb_expect_status 0 "a signed backup with an oversize globals.json" -- "$ZB_BIN" --log-format text backup --repo big \
    --recipient key.pub --pg "host=$ZB_PG_SOCKET port=$ZB_PG_PORT user=postgres dbname=zakpos_db"
big=$(zb_archives_in big)
zb_expect_status 5 "recover --plan refuses it" -- "$ZB_BIN" --log-format text recover --plan --key key "$big" \
    --docker-host unix://"$ZB_TMP"/no-docker.sock --pg-target "host=$ZB_PG_SOCKET port=$ZB_PG_PORT user=postgres dbname=zakpos_db"
zb_expect_contains "$ZB_LAST_OUTPUT" "globals.json of database zakpos_db is too large" "naming the file and the reason"
zb_expect_not_contains "$ZB_LAST_OUTPUT" "role app_group" "and plans nothing from it"
zb_test_end
