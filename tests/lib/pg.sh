# A throwaway PostgreSQL cluster for a test: initdb in the test's temp folder
# as the postgres user, a free loopback port and a private socket folder,
# stopped (and removed) by the test's cleanup even when an assertion fails.
# Sets ZB_PG_BIN (the client programs: psql, pg_dump), ZB_PG_SERVER_BIN
# (initdb, pg_ctl, postgres), ZB_PG_PORT, ZB_PG_SOCKET, ZB_PG_DATA and
# ZB_PG_CONNINFO. The server is Debian's unless ZB_PG_SERVER_BIN names
# another one (zb_pg_use_major).

zb_pg_find_bin() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && ZB_PG_BIN=$d
    done
    [ -n "${ZB_PG_BIN:-}" ] || zb_require "a PostgreSQL server (initdb)"
    ZB_PG_SERVER_BIN=${ZB_PG_SERVER_BIN:-$ZB_PG_BIN}
}

# zb_pg_use_major N: the next zb_pg_start runs a PostgreSQL N server from the
# test tools (scripts/install-deps.sh installs 12, 13, 14, 16 and 17), or
# Debian's when it is that major version.
zb_pg_use_major() {
    local major=$1 d
    for d in /usr/lib/postgresql/"$major"/bin "${ZB_TEST_TOOLS:-/opt/zakpos-test-tools}/postgresql/node_modules/pg$major/native/bin"; do
        if [ -x "$d/postgres" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            ZB_PG_SERVER_BIN=$d
            return 0
        fi
    done
    zb_require "a PostgreSQL $major server (scripts/install-deps.sh installs one)"
}

zb_pg_free_port() { zb_free_port; }

# zb_pg_initdb DATA PASSWORD INITDB-OPTION...: a new cluster in DATA. The
# suite makes a hundred clusters of a few kinds, and initdb takes seconds
# on a busy machine where a copy takes a fraction of one: with ZB_TEST_CACHE
# (the build folder's test-cache, set by ctest) the first test to need a
# kind (server, version, options, password) runs initdb into the cache and
# every test copies it. A cluster is never started in the cache; the rename
# publishes it whole, and a test that loses the race to make it uses the
# winner's.
zb_pg_initdb() {
    local data=$1 password=$2
    shift 2
    local initdb=("$ZB_PG_SERVER_BIN/initdb" -U postgres --encoding=UTF8 --locale=C.UTF-8 "$@")
    if [ -z "${ZB_TEST_CACHE:-}" ]; then
        runuser -u postgres -- "${initdb[@]}" -D "$data"
        return
    fi
    local key kind
    key=$(printf '%s\n' "${initdb[@]}" "$("$ZB_PG_SERVER_BIN/postgres" --version)" "$password" |
        sed "s|$ZB_TMP|TMP|g" | sha256sum | cut -c1-16)
    kind=$ZB_TEST_CACHE/pg-$key
    if [ ! -d "$kind" ]; then
        local new=$kind.new.$$
        mkdir -p "$ZB_TEST_CACHE" && rm -rf "$new" && mkdir "$new" && chown postgres "$new" &&
            runuser -u postgres -- "${initdb[@]}" -D "$new" || { rm -rf "$new"; return 1; }
        mv -T "$new" "$kind" 2>/dev/null || rm -rf "$new"
    fi
    cp -a "$kind" "$data"
}

# zb_pg_start [PASSWORD]: starts a cluster; with PASSWORD, the superuser
# "postgres" needs it over TCP (scram-sha-256), otherwise trust.
# ZB_PG_SERVER_OPTIONS: more server options ("-c name=value ...");
# ZB_PG_NAME: the folder names' prefix, for a test with several servers.
zb_pg_start() {
    local password=${1:-}
    zb_pg_find_bin
    id postgres >/dev/null 2>&1 || zb_require "the postgres system user"
    ZB_PG_DATA=$ZB_TMP/${ZB_PG_NAME:-pg}data
    ZB_PG_SOCKET=$ZB_TMP/${ZB_PG_NAME:-pg}sock
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
    zb_pg_initdb "$ZB_PG_DATA" "$password" "${pwfile[@]}" >"$ZB_TMP/${ZB_PG_NAME:-pg}-initdb.log" 2>&1 || {
        cat "$ZB_TMP/${ZB_PG_NAME:-pg}-initdb.log" >&2
        zb_fail "initdb failed"
        exit 1
    }
    ZB_PG_PORT=$(zb_pg_free_port)
    zb_on_exit "runuser -u postgres -- '$ZB_PG_SERVER_BIN/pg_ctl' -D '$ZB_PG_DATA' -m immediate stop"
    runuser -u postgres -- "$ZB_PG_SERVER_BIN/pg_ctl" -D "$ZB_PG_DATA" -l "$ZB_TMP/${ZB_PG_NAME:-pg}.log" -w -t 60 \
        -o "-p $ZB_PG_PORT -k $ZB_PG_SOCKET -c listen_addresses=127.0.0.1 -c fsync=off ${ZB_PG_SERVER_OPTIONS:-}" start >/dev/null || {
        cat "$ZB_TMP/${ZB_PG_NAME:-pg}.log" >&2
        zb_fail "the PostgreSQL server did not start"
        exit 1
    }
    ZB_PG_CONNINFO="host=$ZB_PG_SOCKET port=$ZB_PG_PORT user=postgres dbname=postgres"
}

# zb_psql SQL...: runs SQL as the superuser over the socket.
zb_psql() {
    runuser -u postgres -- "$ZB_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$ZB_PG_SOCKET" -p "$ZB_PG_PORT" -d "${ZB_PG_DB:-postgres}" "$@"
}

# zb_pg_load_fixture DB [PSQL-OPTION...]: the fixture of every supported
# object kind into DB (which must exist); a fixture that does not load ends
# the test.
zb_pg_load_fixture() {
    local db=$1
    shift
    if ! ZB_PG_DB=$db zb_psql "$@" -f "$ZB_SOURCE_DIR/tests/integration/pg/fixture.sql" >/dev/null; then
        zb_fail "the fixture did not load into $db"
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

# zb_pg_expect_same_dump SOURCE COPY: pg_dump prints the same schema and the
# same rows for both databases, and what it printed is the fixture's (not
# two empty dumps). Leaves schema.src and data.src in the current folder.
zb_pg_expect_same_dump() {
    zb_pg_dump_schema "$1" >schema.src
    zb_pg_dump_schema "$2" >schema.copy
    if diff -u schema.src schema.copy >schema.diff; then zb_pass; else zb_fail "schemas differ:"$'\n'"$(head -60 schema.diff)"; fi
    zb_pg_dump_data "$1" >data.src
    zb_pg_dump_data "$2" >data.copy
    if diff -u data.src data.copy >data.diff; then zb_pass; else zb_fail "data differs:"$'\n'"$(head -60 data.diff)"; fi
    zb_expect_contains "$(cat schema.src)" 'CREATE TABLE "Mixed Case ü"."Table ""Quoted"" Name"' "the fixture's schema was dumped"
    zb_expect_contains "$(cat data.src)" "ü€𝄞" "the fixture's data was dumped"
}

# zb_pg_oracle DB: catalog_oracle.sql's description of DB's objects and rows
# (for servers Debian's pg_dump cannot read).
zb_pg_oracle() { ZB_PG_DB=$1 zb_psql -f "$ZB_SOURCE_DIR/tests/integration/pg/catalog_oracle.sql"; }

# zb_pg_expect_same_oracle FILE_A FILE_B WHAT: two such descriptions match.
zb_pg_expect_same_oracle() {
    if diff -u "$1" "$2" >"$2.diff"; then zb_pass; else zb_fail "$3 differ:"$'\n'"$(head -60 "$2.diff")"; fi
}

# zb_pg_fixture_copy MAJOR DB FIXTURE ORACLE NEEDLE: on a new PostgreSQL
# MAJOR server, loads tests/integration/pg/FIXTURE into DB, backs it up
# (keys key/key.pub; $archive names the archive), restores it into "copy",
# and expects ORACLE (a catalog reading in tests/integration/pg) to read the
# same in both (oracle.src is left in the current folder) and, where
# Debian's pg_dump reads the server, pg_dump's schema and rows to be the
# same, its schema holding NEEDLE.
zb_pg_fixture_copy() {
    zb_pg_use_major "$1"
    zb_pg_start
    zb_pg_fixture_restore "$@"
}

# zb_pg_fixture_restore MAJOR DB FIXTURE ORACLE NEEDLE [COPY]: the same on the
# server already running (MAJOR), restoring into COPY (default "copy").
zb_pg_fixture_restore() {
    local major=$1 db=$2 fixture=$3 oracle=$4 needle=$5 copy=${6:-copy}
    zb_psql -c "CREATE DATABASE $db"
    if ! ZB_PG_DB=$db zb_psql -f "$ZB_SOURCE_DIR/tests/integration/pg/$fixture" >/dev/null; then
        zb_fail "the fixture did not load"
        exit 1
    fi
    [ -f key ] || "$ZB_BIN" keygen --out key >/dev/null 2>&1
    zb_expect_status 0 "backup from PostgreSQL $major" -- "$ZB_BIN" --log-format text backup --repo repo \
        --recipient key.pub --pg "$(zb_pg_conninfo "$db")" --jobs 2
    archive=$("$ZB_BIN" latest --repo repo)
    zb_expect_status 0 "restore into PostgreSQL $major" -- "$ZB_BIN" --log-format text restore --key key "$archive" \
        --pg-target "$(zb_pg_conninfo "$copy")" --jobs 2
    ZB_PG_DB=$db zb_psql -At -f "$ZB_SOURCE_DIR/tests/integration/pg/$oracle" >oracle.src
    ZB_PG_DB=$copy zb_psql -At -f "$ZB_SOURCE_DIR/tests/integration/pg/$oracle" >oracle.copy
    zb_pg_expect_same_oracle oracle.src oracle.copy "the objects of the source and the copy"
    if [ "$major" -le "$(basename "$(dirname "$ZB_PG_BIN")")" ]; then
        zb_pg_dump_schema "$db" >schema.src
        zb_pg_dump_schema "$copy" >schema.copy
        if diff -u schema.src schema.copy >schema.diff; then zb_pass; else zb_fail "pg_dump schemas differ:"$'\n'"$(head -60 schema.diff)"; fi
        zb_expect_contains "$(cat schema.src)" "$needle" "pg_dump saw the fixture"
        zb_pg_dump_data "$db" >data.src
        zb_pg_dump_data "$copy" >data.copy
        if diff -q data.src data.copy >/dev/null; then zb_pass; else zb_fail "pg_dump rows differ"; fi
    fi
}

# zb_pg_wait_confirmed SLOT LSN: waits (up to a minute) until the logical slot
# confirmed LSN, that is until the changes before it are durable for its
# consumer; 1 if it never did.
zb_pg_wait_confirmed() {
    local i
    for i in $(seq 1 240); do
        [ "$(zb_psql -At -c "SELECT coalesce(confirmed_flush_lsn >= '$2', false) FROM pg_replication_slots WHERE slot_name = '$1'")" = t ] && return 0
        sleep 0.25
    done
    return 1
}

# zb_pg_recover_config FILE REPO STATE DB [KEY]: the configuration of a host
# that is one database (no Docker) for `recover`: the repository REPO (its
# key KEY when encrypted), the state folder STATE, the database DB.
zb_pg_recover_config() {
    {
        printf '[repository]\npath = %s\n' "$2"
        [ -n "${5:-}" ] && printf 'key_file = %s\n' "$5"
        printf '[postgres]\nconninfo = %s\n[docker]\nenabled = no\n[daemon]\nstate_dir = %s\n' "$(zb_pg_conninfo "$4")" "$3"
    } >"$1"
}
