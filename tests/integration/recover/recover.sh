# The host is gone: a stand-in stack is backed up by `run nightly` to S3,
# then its Docker data root, database cluster, repository and folders are
# destroyed; on a fresh dockerd and an empty cluster with the stack brought
# up empty, `recover remote:s3/latest` with only the key and the
# configuration brings back the roles (attributes, verifiers, memberships,
# settings), the database (pg_dump and catalog queries as oracles), the
# volumes and the folders (find/stat/sha256), restarts the containers (the
# health check passes only on restored data), runs the smoke check, and
# reports its recovery time by phase.
. "$ZB_TEST_LIB/remote.sh"
. "$(dirname "$0")/stack.sh"
zb_test_begin
cd "$ZB_TMP"
zb_s3_start
stack_up
stack_config zb.conf s3
ZB_PG_DB=zakpos_db zb_psql -c "ALTER TABLE app.stores OWNER TO app_admin" >/dev/null
zb_expect_status 0 "run nightly: the backup and its copy to S3" -- "$ZB_BIN" --config zb.conf run nightly
archive=$(zb_archives_in repo)
zb_expect_equal "$("$ZB_BIN" show --key key "$archive" --entries --json | grep -c 'globals.json')" 1 "the archive holds the cluster globals"

stack_snapshot snap

stack_destroy
zb_expect_equal "$(zb_archives_in repo)" "" "the repository is gone"
stack_new_host zb.conf
zb_expect_status 0 "recover --plan on the new host" -- "$ZB_BIN" --config zb.conf recover --plan --force remote:s3/latest
zb_expect_contains "$ZB_LAST_OUTPUT" "create role app_owner" "the plan names a role to create"
zb_expect_contains "$ZB_LAST_OUTPUT" "replace volume zakpos_redis_data" "and a volume to replace"
zb_expect_contains "$ZB_LAST_OUTPUT" "container zakpos-redis" "and a container to restart"
zb_expect_status 0 "recover from the newest archive on S3" -- "$ZB_BIN" --config zb.conf recover remote:s3/latest --force \
    --report "$ZB_TMP/report/recovery"
stack_expect_same snap
zb_expect_equal "$(zb_docker_state zakpos-redis)/$(zb_docker_state zakpos-api)" "running/running" "the containers run again"
health=$(zb_dapi GET /containers/zakpos-redis/json | python3 -c 'import json,sys; print(json.load(sys.stdin)["State"]["Health"]["Status"])')
zb_expect_equal "$health" healthy "the health check passes on the restored volume"
report=$(cat report/recovery.json)
zb_expect_equal "$(python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["result"], r["smoke"]["result"], r["rto_seconds"] > 0, all(k in r["seconds"] for k in ("fetch","stop","restore","start","smoke","total")))' <<<"$report")" \
    "pass pass True True" "the report: complete, smoke check passed, the recovery time by phase"
zb_expect_contains "$report" '"fetched_from": "remote:s3/' "the report names the remote"
zb_expect_equal "$(python3 -c 'import json,sys; r=json.load(sys.stdin)["roles"]; print(sorted(r["created"]), r["kept"], r["without_password"])' <<<"$report")" \
    "['app_admin', 'app_group', 'app_owner', 'app_reader', 'app_replica'] ['postgres'] ['app_reader', 'app_replica']" \
    "roles created, the new server's own superuser kept and named, the one without a verifier named"
zb_expect_contains "$(cat report/recovery.md)" "# Recovery: COMPLETE" "the Markdown report"
zb_expect_contains "$(cat report/recovery.md)" "| start the stack, health checks |" "with the start phase"
zb_expect_equal "$(ls state/recover.json 2>/dev/null)" "" "no journal left: the recovery is complete"
zb_expect_status 0 "the owner logs in with the restored password" -- env PGPASSWORD=owner-pw-1 \
    "$ZB_PG_BIN/psql" -X -At "host=127.0.0.1 port=$ZB_PG_PORT user=app_owner dbname=zakpos_db" -c "SELECT 1"
# a second recover of a complete host changes nothing without --force
zb_expect_status 9 "a second recover without --force" -- "$ZB_BIN" --config zb.conf recover remote:s3/latest
zb_expect_contains "$ZB_LAST_OUTPUT" "exists" "names what exists"
zb_expect_equal "$(zb_docker_state zakpos-redis)" running "and leaves the stack running"
zb_test_end
