# A stand-in zakpos stack for the recover tests: a PostgreSQL cluster with
# the application's roles (attributes, a password, memberships with admin
# option, per-role settings, a comment) and a database they own and are
# granted; busybox containers with Compose labels running on named volumes
# (one with a health check); host config folders; and a configuration that
# backs all of it up. The oracles are the tests' own catalog queries,
# pg_dump, and find/stat/sha256 listings.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/pg.sh"
. "$ZB_TEST_LIB/docker.sh"

ZB_STACK_VOLUMES="zakpos_redis_data zakpos_api_logs"

stack_compose_labels() { echo "{\"com.docker.compose.project\":\"zakpos\",\"com.docker.compose.$1\":\"$2\"}"; }

# stack_volume NAME KEY: a volume as Compose makes it.
stack_volume() {
    zb_dapi POST /volumes/create -H 'Content-Type: application/json' \
        -d "{\"Name\":\"$1\",\"Labels\":$(stack_compose_labels volume "$2")}" >/dev/null
}

# stack_containers: the services, as `docker compose up` starts them; the
# redis stand-in is healthy once its data file is there.
stack_containers() {
    local cmd='["/bin/sh","-c","trap '"'"'exit 0'"'"' TERM; while :; do sleep 1; done"]'
    zb_dapi POST "/containers/create?name=zakpos-redis" -H 'Content-Type: application/json' \
        -d "{\"Image\":\"zbtest-busybox:1\",\"Cmd\":$cmd,\"Labels\":$(stack_compose_labels service redis),\"Healthcheck\":{\"Test\":[\"CMD-SHELL\",\"test -f /data/dump.rdb\"],\"Interval\":500000000,\"Retries\":120},\"HostConfig\":{\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"zakpos_redis_data\",\"Target\":\"/data\"}]}}" >/dev/null
    zb_dapi POST "/containers/create?name=zakpos-api" -H 'Content-Type: application/json' \
        -d "{\"Image\":\"zbtest-busybox:1\",\"Cmd\":$cmd,\"Labels\":$(stack_compose_labels service api),\"HostConfig\":{\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"zakpos_api_logs\",\"Target\":\"/data\"}]}}" >/dev/null
    zb_dapi POST /containers/zakpos-redis/start >/dev/null
    zb_dapi POST /containers/zakpos-api/start >/dev/null
}

# stack_up: the source host, with data.
stack_up() {
    zb_pg_start
    zb_psql >/dev/null <<'SQL'
CREATE ROLE app_group NOLOGIN;
CREATE ROLE app_owner LOGIN CREATEDB PASSWORD 'owner-pw-1' CONNECTION LIMIT 20;
CREATE ROLE app_reader LOGIN VALID UNTIL '2031-01-01 00:00:00+00';
CREATE ROLE app_admin LOGIN CREATEROLE PASSWORD 'admin-pw-2';
CREATE ROLE app_replica LOGIN REPLICATION;
GRANT app_group TO app_reader WITH ADMIN OPTION;
GRANT app_group TO app_admin;
ALTER ROLE app_reader SET search_path = app, public;
ALTER ROLE app_owner SET statement_timeout = '5min';
COMMENT ON ROLE app_owner IS 'the application''s owner';
CREATE DATABASE zakpos_db OWNER app_owner;
ALTER ROLE app_reader IN DATABASE zakpos_db SET work_mem = '8MB';
SQL
    ZB_PG_DB=zakpos_db zb_psql -U app_owner >/dev/null <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.orders (id bigint PRIMARY KEY, store int NOT NULL, total numeric(10, 2), note text);
INSERT INTO app.orders SELECT g, g % 7, g * 1.25, 'order ' || g FROM generate_series(1, 500) g;
CREATE TABLE app.stores (id int PRIMARY KEY, name text);
INSERT INTO app.stores VALUES (1, 'Kiosk ü'), (2, 'Market');
CREATE VIEW app.totals AS SELECT store, sum(total) FROM app.orders GROUP BY store;
GRANT USAGE ON SCHEMA app TO app_group;
GRANT SELECT ON ALL TABLES IN SCHEMA app TO app_group;
GRANT INSERT, UPDATE ON app.orders TO app_admin;
SQL
    zb_docker_setup
    stack_volume zakpos_redis_data redis_data
    stack_volume zakpos_api_logs api_logs
    local d
    d=$(zb_volume_dir zakpos_redis_data)
    printf 'REDIS0011 data\n' >"$d/dump.rdb"
    mkdir -p "$d/appendonly" && printf 'aof\n' >"$d/appendonly/a.aof" && chown 999:999 "$d/appendonly/a.aof"
    d=$(zb_volume_dir zakpos_api_logs)
    seq 1 5000 >"$d/api.log" && chmod 640 "$d/api.log" && ln -s api.log "$d/current"
    stack_containers
    mkdir -p srv/database-init srv/redis
    printf 'CREATE EXTENSION IF NOT EXISTS pgcrypto;\n' >srv/database-init/01-init.sql
    printf 'requirepass x\n' >srv/redis/redis.conf && chmod 600 srv/redis/redis.conf
}

# stack_config FILE [REMOTE]: the host's configuration: everything above, its
# key, and (with REMOTE) the S3 remote; the smoke check asks the recovered
# database and a restored folder.
stack_config() {
    stack_smoke_script
    cat >"$1" <<CONF
[repository]
path = $ZB_TMP/repo
name = zakpos
recipients = $ZB_TMP/key.pub
signing_key_file = $ZB_TMP/key.sign
key_file = $ZB_TMP/key
[postgres]
conninfo = host=$ZB_PG_SOCKET port=$ZB_PG_PORT user=postgres dbname=zakpos_db
with_role_passwords = yes
[docker]
host = unix://$ZB_DOCKER_SOCK
volumes = $ZB_STACK_VOLUMES
[paths]
database-init = $ZB_TMP/srv/database-init
redis = $ZB_TMP/srv/redis
[daemon]
state_dir = $ZB_TMP/state
[recover]
smoke_command = sh $ZB_TMP/smoke.sh
health_timeout = 2m
[job nightly]
schedule = 0 2 * * *
action = backup
CONF
    if [ -n "${2:-}" ]; then
        cat >>"$1" <<CONF
[remote s3]
type = s3
endpoint = http://127.0.0.1:$ZB_S3_PORT
bucket = zb
region = eu-central-1
path_style = yes
retries = 1
retry_delay = 0s
CONF
    fi
}

# The smoke check: the restored folder is there and the application's
# table answers with its rows (the server's port is read from the config).
stack_smoke_script() {
    cat >"$ZB_TMP/smoke.sh" <<SMOKE
port=\$(sed -n 's/.*port=\([0-9]*\).*/\1/p' "$ZB_TMP/zb.conf" | head -1)
test -f "$ZB_TMP/srv/redis/redis.conf" &&
    runuser -u postgres -- "$ZB_PG_BIN/psql" -X -At -h "$ZB_PG_SOCKET" -p "\$port" -d zakpos_db -c 'SELECT count(*) FROM app.orders' | grep -qx 500
SMOKE
}

# stack_catalog: the roles, memberships, settings and grants, by the test's
# own catalog queries (never the tool's).
stack_catalog() {
    zb_psql -At <<'SQL'
SELECT 'role', rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls,
       rolconnlimit, rolvaliduntil, coalesce(rolpassword, '<none>'), coalesce(shobj_description(oid, 'pg_authid'), '')
  FROM pg_authid WHERE rolname LIKE 'app\_%' ORDER BY rolname;
SELECT 'member', r.rolname, m.rolname, a.admin_option
  FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member
 WHERE m.rolname LIKE 'app\_%' ORDER BY 2, 3;
SELECT 'setting', r.rolname, coalesce(d.datname, '*'), s.setconfig
  FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole LEFT JOIN pg_database d ON d.oid = s.setdatabase
 WHERE r.rolname LIKE 'app\_%' ORDER BY 2, 3;
SQL
    ZB_PG_DB=zakpos_db zb_psql -At <<'SQL'
SELECT 'owner', pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'zakpos_db';
SELECT 'grant', table_schema, table_name, grantee, privilege_type FROM information_schema.role_table_grants
 WHERE table_schema = 'app' ORDER BY 2, 3, 4, 5;
SELECT 'rows', 'orders', count(*), md5(string_agg(o::text, ',' ORDER BY id)) FROM app.orders o;
SELECT 'rows', 'stores', count(*), md5(string_agg(s::text, ',' ORDER BY id)) FROM app.stores s;
SQL
}

# stack_snapshot DIR: what must come back, written to DIR.
stack_snapshot() {
    mkdir -p "$1"
    stack_catalog >"$1/catalog"
    zb_pg_dump_schema zakpos_db >"$1/schema"
    local v
    for v in $ZB_STACK_VOLUMES; do zb_tree_listing "$(zb_volume_dir "$v")" >"$1/volume.$v"; done
    zb_tree_listing srv/database-init >"$1/path.database-init"
    zb_tree_listing srv/redis >"$1/path.redis"
}

# stack_expect_same DIR: the recovered host matches the snapshot.
stack_expect_same() {
    stack_snapshot "$ZB_TMP/after"
    local f
    for f in catalog schema volume.zakpos_redis_data volume.zakpos_api_logs path.database-init path.redis; do
        if diff -u "$1/$f" "$ZB_TMP/after/$f" >"$ZB_TMP/diff.$f"; then zb_pass; else zb_fail "$f differs after the recovery:"$'\n'"$(head -30 "$ZB_TMP/diff.$f")"; fi
    done
    zb_expect_contains "$(cat "$1/catalog")" "role|app_owner|f|t|f|t|t|f|f|20||SCRAM-SHA-256" "the oracle saw the owner's verifier"
    zb_expect_contains "$(cat "$1/catalog")" "member|app_group|app_reader|t" "the oracle saw the admin option"
    zb_expect_contains "$(cat "$1/catalog")" "rows|orders|500|" "the oracle saw the rows"
}

# stack_destroy: the host is gone: the Docker data root, the cluster, the
# repository and the folders.
stack_destroy() {
    zb_docker_stop
    rm -rf "$ZB_TMP/docker" "$ZB_TMP/repo" "$ZB_TMP/srv" "$ZB_TMP/state"
    runuser -u postgres -- "$ZB_PG_SERVER_BIN/pg_ctl" -D "$ZB_PG_DATA" -m immediate stop >/dev/null
    rm -rf "$ZB_PG_DATA"
}

# stack_new_host CONFIG: a fresh dockerd and an empty cluster, the stack's
# compose file brought up (empty volumes, containers, the database
# POSTGRES_DB makes); CONFIG follows the new server's port.
stack_new_host() {
    zb_pg_start
    zb_psql -c "CREATE DATABASE zakpos_db" >/dev/null
    zb_docker_start
    zb_docker_image
    stack_volume zakpos_redis_data redis_data
    stack_volume zakpos_api_logs api_logs
    stack_containers
    sed -i "s/port=[0-9]*/port=$ZB_PG_PORT/g" "$1"
    stack_smoke_script
}
