# Restores across server versions: an archive of a PostgreSQL 12 database
# (the oldest supported) and one of a 16 database (the zakpos stack's) into
# a PostgreSQL 17 server must give what the fixture gives when loaded into
# 17 directly, privileges included (17 gave table owners a new privilege,
# MAINTAIN, that a copy of 12's or 16's ACLs would take away). Restoring
# into an older server warns first and, when the schema needs something the
# old server lacks, fails naming the object, leaving no database behind.
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
zb_test_end
