# A throwaway PostgreSQL cluster for a test: initdb in the test's temp folder
# as the postgres user, a free loopback port and a private socket folder,
# stopped (and removed) by the test's cleanup even when an assertion fails.
# Sets ZB_PG_BIN, ZB_PG_PORT, ZB_PG_SOCKET, ZB_PG_DATA and ZB_PG_CONNINFO.

zb_pg_find_bin() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && ZB_PG_BIN=$d
    done
    [ -n "${ZB_PG_BIN:-}" ] || zb_require "a PostgreSQL server (initdb)"
}

zb_pg_free_port() { zb_free_port; }

# zb_pg_start [PASSWORD]: starts a cluster; with PASSWORD, the superuser
# "postgres" needs it over TCP (scram-sha-256), otherwise trust.
# ZB_PG_SERVER_OPTIONS: more server options ("-c name=value ...").
zb_pg_start() {
    local password=${1:-}
    zb_pg_find_bin
    id postgres >/dev/null 2>&1 || zb_require "the postgres system user"
    ZB_PG_DATA=$ZB_TMP/pgdata
    ZB_PG_SOCKET=$ZB_TMP/pgsock
    mkdir -p "$ZB_PG_SOCKET"
    chown postgres "$ZB_TMP" "$ZB_PG_SOCKET"
    local pwfile=()
    if [ -n "$password" ]; then
        printf '%s\n' "$password" >"$ZB_TMP/pgpw"
        chown postgres "$ZB_TMP/pgpw"
        pwfile=(--pwfile="$ZB_TMP/pgpw" --auth-host=scram-sha-256 --auth-local=trust)
    else
        pwfile=(--auth=trust)
    fi
    runuser -u postgres -- "$ZB_PG_BIN/initdb" -D "$ZB_PG_DATA" -U postgres --encoding=UTF8 --locale=C.UTF-8 \
        "${pwfile[@]}" >"$ZB_TMP/initdb.log" 2>&1 || {
        cat "$ZB_TMP/initdb.log" >&2
        zb_fail "initdb failed"
        exit 1
    }
    ZB_PG_PORT=$(zb_pg_free_port)
    zb_on_exit "runuser -u postgres -- '$ZB_PG_BIN/pg_ctl' -D '$ZB_PG_DATA' -m immediate stop"
    runuser -u postgres -- "$ZB_PG_BIN/pg_ctl" -D "$ZB_PG_DATA" -l "$ZB_TMP/pg.log" -w -t 60 \
        -o "-p $ZB_PG_PORT -k $ZB_PG_SOCKET -c listen_addresses=127.0.0.1 -c fsync=off ${ZB_PG_SERVER_OPTIONS:-}" start >/dev/null || {
        cat "$ZB_TMP/pg.log" >&2
        zb_fail "the PostgreSQL server did not start"
        exit 1
    }
    ZB_PG_CONNINFO="host=$ZB_PG_SOCKET port=$ZB_PG_PORT user=postgres dbname=postgres"
}

# zb_psql SQL...: runs SQL as the superuser over the socket.
zb_psql() {
    runuser -u postgres -- "$ZB_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$ZB_PG_SOCKET" -p "$ZB_PG_PORT" -d "${ZB_PG_DB:-postgres}" "$@"
}

# zb_pg_load_fixture DB: the fixture of every supported object kind into DB
# (which must exist); a fixture that does not load ends the test.
zb_pg_load_fixture() {
    if ! ZB_PG_DB=$1 zb_psql -f "$ZB_SOURCE_DIR/tests/integration/pg/fixture.sql" >/dev/null; then
        zb_fail "the fixture did not load into $1"
        exit 1
    fi
}

# zb_pg_dump_schema DB: pg_dump --schema-only of DB (the tests' oracle, never
# used by the tool), without the \restrict lines newer pg_dump adds.
zb_pg_dump_schema() {
    runuser -u postgres -- "$ZB_PG_BIN/pg_dump" -h "$ZB_PG_SOCKET" -p "$ZB_PG_PORT" --schema-only "$1" |
        grep -v '^\\\(un\)\?restrict'
}

# zb_pg_dump_data DB: the rows of every table, as pg_dump prints them.
zb_pg_dump_data() {
    runuser -u postgres -- "$ZB_PG_BIN/pg_dump" -h "$ZB_PG_SOCKET" -p "$ZB_PG_PORT" --data-only "$1" |
        grep -v '^\\\(un\)\?restrict'
}

# zb_pg_conninfo DB: a connection string for DB on the test's server.
zb_pg_conninfo() { echo "host=$ZB_PG_SOCKET port=$ZB_PG_PORT user=postgres dbname=$1"; }
