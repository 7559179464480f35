# recover --plan names each condition that blocks a recovery (exit 17): a
# volume and a folder that exist, a server that is not empty, a volume the
# stack's compose file does not declare, a role the connecting role cannot
# create. restore never creates roles. A recovery killed (kill -9) after it
# created the roles, and one killed after it restored everything but before
# the stack started, leave nothing that looks complete (no report, the
# journal kept, the database not published); the next recover finishes each.
. "$(dirname "$0")/stack.sh"
zb_test_begin
cd "$ZB_TMP"
stack_up
stack_config zb.conf
zb_expect_status 0 "run nightly" -- "$ZB_BIN" --config zb.conf run nightly
stack_snapshot snap

plan() { "$ZB_BIN" --config zb.conf recover --plan "$@"; }
zb_expect_status 17 "the plan on a host that has everything" -- plan
zb_expect_contains "$ZB_LAST_OUTPUT" "blocked: volume zakpos_redis_data exists (--force replaces it" "a volume that exists"
zb_expect_contains "$ZB_LAST_OUTPUT" "blocked: the server is not empty: database zakpos_db" "a server that is not empty"
zb_expect_contains "$ZB_LAST_OUTPUT" "blocked: path redis: $ZB_TMP/srv/redis is not empty" "a folder that is not empty"
zb_expect_contains "$ZB_LAST_OUTPUT" "keep role app_owner (it exists" "roles that exist are kept"
printf 'services:\n  redis:\n    image: redis\nvolumes:\n  redis_data:\n    name: zakpos_redis_data\n  other:\n' >compose.yml
sed -i "/^\[recover\]/a compose_file = $ZB_TMP/compose.yml" zb.conf
zb_expect_status 17 "the plan with a compose file that lacks a volume" -- plan --force
zb_expect_contains "$ZB_LAST_OUTPUT" "blocked: volume zakpos_api_logs is not declared by the stack ($ZB_TMP/compose.yml)" "names the volume"
zb_expect_not_contains "$ZB_LAST_OUTPUT" "zakpos_redis_data is not declared" "a declared volume passes"
sed -i '/^compose_file/d' zb.conf

# a new, empty cluster whose only role may create roles but not give REPLICATION
runuser -u postgres -- "$ZB_PG_SERVER_BIN/pg_ctl" -D "$ZB_PG_DATA" -m immediate stop >/dev/null
rm -rf "$ZB_PG_DATA"
zb_pg_start
sed -i "s/port=[0-9]*/port=$ZB_PG_PORT/g" zb.conf
stack_smoke_script
zb_psql -c "CREATE ROLE zb_limited LOGIN CREATEROLE" -c "CREATE DATABASE zakpos_db" >/dev/null
archive=$(zb_archives_in repo)
zb_expect_status 17 "the plan as a role that cannot create every role" -- plan --force \
    --pg-target "host=$ZB_PG_SOCKET port=$ZB_PG_PORT user=zb_limited dbname=zakpos_db"
zb_expect_contains "$ZB_LAST_OUTPUT" "blocked: role app_replica cannot be created" "names the role"
zb_expect_contains "$ZB_LAST_OUTPUT" "create role app_owner" "and the roles it can create"
zb_expect_status 0 "restore of the database alone" -- "$ZB_BIN" --config zb.conf restore --key key "$archive" --no-owner --no-acl \
    --pg-target "host=$ZB_PG_SOCKET port=$ZB_PG_PORT user=postgres dbname=restored"
zb_expect_equal "$(zb_psql -At -c "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'app\_%'")" 0 "restore creates no role"
zb_psql -c "DROP DATABASE restored" >/dev/null

# the stack's data lost: the volumes and folders emptied
wipe() {
    local v
    for v in $ZB_STACK_VOLUMES; do find "$(zb_volume_dir "$v")" -mindepth 1 -delete; done
    rm -rf srv/redis/* srv/database-init/*
}
wipe
recover_killed_at() {
    local point=$1
    shift
    ZB_FAULT_AT=$point ZB_FAULT_SIGNAL=9 "$ZB_FAULT_BIN" --config zb.conf recover --force --report "$ZB_TMP/report" "$@" >"killed.$point" 2>&1
    zb_expect_contains "$(cat "killed.$point")" "fault point $point reached" "the recovery reached $point"
    zb_expect_equal "$(ls report.md report.json 2>/dev/null)" "" "no report after a kill at $point"
    zb_expect_equal "$(ls state/recover.json)" "state/recover.json" "the journal records the unfinished recovery"
}
recover_killed_at recover-roles
zb_expect_equal "$(zb_psql -At -c "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'app\_%'")" 5 "the roles were created"
zb_expect_equal "$(ZB_PG_DB=zakpos_db zb_psql -At -c "SELECT count(*) FROM pg_namespace WHERE nspname = 'app'")" 0 \
    "the database is not published"
zb_expect_equal "$(zb_psql -At -c "SELECT count(*) FROM pg_database WHERE datname NOT IN ('postgres', 'template0', 'template1', 'zakpos_db')")" 0 \
    "no half-restored database is left"
zb_expect_equal "$(zb_docker_state zakpos-redis)" exited "the stack stays stopped: it has no data yet"
zb_expect_equal "$(ls srv/redis)" "" "the folder is not published"
zb_expect_status 0 "the next recover finishes it" -- "$ZB_BIN" --config zb.conf recover --report "$ZB_TMP/report"
stack_expect_same snap
zb_expect_equal "$(python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["resumed"], r["result"], sorted(r["roles"]["created"]))' <report.json)" \
    "True pass ['app_admin', 'app_group', 'app_owner', 'app_reader', 'app_replica']" "reported as finishing the interrupted recovery, the roles as created"
zb_expect_equal "$(zb_docker_state zakpos-redis)" running "the stack runs"

# killed once everything was restored, before the stack started
rm -f report.md report.json
wipe
recover_killed_at recover-start
zb_expect_equal "$(zb_docker_state zakpos-redis)/$(zb_docker_state zakpos-api)" "exited/exited" "the containers are still stopped"
zb_expect_status 0 "the next recover starts the stack" -- "$ZB_BIN" --config zb.conf recover --report "$ZB_TMP/report"
zb_expect_contains "$ZB_LAST_OUTPUT" "restored by the earlier recovery, kept" "what was done is not done again"
zb_expect_equal "$(zb_docker_state zakpos-redis)/$(zb_docker_state zakpos-api)" "running/running" "the stack runs again"
stack_expect_same snap
zb_expect_equal "$(ls state/recover.json 2>/dev/null)" "" "the journal is gone"
zb_test_end
