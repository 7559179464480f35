# Offsite gaps closed: `remote sync NAME` and every backup run send what the
# remote's retention keeps but the remote lacks (against the S3 test server),
# the metrics say how many a remote still lacks, and unfinished multipart
# uploads older than unfinished_max_age are listed and aborted (against a
# scripted peer, since the S3 test server answers those two calls with errors).
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/remote.sh"
zb_test_begin
zb_s3_start
zb_remote_prepare
cat >>zb.conf <<CONF
metrics_file = $ZB_TMP/metrics.prom
[job nightly]
schedule = 0 2 * * *
action = backup
[remote offsite]
type = s3
endpoint = http://127.0.0.1:$ZB_S3_PORT
bucket = zb
prefix = host-1
path_style = yes
retries = 0
keep_last = 3
CONF
objects() { find "$ZB_S3_DATA/zb/host-1" -name '*._S3rver_object' 2>/dev/null | sed 's|.*/||; s|\._S3rver_object$||' | sort; }
for _ in 1 2 3 4; do zb_backup_to --no-remote >/dev/null 2>&1; done
# newest last, by modification time: the order they were made in
newest() { (cd repo && ls -tr *.zbk | tail -"$1" | sort); }
local_archives=$(cd repo && ls -tr *.zbk)
zb_expect_equal "$(objects | wc -l)" "0" "nothing on the remote yet"
zb_expect_status 0 "remote sync" -- "$ZB_BIN" --config zb.conf remote sync offsite
zb_expect_equal "$(objects)" "$(newest 3)" "the three its retention keeps were sent, not the oldest"
zb_expect_equal "$(echo "$ZB_LAST_OUTPUT" | grep -c '^sent ')" "3" "one line per archive sent"

# an archive the remote lost is sent again by the next backup run
lost=$(echo "$local_archives" | tail -2 | head -1)
"$ZB_BIN" --config zb.conf remote delete offsite "$lost"
zb_expect_status 0 "run nightly" -- "$ZB_BIN" --config zb.conf run nightly
zb_expect_equal "$(objects)" "$(newest 3)" "the lost archive is back, beside the new one"
zb_expect_contains "$(objects)" "$lost" "sent again"
zb_expect_contains "$(cat metrics.prom)" 'zakpos_backup_remote_pending_archives{remote="offsite"} 0' "the remote lacks nothing"

# the remote unreachable: the run fails and the gap shows in the metrics
kill "$ZB_S3_PID"
wait "$ZB_S3_PID" 2>/dev/null
zb_expect_status 15 "run nightly, remote down" -- "$ZB_BIN" --config zb.conf run nightly
zb_expect_contains "$(cat metrics.prom)" 'zakpos_backup_remote_pending_archives{remote="offsite"} 1' "one archive pending"
command -v promtool >/dev/null && zb_expect_status 0 "promtool check metrics" -- sh -c 'promtool check metrics <metrics.prom'

# unfinished multipart uploads, on the scripted peer
port=$(zb_free_port)
old=$(date -u -d '2 days ago' +%Y-%m-%dT%H:%M:%S.000Z)
new=$(date -u -d '10 minutes ago' +%Y-%m-%dT%H:%M:%S.000Z)
cat >uploads.json <<JSON
[{"key": "host-1/zakpos-20261124T020000Z.zbk", "id": "old-upload-1", "initiated": "$old"},
 {"key": "host-1/zakpos-20261207T020000Z.zbk", "id": "new-upload-2", "initiated": "$new"},
 {"key": "host-2/zakpos-20261120T020000Z.zbk", "id": "other-host-3", "initiated": "$old"}]
JSON
zb_start_server "scripted S3 peer" "$port" peer.log python3 "$ZB_SOURCE_DIR/tests/integration/remote/multipart_server.py" \
    "$port" uploads.json aborts.log
mkdir empty-repo
{
    printf '[repository]\npath = %s/empty-repo\nrecipients = %s/key.pub\n' "$ZB_TMP" "$ZB_TMP"
    zb_config_paths_only
    printf '[remote peer]\ntype = s3\nendpoint = http://127.0.0.1:%s\nbucket = zb\nprefix = host-1\npath_style = yes\n' "$port"
    printf 'retries = 0\nunfinished_max_age = 1d\n'
} >peer.conf
zb_expect_status 0 "remote list --json" -- "$ZB_BIN" --config peer.conf remote list peer --json
zb_expect_equal "$(echo "$ZB_LAST_OUTPUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["archives"]), sorted((u["name"], u["upload_id"]) for u in d["unfinished"]))')" \
    "0 [('zakpos-20261124T020000Z.zbk', 'old-upload-1'), ('zakpos-20261207T020000Z.zbk', 'new-upload-2')]" \
    "both unfinished uploads under the prefix, none of another host's prefix"
zb_expect_status 0 "remote sync" -- "$ZB_BIN" --config peer.conf remote sync peer
zb_expect_contains "$ZB_LAST_OUTPUT" "aborted      zakpos-20261124T020000Z.zbk  unfinished upload begun" "says what it aborted"
zb_expect_equal "$(cat aborts.log)" "abort host-1/zakpos-20261124T020000Z.zbk old-upload-1" \
    "only the upload older than unfinished_max_age was aborted (a younger one may still be going)"
zb_expect_status 0 "remote list" -- "$ZB_BIN" --config peer.conf remote list peer
zb_expect_contains "$ZB_LAST_OUTPUT" "unfinished upload of zakpos-20261207T020000Z.zbk, begun " "the young one is still listed"
zb_expect_not_contains "$ZB_LAST_OUTPUT" "zakpos-20261124T020000Z.zbk" "the old one is gone"
zb_test_end
