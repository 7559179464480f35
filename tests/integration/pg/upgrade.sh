# Restores across server versions: an archive of a PostgreSQL 12 database
# (the oldest supported) and one of a 16 database (the zakpos stack's) into
# a PostgreSQL 17 server must give what the fixture gives when loaded into
# 17 directly, privileges included (17 gave table owners a new privilege,
# MAINTAIN, that a copy of 12's or 16's ACLs would take away). Restoring
# into an older server warns first and, when the schema needs something the
# old server lacks, fails naming the object, leaving no database behind; so
# does a database whose ICU locale 12 cannot give, which restores into 12
# with a libc locale asked for (--pg-locale), its objects being ones 12 has.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/pg.sh"
zb_test_begin
cd "$ZB_TMP"
"$ZB_BIN" keygen --out key >/dev/null 2>&1

# three servers side by side; server NAME's settings are kept in NAME_*
start_server() {
    local name=$1 major=$2
    ZB_PG_NAME=$name
    ZB_PG_SERVER_BIN=
    zb_pg_use_major "$major"
    zb_pg_start
    eval "${name}_socket=\$ZB_PG_SOCKET ${name}_port=\$ZB_PG_PORT"
}
use_server() {
    eval "ZB_PG_SOCKET=\$${1}_socket ZB_PG_PORT=\$${1}_port"
}
start_server old 12
start_server mid 16
start_server new 17

for name in old mid; do
    use_server "$name"
    zb_psql -c "CREATE DATABASE shop"
    # the fixture as an older server has it
    zb_pg_load_fixture shop -v nulls_not_distinct=
    zb_expect_status 0 "backup of the $name server" -- "$ZB_BIN" -q backup --repo "repo-$name" --recipient key.pub \
        --pg "$(zb_pg_conninfo shop)" --jobs 2
done
use_server new
zb_psql -c "CREATE DATABASE direct"
zb_pg_load_fixture direct -v nulls_not_distinct=
zb_pg_oracle direct >oracle.direct
zb_expect_contains "$(cat oracle.direct)" 'relation shop.orders kind r persistence p owner postgres acl {postgres=arwdDxtm/postgres,' \
    "PostgreSQL 17's owners hold MAINTAIN"
for name in old mid; do
    archive=$("$ZB_BIN" latest --repo "repo-$name")
    zb_expect_status 0 "restore of the $name server's archive into PostgreSQL 17" -- "$ZB_BIN" --log-format text restore \
        --key key "$archive" --pg-target "$(zb_pg_conninfo "from_$name")" --jobs 2
    zb_expect_not_contains "$ZB_LAST_OUTPUT" "older major version" "no warning for a newer server"
    zb_pg_oracle "from_$name" >"oracle.$name"
    zb_pg_expect_same_oracle oracle.direct "oracle.$name" "the fixture loaded into 17 and the copy of the $name server's database"
done
zb_expect_equal "$(grep -c '^rows ' oracle.direct)" "15" "the oracle hashed the fixture's tables"

# 16 into 12: pg_trgm 1.6 (16's) has no script on 12
use_server old
archive=$("$ZB_BIN" latest --repo repo-mid)
zb_expect_status 10 "restore of a PostgreSQL 16 archive into PostgreSQL 12" -- "$ZB_BIN" --log-format text restore \
    --key key "$archive" --pg-target "$(zb_pg_conninfo downgraded)" --jobs 2
zb_expect_contains "$ZB_LAST_OUTPUT" "the archive comes from PostgreSQL 16 and the target server runs PostgreSQL 12" "warns first"
zb_expect_contains "$ZB_LAST_OUTPUT" "EXTENSION public.pg_trgm failed" "names the object that failed"
zb_expect_equal "$(zb_psql -At -c "SELECT count(*) FROM pg_database WHERE datname IN ('downgraded') OR datname LIKE 'zbrestore%'")" "0" \
    "no database left behind"

# a PostgreSQL 16 database with an ICU locale into 12, which has no
# per-database locale provider: refused before anything is published,
# naming the provider and the locale; with a libc locale asked for, it
# restores, since its objects are ones 12 has too
use_server mid
zb_psql -c "CREATE DATABASE icu TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'sv-SE' LOCALE 'C.UTF-8'" >/dev/null
ZB_PG_DB=icu zb_psql >/dev/null <<'SQL'
CREATE SCHEMA shop;
CREATE TABLE shop.words (id int PRIMARY KEY, w text NOT NULL);
INSERT INTO shop.words VALUES (1, 'a'), (2, 'ö'), (3, 'z');
CREATE VIEW shop.sorted AS SELECT w FROM shop.words ORDER BY w;
CREATE FUNCTION shop.word(i int) RETURNS text LANGUAGE sql STABLE AS 'SELECT w FROM shop.words WHERE id = i';
SQL
zb_expect_status 0 "backup of the ICU database on PostgreSQL 16" -- "$ZB_BIN" -q backup --repo repo-icu --recipient key.pub \
    --pg "$(zb_pg_conninfo icu)"
zb_pg_oracle icu >oracle.icu
# the objects' names (12 prints other things differently, see below)
names() {
    ZB_PG_DB=$1 zb_psql -At -c "SELECT c.relkind::text || ' ' || c.oid::regclass::text FROM pg_class c
        WHERE c.relnamespace = 'shop'::regnamespace UNION ALL SELECT 'f ' || p.oid::regprocedure::text FROM pg_proc p
        WHERE p.pronamespace = 'shop'::regnamespace ORDER BY 1"
}
names icu >names.icu
archive=$("$ZB_BIN" latest --repo repo-icu)
use_server old
zb_expect_status 10 "restore of the ICU database into PostgreSQL 12" -- "$ZB_BIN" --log-format text restore --key key \
    "$archive" --pg-target "$(zb_pg_conninfo icu_copy)"
zb_expect_contains "$ZB_LAST_OUTPUT" "the target server (PostgreSQL 12) has no ICU locale provider, which the database uses (sv-SE)" \
    "names the locale provider and the locale"
zb_expect_contains "$ZB_LAST_OUTPUT" "hint: restore into PostgreSQL 15 or newer, or pass --pg-locale NAME" "says what to do"
zb_expect_equal "$(zb_psql -At -c "SELECT count(*) FROM pg_database WHERE datname = 'icu_copy' OR datname LIKE 'zbrestore%'")" "0" \
    "nothing was published or left behind"
zb_expect_status 0 "restore of the ICU database into PostgreSQL 12 with --pg-locale" -- "$ZB_BIN" -q restore --key key \
    "$archive" --pg-target "$(zb_pg_conninfo icu_copy)" --pg-locale C.UTF-8
zb_pg_oracle icu_copy >oracle.icu_copy
# 12 prints the view's text and gives the public schema another owner:
# the columns, keys, indexes and rows are compared, and the names
grep -E '^(column|index|constraint|rows) ' oracle.icu >same.icu
grep -E '^(column|index|constraint|rows) ' oracle.icu_copy >same.icu_copy
zb_pg_expect_same_oracle same.icu same.icu_copy "the PostgreSQL 16 database and its copy on 12"
zb_expect_contains "$(cat oracle.icu)" "rows shop.words 3 " "the oracle hashed the rows"
zb_expect_equal "$(names icu_copy)" "$(cat names.icu)" "the same tables, view, index and function"
zb_expect_contains "$(cat names.icu)" "v shop.sorted" "the names include the view"
zb_test_end
