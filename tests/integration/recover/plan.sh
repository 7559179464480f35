# recover --plan names each condition that blocks a recovery (exit 17): a
# volume and a folder that exist, a server that is not empty, a volume the
# stack's compose file does not declare, a role the connecting role cannot
# create. restore never creates roles. (Interrupted recoveries and their
# resumption: phases.sh.)
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

zb_test_end
