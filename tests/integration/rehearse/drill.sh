# drill: the newest archive of the configured repository (a POS database and
# a Redis-like volume in use by a running container) is restored into
# scratch targets, verified, and the configuration's smoke checks run in the
# restored database; the report comes out in Markdown and JSON with the
# archive's age (RPO), the time of each phase (RTO) and every check. Checks
# that fail (a wrong expectation, a query error) fail the drill, exit 14,
# and are named in both reports, and so does an attribute the catalog
# fingerprint finds changed; nothing is left behind either way.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/pg.sh"
. "$ZB_TEST_LIB/docker.sh"
zb_test_begin
cd "$ZB_TMP"
zb_pg_start
zb_docker_start
zb_docker_image
zb_psql -c "CREATE DATABASE zakpos_db"
zb_pg_load_fixture zakpos_db
ZB_PG_DB=zakpos_db zb_psql -c "CREATE TABLE public.tills (id int); INSERT INTO public.tills VALUES (1), (2)"
"$ZB_BIN" keygen --out key >/dev/null 2>&1
zb_dapi POST /volumes/create -H 'Content-Type: application/json' -d '{"Name":"zakpos_redis_data"}' >/dev/null
head -c 200000 /dev/urandom >"$(zb_volume_dir zakpos_redis_data)/dump.rdb"
zb_docker_run zakpos-redis zakpos_redis_data '{}'
zb_expect_equal "$(zb_docker_state zakpos-redis)" "running" "a service uses the volume"
mkdir -p conf && echo 'server {}' >conf/nginx.conf
orders=$(ZB_PG_DB=zakpos_db zb_psql -At -c "SELECT count(*) FROM shop.orders")

write_config() { # $1: the expected order count of the second check
    cat <<CONF
[repository]
path = $ZB_TMP/repo
recipients = $ZB_TMP/key.pub
key_file = $ZB_TMP/key
[postgres]
conninfo = $(zb_pg_conninfo zakpos_db)
[docker]
volumes = zakpos_redis_data
[paths]
conf = $ZB_TMP/conf
[daemon]
state_dir = $ZB_TMP/state
[check orders exist]
sql = SELECT count(*) > 0 FROM shop.orders
expect = t
[check tills]
sql = SELECT count(*) FROM tills
expect = 2
[check every order]
sql = SELECT count(*), 'orders' FROM shop.orders
expect = $1|orders
CONF
}
write_config "$orders" >zb.conf
zb_expect_status 0 "the nightly backup" -- "$ZB_BIN" --config zb.conf run nightly
archive=$("$ZB_BIN" latest --repo repo)

zb_expect_status 0 "drill latest" -- env TMPDIR="$ZB_TMP" "$ZB_BIN" --config zb.conf drill latest --report "$ZB_TMP/out/drill"
zb_expect_equal "$(ls out | tr '\n' ' ')" "drill.json drill.md " "both report formats"
json=out/drill.json
field() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$json" "$1"; }
zb_expect_equal "$(field 'r["result"]')" "pass" "the drill passed"
zb_expect_equal "$(field 'r["archive"]')" "$ZB_TMP/$archive" "the newest archive was drilled"
zb_expect_equal "$(field 'sorted((p["kind"], p["name"], p["result"]) for p in r["parts"])')" \
    "[('path', 'conf', 'pass'), ('pg', 'zakpos_db', 'pass'), ('volume', 'zakpos_redis_data', 'pass')]" "every part restored and verified"
zb_expect_equal "$(field '[(c["name"], c["result"], c["got"]) for c in r["checks"]]')" \
    "[('orders exist', 'pass', 't'), ('tills', 'pass', '2'), ('every order', 'pass', '$orders|orders')]" "the smoke checks ran (with the database's own search path) and passed"
zb_expect_equal "$(field '0 <= r["archive_age_seconds"] < 600')" "True" "the archive's age at drill time (RPO)"
zb_expect_equal "$(field 'abs(r["rto_seconds"] - (r["seconds"]["fetch"] + r["seconds"]["read"] + r["seconds"]["restore"])) < 0.01 and r["rto_seconds"] > 0')" \
    "True" "the recovery time is fetch + read + restore"
zb_expect_equal "$(field 'all(p["restore_seconds"] > 0 and p["verify_seconds"] > 0 and p["bytes"] > 0 for p in r["parts"])')" \
    "True" "each part timed, with its size"
md=$(cat out/drill.md)
zb_expect_contains "$md" "# Disaster-recovery drill: PASSED" "the Markdown report's verdict"
zb_expect_contains "$md" "Recovery point (archive age at drill time)" "the Markdown report gives the RPO"
zb_expect_contains "$md" "| restore (all parts) |" "the Markdown report times each phase"
zb_expect_contains "$md" "| every order | SELECT count(*), 'orders' FROM shop.orders | $orders\\|orders | $orders\\|orders | pass |" \
    "the Markdown report lists each check (cells escaped)"
zb_expect_equal "$(zb_psql -At -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'zakpos_backup_verify_%'")" "0" "no scratch database left"
zb_expect_equal "$(zb_dapi GET /volumes | python3 -c 'import json,sys; print(sorted(v["Name"] for v in json.load(sys.stdin)["Volumes"]))')" \
    "['zakpos_redis_data']" "no scratch volume left"
zb_expect_equal "$(zb_docker_state zakpos-redis)" "running" "the live service was not touched"
zb_expect_equal "$("$ZB_BIN" list --repo repo --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["verified"]["how"])')" \
    "drill" "the drill is recorded in the repository index"

# a check whose expectation is wrong, one whose query fails
write_config "$((orders + 1))" >bad.conf
printf '[check broken]\nsql = SELECT no_such_column FROM shop.orders\nexpect = 1\n' >>bad.conf
zb_expect_status 14 "a drill whose smoke checks fail" -- env TMPDIR="$ZB_TMP" "$ZB_BIN" --config bad.conf --log-format text drill "$archive" --report "$ZB_TMP/out/bad.md"
zb_expect_contains "$ZB_LAST_OUTPUT" "2 of 4 smoke checks failed (first: every order)" "names the failing checks"
json=out/bad.json
zb_expect_equal "$(field 'r["result"]')" "fail" "the JSON report says it failed"
zb_expect_equal "$(field '[(c["name"], c["result"]) for c in r["checks"]]')" \
    "[('orders exist', 'pass'), ('tills', 'pass'), ('every order', 'fail'), ('broken', 'fail')]" "each check's result"
zb_expect_contains "$(field 'r["checks"][3]["error"]')" 'column "no_such_column" does not exist' "the server's message for a broken query"
zb_expect_contains "$(cat out/bad.md)" "# Disaster-recovery drill: FAILED" "the Markdown report says it failed"
zb_expect_equal "$(zb_psql -At -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'zakpos_backup_verify_%'")" "0" "no scratch database left after a failed drill"

# the catalog fingerprint in a drill: an attribute changed in the restored
# database (the test build's hook, run before the comparison) is named
zb_expect_status 14 "a drill of a restore that differs" -- env TMPDIR="$ZB_TMP" \
    ZAKPOS_BACKUP_TEST_HOOK_SQL="ALTER TABLE shop.orders ALTER id SET STATISTICS 55" "$ZB_FAULT_BIN" --config zb.conf \
    --log-format text drill "$archive" --report "$ZB_TMP/out/differs.md"
zb_expect_contains "$ZB_LAST_OUTPUT" "the restored data differs from the backup" "the drill fails on the difference"
zb_expect_contains "$(cat out/differs.md)" "column shop.orders.id: statistics: archive '-1', restored '55'" \
    "the drill's report names the changed attribute"
zb_expect_equal "$(zb_psql -At -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'zakpos_backup_verify_%'")" "0" \
    "no scratch database left after a drill that found a difference"

# the JSON report on stdout
zb_expect_status 0 "drill --json" -- env TMPDIR="$ZB_TMP" "$ZB_BIN" -q --config zb.conf drill --json
zb_expect_equal "$(echo "$ZB_LAST_OUTPUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"])')" "pass" "JSON on stdout"
zb_expect_status 2 "--json with --report" -- "$ZB_BIN" --config zb.conf drill --json --report x
zb_test_end
