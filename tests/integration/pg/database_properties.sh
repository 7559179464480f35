# The database's own properties come back as pg_dump --create keeps them:
# owner, encoding, ICU locale (and so the sort order), connection limit,
# ALTER DATABASE ... SET and ALTER ROLE ... IN DATABASE ... SET settings,
# comment and grants (one by a grantor other than the owner). Oracles: a
# catalog query written for this test and pg_dump --create's own database
# statements, equal for the source and the copy. --pg-locale and
# --pg-icu-locale choose another locale; a locale the server's system does
# not have fails before anything is published, naming it; a role the target
# lacks is warned about and skipped.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/pg.sh"
zb_test_begin
cd "$ZB_TMP"
zb_pg_start
zb_psql >/dev/null <<'SQL'
CREATE ROLE zb_app LOGIN;
CREATE ROLE zb_reader;
CREATE ROLE zb_other;
CREATE ROLE zb_gone;
CREATE DATABASE src OWNER zb_app TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'sv-SE'
    LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8' CONNECTION LIMIT 42;
ALTER DATABASE src SET work_mem = '3MB';
ALTER DATABASE src SET search_path = "$user", public, "My Schema";
ALTER ROLE zb_app IN DATABASE src SET statement_timeout = '5min';
ALTER ROLE zb_gone IN DATABASE src SET work_mem = '1MB';
COMMENT ON DATABASE src IS 'the shop''s database';
REVOKE TEMPORARY ON DATABASE src FROM PUBLIC;
GRANT CONNECT, CREATE ON DATABASE src TO zb_reader WITH GRANT OPTION;
SET ROLE zb_reader;
GRANT CONNECT ON DATABASE src TO zb_other;
RESET ROLE;
SQL
ZB_PG_DB=src zb_psql -c "CREATE TABLE words (w text)" -c "INSERT INTO words VALUES ('a'), ('B'), ('ö'), ('z'), ('å'), ('ä')"

# what a database is, read from the catalogs
properties() {
    zb_psql -At <<SQL
SELECT pg_get_userbyid(d.datdba), pg_encoding_to_char(d.encoding), d.datlocprovider, d.daticulocale, d.datcollate,
       d.datctype, d.datconnlimit, shobj_description(d.oid, 'pg_database'),
       (SELECT string_agg(a::text, ' ' ORDER BY a::text) FROM unnest(d.datacl) a)
FROM pg_database d WHERE d.datname = '$1';
SELECT coalesce(pg_get_userbyid(s.setrole), '-') || ' ' || array_to_string(s.setconfig, ' ')
FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = '$1' ORDER BY 1;
SQL
}
sorted_words() { ZB_PG_DB=$1 zb_psql -At -c "SELECT string_agg(w, ',' ORDER BY w) FROM words"; }
# pg_dump --create's statements about the database itself, the name made neutral
dump_database() {
    runuser -u postgres -- "$ZB_PG_BIN/pg_dump" -h "$ZB_PG_SOCKET" -p "$ZB_PG_PORT" --create --schema-only "$1" |
        grep -E "^(CREATE DATABASE|ALTER DATABASE|ALTER ROLE|COMMENT ON DATABASE|GRANT|REVOKE|SET SESSION)" |
        grep -v "^GRANT.*SCHEMA" | sed "s/\b$1\b/DB/g"
}
properties src | sed 's/^zb_gone .*//' >src.properties
dump_database src | grep -v zb_gone >src.dump
zb_expect_contains "$(cat src.properties)" "zb_app|UTF8|i|sv-SE|C.UTF-8|C.UTF-8|42|the shop's database|" "the source's properties were read"
zb_expect_contains "$(cat src.dump)" "GRANT CONNECT ON DATABASE DB TO zb_other" "pg_dump saw the grant by another grantor"

"$ZB_BIN" keygen --out key >/dev/null 2>&1
zb_expect_status 0 "backup" -- "$ZB_BIN" -q backup --repo repo --recipient key.pub --pg "$(zb_pg_conninfo src)"
archive=$("$ZB_BIN" latest --repo repo)
zb_expect_status 0 "verify --restore (the properties applied to the scratch database)" -- "$ZB_BIN" -q verify --restore --key key "$archive" --pg-target "$(zb_pg_conninfo postgres)"
# a role of the source the target does not have: the restore warns and goes on
zb_psql -c "DROP ROLE zb_gone"

zb_expect_status 0 "restore" -- "$ZB_BIN" --log-format text restore --key key "$archive" --pg-target "$(zb_pg_conninfo copy)"
zb_expect_contains "$ZB_LAST_OUTPUT" 'role "zb_gone" does not exist on the target server' "warns about the missing role"
properties copy >copy.properties
zb_expect_equal "$(cat copy.properties)" "$(cat src.properties | sed '/^$/d')" "owner, encoding, locale, limit, comment, grants and settings (catalog oracle)"
dump_database copy >copy.dump
if diff -u src.dump copy.dump >dump.diff; then zb_pass; else zb_fail "pg_dump --create differs:"$'\n'"$(cat dump.diff)"; fi
zb_expect_equal "$(sorted_words copy)" "$(sorted_words src)" "the ICU locale sorts as the source did"

# another locale, asked for
zb_expect_status 0 "restore --pg-locale C" -- "$ZB_BIN" -q restore --key key "$archive" --pg-target "$(zb_pg_conninfo libc)" \
    --pg-locale C
zb_expect_equal "$(zb_psql -At -c "SELECT datlocprovider, datcollate, datctype FROM pg_database WHERE datname = 'libc'")" \
    "c|C|C" "--pg-locale: the libc provider with that locale"
zb_expect_equal "$(sorted_words libc)" "B,a,z,ä,å,ö" "sorted by bytes"
zb_expect_status 0 "restore --pg-icu-locale" -- "$ZB_BIN" -q restore --key key "$archive" --pg-target "$(zb_pg_conninfo icu)" \
    --pg-icu-locale de-DE
zb_expect_equal "$(zb_psql -At -c "SELECT datlocprovider, daticulocale FROM pg_database WHERE datname = 'icu'")" \
    "i|de-DE" "--pg-icu-locale: the ICU provider with that locale"
zb_expect_equal "$(sorted_words icu)" "a,å,ä,B,ö,z" "sorted the German way"
zb_expect_status 10 "a locale the server does not have" -- "$ZB_BIN" --log-format text restore --key key "$archive" \
    --pg-target "$(zb_pg_conninfo nope)" --pg-locale xx_NOPE.UTF-8
zb_expect_contains "$ZB_LAST_OUTPUT" "cannot create a database with encoding UTF8 and locale xx_NOPE.UTF-8" "names the locale and encoding"
zb_expect_contains "$ZB_LAST_OUTPUT" "hint: pass --pg-locale NAME" "says what to do"
zb_expect_equal "$(zb_psql -At -c "SELECT count(*) FROM pg_database WHERE datname IN ('nope') OR datname LIKE 'zbrestore%'")" "0" \
    "nothing was published or left behind"
zb_test_end
