# verify --restore restores a database, a Docker volume and a folder from one
# archive into scratch targets, reads them back and compares them with what
# the backup recorded: it passes on a good archive and records it in the
# repository index (shown by list); it fails, naming the table or object,
# when the restored data is changed before the comparison (a test hook), when
# the manifest records a row hash the data does not have or a large-object
# count the database does not have, and never leaves a
# scratch database, volume or folder behind (unless --keep).
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/pg.sh"
. "$ZB_TEST_LIB/docker.sh"
zb_test_begin
cd "$ZB_TMP"
zb_pg_start
zb_docker_start
zb_psql -c "CREATE DATABASE shop"
zb_pg_load_fixture shop
"$ZB_BIN" keygen --out key >/dev/null 2>&1

zb_dapi POST /volumes/create -H 'Content-Type: application/json' -d '{"Name":"zakpos_redis_data"}' >/dev/null
vol=$(zb_volume_dir zakpos_redis_data)
mkdir -p "$vol/appendonlydir" "$vol/empty"
head -c 500000 /dev/urandom >"$vol/appendonlydir/base.rdb"
printf 'REDIS' >"$vol/dump.rdb"
ln "$vol/dump.rdb" "$vol/dump-link.rdb"
ln -s appendonlydir/base.rdb "$vol/latest"
chown 999:1000 "$vol/dump.rdb"
chmod 0640 "$vol/dump.rdb"
# a second volume: its restore runs while the first one's upload is still open
zb_dapi POST /volumes/create -H 'Content-Type: application/json' -d '{"Name":"zakpos_kafka_data"}' >/dev/null
mkdir -p "$(zb_volume_dir zakpos_kafka_data)/orders-0"
seq 1 1000 >"$(zb_volume_dir zakpos_kafka_data)/orders-0/00000000.log"
mkdir -p conf/nginx
printf 'server {}\n' >conf/nginx/default.conf
printf 'API_URL=http://api\n' >conf/.env
ln conf/.env conf/env-link

zb_expect_status 0 "backup of database, volume and folder" -- "$ZB_BIN" -q backup --repo repo --recipient key.pub \
    --pg "$(zb_pg_conninfo shop)" --jobs 2 --volume zakpos_redis_data --volume zakpos_kafka_data --path conf="$ZB_TMP/conf"
archive=$("$ZB_BIN" latest --repo repo)
name=$(basename "$archive")
server=$(zb_pg_conninfo postgres)
scratch_dbs() { zb_psql -At -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'zakpos_backup_verify_%' OR datname LIKE 'zbrestore%'"; }
scratch_volumes() { zb_dapi GET /volumes | python3 -c 'import json,sys; print(sum("_verify_" in v["Name"] for v in json.load(sys.stdin)["Volumes"] or []))'; }

zb_expect_contains "$("$ZB_BIN" list --repo repo | grep "$name")" "never" "list: not yet proven restorable"
zb_expect_status 0 "verify --restore" -- "$ZB_BIN" --log-format text verify --restore --key key "$archive" \
    --pg-target "$server" --jobs 2 --scratch-dir "$ZB_TMP"
zb_expect_contains "$ZB_LAST_OUTPUT" "verified $archive by restore (volume zakpos_kafka_data, 3 entries; volume zakpos_redis_data, 7 entries; pg shop, " "names what it proved"
zb_expect_contains "$ZB_LAST_OUTPUT" "path conf, 5 entries" "every folder entry read back"
zb_expect_equal "$(scratch_dbs)" "0" "no scratch database left"
zb_expect_equal "$(scratch_volumes)" "0" "no scratch volume left"
zb_expect_equal "$(find "$ZB_TMP" -maxdepth 1 -name 'zakpos-backup-verify-*' | wc -l)" "0" "no scratch folder left"
zb_expect_equal "$(zb_dapi GET '/containers/json?all=1')" "[]" "no helper container left"
verified_field() { "$ZB_BIN" list --repo repo --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0].get("verified", {}).get(sys.argv[1]))' "$1"; }
listing=$("$ZB_BIN" list --repo repo)
zb_expect_contains "$listing" "VERIFIED" "list has a verified column"
zb_expect_equal "$(verified_field result)" "pass" "list --json: the restore verification passed"
last_pass=$(verified_field last_pass)
zb_expect_contains "$last_pass" "$(date -u +%Y-%m-%d)T" "list --json: when it passed"
zb_expect_contains "$(echo "$listing" | grep "$name")" "$last_pass" "list: when it was last proven restorable"
zb_expect_contains "$(echo "$listing" | grep "$name")" "volume:zakpos_kafka_data volume:zakpos_redis_data pg:shop path:conf" "list: its sources"

# the report as JSON
zb_expect_status 0 "verify --restore --json" -- "$ZB_BIN" -q verify --restore --json --key key "$archive" --pg-target "$server"
report=$ZB_LAST_OUTPUT
zb_expect_equal "$(echo "$report" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["result"], len(r["parts"]), sorted(p["result"] for p in r["parts"]))')" \
    "pass 4 ['pass', 'pass', 'pass', 'pass']" "the JSON report: four parts passed"
zb_expect_equal "$(echo "$report" | python3 -c 'import json,sys; r=json.load(sys.stdin); s=r["seconds"]; print(all(s[k] >= 0 for k in ("read","restore","verify","total")))')" \
    "True" "the JSON report times each phase"
rows=$(ZB_PG_DB=shop zb_psql -At -c "SELECT sum(n) FROM (SELECT count(*) AS n FROM shop.orders UNION ALL SELECT count(*) FROM shop.order_items) x")
zb_expect_equal "$(echo "$report" | python3 -c 'import json,sys; r=json.load(sys.stdin); print([p for p in r["parts"] if p["kind"]=="pg"][0]["rows"] >= '"$rows"')')" \
    "True" "the rows read back include every order and order item"

# the restored data changed before the comparison: named, exit 14, nothing left
last_pass=$(verified_field last_pass)
zb_expect_status 14 "a changed row is found" -- env ZAKPOS_BACKUP_TEST_HOOK_SQL="UPDATE shop.orders SET payload = '{\"tampered\": true}' WHERE id = (SELECT min(id) FROM shop.orders)" \
    "$ZB_FAULT_BIN" --log-format text verify --restore --key key "$archive" --pg-target "$server"
zb_expect_contains "$ZB_LAST_OUTPUT" "pg shop: table shop.orders: the restored rows differ from the backup's" "names the table"
zb_expect_contains "$ZB_LAST_OUTPUT" "differs from the backup (1 difference)" "counts the differences"
zb_expect_equal "$(scratch_dbs)" "0" "no scratch database left after a failure"
zb_expect_equal "$(scratch_volumes)" "0" "no scratch volume left after a failure"
zb_expect_equal "$(verified_field result)" "fail" "the failure is recorded"
zb_expect_contains "$(verified_field what_differed)" "pg shop: table shop.orders: the restored rows differ" "with what differed"
zb_expect_contains "$("$ZB_BIN" list --repo repo | grep "$name")" "FAILED" "list shows the failure"
zb_expect_equal "$(verified_field last_pass)" "$last_pass" "the earlier pass is kept"

zb_expect_status 14 "a deleted row is found" -- env ZAKPOS_BACKUP_TEST_HOOK_SQL="DELETE FROM shop.order_items WHERE ctid = (SELECT min(ctid) FROM shop.order_items)" \
    "$ZB_FAULT_BIN" --log-format text verify --restore --key key "$archive" --pg-target "$server"
zb_expect_contains "$ZB_LAST_OUTPUT" "table shop.order_items: " "names the table"
zb_expect_contains "$ZB_LAST_OUTPUT" "rows restored, the backup had" "says the counts"

zb_expect_status 14 "a changed schema is found" -- env ZAKPOS_BACKUP_TEST_HOOK_SQL="ALTER TABLE shop.orders ADD COLUMN extra int; DROP INDEX shop.orders_status_open" \
    "$ZB_FAULT_BIN" --log-format text verify --restore --key key "$archive" --pg-target "$server"
zb_expect_contains "$ZB_LAST_OUTPUT" "TABLE shop.orders: differs from the backup's definition" "names the changed table"
zb_expect_contains "$ZB_LAST_OUTPUT" "INDEX shop.orders_status_open" "names the dropped index"

# the archive is intact but its manifest records another row hash
"$ZB_CRAFT" --recipient key.pub --out altered.zbk --rewrite "$archive" key --alter-row-hash shop.orders
zb_expect_status 0 "the altered archive is intact" -- "$ZB_BIN" -q verify --key key altered.zbk
zb_expect_status 14 "a manifest hash that does not match is found" -- "$ZB_BIN" --log-format text verify --restore --key key altered.zbk --pg-target "$server"
zb_expect_contains "$ZB_LAST_OUTPUT" "table shop.orders: the restored rows differ from the backup's (row hash" "names the table"
zb_expect_contains "$ZB_LAST_OUTPUT" "recorded 0123456789ab" "quotes the recorded hash"

# the manifest records one large object more than the database had: only
# the count of restored large objects can find it
"$ZB_CRAFT" --recipient key.pub --out more_blobs.zbk --rewrite "$archive" key --set-summary shop large_objects 3
zb_expect_status 0 "the archive with another count is intact" -- "$ZB_BIN" -q verify --key key more_blobs.zbk
zb_expect_status 14 "a large-object count that does not match is found" -- "$ZB_BIN" --log-format text verify --restore \
    --key key more_blobs.zbk --pg-target "$server"
zb_expect_contains "$ZB_LAST_OUTPUT" "large objects: 2 restored, the backup had 3" "names the counts"

# An archive no trusted writer signed is refused before anything is restored:
# no scratch database appears (read from the server's catalog).
"$ZB_CRAFT" --recipient key.pub --no-sign --out unsigned.zbk --copy "$archive" key
scratch_dbs() { zb_psql -At -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'zakpos_backup_verify_%'"; }
before=$(scratch_dbs)
zb_expect_status 16 "verify --restore refuses an unsigned archive" -- "$ZB_BIN" --log-format text verify --restore --key key unsigned.zbk --pg-target "$server"
zb_expect_contains "$ZB_LAST_OUTPUT" "is not signed" "says why"
zb_expect_status 16 "drill refuses it too" -- "$ZB_BIN" --log-format text drill --key key unsigned.zbk --pg-target "$server"
zb_expect_equal "$(scratch_dbs)" "$before" "no scratch database was created"

# --keep leaves the scratch targets for inspection
zb_expect_status 0 "verify --restore --keep" -- "$ZB_BIN" -q verify --restore --keep --json --key key "$archive" --pg-target "$server"
kept_db=$(echo "$ZB_LAST_OUTPUT" | python3 -c 'import json,sys; print([p["target"] for p in json.load(sys.stdin)["parts"] if p["kind"]=="pg"][0])')
zb_expect_contains "$kept_db" "zakpos_backup_verify_" "the scratch database is named as documented"
zb_expect_equal "$(ZB_PG_DB=$kept_db zb_psql -At -c "SELECT count(*) FROM shop.orders")" \
    "$(ZB_PG_DB=shop zb_psql -At -c "SELECT count(*) FROM shop.orders")" "the kept database holds the rows"
zb_expect_equal "$(scratch_volumes)" "2" "the kept volumes are there"

# usage errors
zb_expect_status 2 "--keep without --restore" -- "$ZB_BIN" verify --keep --key key "$archive"
zb_expect_status 7 "a wrong key" -- "$ZB_BIN" verify --restore --passphrase-file /dev/null "$archive" --pg-target "$server"
zb_test_end
