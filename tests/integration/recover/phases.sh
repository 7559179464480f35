# A recovery interrupted at each of its phases (fetch, stop, roles,
# database, volumes, paths, start, smoke check), by kill -9 or SIGTERM at a
# fault point of the test build, leaves nothing that looks complete: no
# report, the journal kept, the database under its real name either empty
# or whole (never half), each volume and folder either empty or whole, each
# container running or recorded in the journal as stopped. The next
# `recover` finishes it: the host matches the source (catalog queries,
# pg_dump, find/stat listings), the containers run, no temporary database
# is left. A damaged archive creates nothing: no role exists before the
# whole archive proved intact. The oracles are the tests' own (psql,
# pg_dump, the volume folders, docker inspect through the socket).
. "$ZB_TEST_LIB/remote.sh"
. "$(dirname "$0")/stack.sh"
zb_test_begin
cd "$ZB_TMP"
zb_s3_start
stack_up
# more than one 256 KiB chunk of database and of volume, so the damage
# below (in the last chunk) is far behind globals.json whatever the order
ZB_PG_DB=zakpos_db zb_psql -U app_owner -c "CREATE TABLE app.filler AS SELECT g AS id, md5(random()::text) ||
    md5(random()::text) || md5(random()::text) AS fill FROM generate_series(1, 30000) g" >/dev/null
head -c 600000 /dev/urandom >"$(zb_volume_dir zakpos_api_logs)/blob"
stack_config zb.conf s3
zb_expect_status 0 "run nightly: the backup and its copy to S3" -- "$ZB_BIN" --config zb.conf run nightly
stack_snapshot snap
archive=$(zb_archives_in repo)

# the host's data lost: the database and its roles, the volumes' and the
# folders' content; the new stack's empty database stays
wipe() {
    zb_psql -c "DROP DATABASE zakpos_db" -c "CREATE DATABASE zakpos_db" >/dev/null
    zb_psql -At -c "SELECT rolname FROM pg_roles WHERE rolname LIKE 'app\_%'" | while read -r r; do
        zb_psql -c "DROP ROLE $r" >/dev/null
    done
    local v
    for v in $ZB_STACK_VOLUMES; do find "$(zb_volume_dir "$v")" -mindepth 1 -delete; done
    rm -rf srv/redis/* srv/database-init/*
}
orders() { ZB_PG_DB=zakpos_db zb_psql -At -c "SELECT count(*) FROM app.orders" 2>/dev/null || echo none; }
extra_databases() {
    zb_psql -At -c "SELECT datname FROM pg_database WHERE datname NOT IN ('postgres', 'template0', 'template1', 'zakpos_db') ORDER BY 1"
}
# empty_or_whole WHAT LISTING DIR
empty_or_whole() {
    if [ -z "$(ls -A "$3")" ] || [ "$(zb_tree_listing "$3")" = "$(cat "snap/$2")" ]; then zb_pass; else
        zb_fail "$1 is neither empty nor whole after the interruption"
    fi
}
# A container is running, or stopped and recorded in the journal (so the next
# recovery starts it).
running_or_recorded() {
    local state
    state=$(zb_docker_state "$1")
    if [ "$state" = running ] || grep -q "\"name\": \"$1\"" state/recover.json; then zb_pass; else
        zb_fail "container $1 is $state and not in the journal"
    fi
}

# the damaged archive first: its last chunk changed
cp "$archive" damaged.zbk
size=$(stat -c %s damaged.zbk)
printf 'X' | dd of=damaged.zbk bs=1 seek=$((size - 40)) conv=notrunc 2>/dev/null
wipe
# (Docker off in the configuration: no stack to stop, none to start again
# and wait for on data that is not there; the volumes are still restored)
sed '/^\[docker\]/a enabled = no' zb.conf >damaged.conf
zb_expect_status 6 "recover of a damaged archive" -- "$ZB_BIN" --config damaged.conf recover --force damaged.zbk
zb_expect_contains "$ZB_LAST_OUTPUT" "failed authentication" "names the damage"
zb_expect_equal "$(zb_psql -At -c "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'app\_%'")" 0 \
    "no role was created from it"
zb_expect_equal "$(orders)" none "nor the database"
zb_expect_equal "$(extra_databases)" "" "and no database is left behind"
rm -f state/recover.json

# POINT[:DETAIL]=SIGNAL for each phase
# (kill -9 at pg-role-created is also one in the database phase: the
# database is loaded under its temporary name then)
phases="recover-fetched=9 recover-stopped=15 pg-role-created=9 restore-finish:pg=15 restore-finish:volume=9
restore-finish:path=9 recover-started=9 recover-smoke=9"
for phase in $phases; do
    point=${phase%=*}
    signal=${phase#*=}
    wipe
    rm -f report.md report.json
    TMPDIR=$ZB_TMP ZB_FAULT_AT=$point ZB_FAULT_SIGNAL=$signal "$ZB_FAULT_BIN" --config zb.conf recover --force --report "$ZB_TMP/report" \
        remote:s3/latest >"killed.log" 2>&1
    zb_expect_contains "$(cat killed.log)" "fault point ${point%%:*} reached" "the recovery reached $point"
    if [ "$signal" = 9 ]; then
        zb_expect_equal "$(ls report.md report.json 2>/dev/null)" "" "$point/$signal: no report"
    else # a SIGTERM ends the run through its cleanup, which reports the failure
        zb_expect_equal "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["result"])' <report.json)" fail \
            "$point/$signal: the report says the recovery failed"
    fi
    if [ "$point" != recover-fetched ]; then
        zb_expect_equal "$(ls state/recover.json 2>/dev/null)" "state/recover.json" "$point/$signal: the journal is kept"
    fi
    case $(orders) in none | 500) zb_pass ;; *) zb_fail "$point/$signal: the database is half restored: $(orders) rows" ;; esac
    zb_expect_equal "$(extra_databases | grep -v '^zbrestore_')" "" "$point/$signal: no other database"
    for v in $ZB_STACK_VOLUMES; do empty_or_whole "$point/$signal: volume $v" "volume.$v" "$(zb_volume_dir "$v")"; done
    empty_or_whole "$point/$signal: folder redis" path.redis srv/redis
    empty_or_whole "$point/$signal: folder database-init" path.database-init srv/database-init
    running_or_recorded zakpos-redis
    running_or_recorded zakpos-api
    zb_expect_status 0 "$point/$signal: the next recover finishes it" -- \
        "$ZB_BIN" --config zb.conf recover --force --report "$ZB_TMP/report" remote:s3/latest
    case $point in recover-started | recover-smoke)
        zb_expect_contains "$ZB_LAST_OUTPUT" "restored by the earlier recovery, kept" "$point: what was done is not done again" ;;
    esac
    stack_expect_same snap
    zb_expect_equal "$(zb_docker_state zakpos-redis)/$(zb_docker_state zakpos-api)" "running/running" "$point/$signal: the stack runs"
    zb_expect_equal "$(extra_databases)" "" "$point/$signal: no temporary database is left"
    zb_expect_equal "$(ls state/recover.json 2>/dev/null)" "" "$point/$signal: the journal is gone"
    if [ "$point" = pg-role-created ]; then
        zb_expect_equal "$(python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["resumed"], sorted(r["roles"]["created"]))' <report.json)" \
            "True ['app_admin', 'app_group', 'app_owner', 'app_reader', 'app_replica']" \
            "a role created before the kill counts as the recovery's own"
    fi
done
zb_test_end
