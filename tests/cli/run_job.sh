# `run JOB` for cron: a job from the config runs once, silent on success,
# prunes when the job says so, updates the metrics textfile; a failure is a
# clear message, the failure's exit status and a failure in the metrics.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
cd "$ZB_TMP"
"$ZB_BIN" keygen --out key >/dev/null 2>&1
mkdir -p src/config
echo "appendonly yes" >src/config/redis.conf
{
    cat <<CONF
[repository]
path = $ZB_TMP/repo
recipients = $ZB_TMP/key.pub
keep_last = 2
keep_daily = 0
keep_weekly = 0
keep_monthly = 0
CONF
    zb_config_paths_only
    cat <<CONF
metrics_file = $ZB_TMP/metrics.prom
[job nightly]
schedule = 0 2 * * *
action = backup
prune = yes
CONF
} >zb.conf
for i in 1 2 3; do
    zb_expect_status 0 "run nightly ($i)" -- "$ZB_BIN" --config zb.conf run nightly
    zb_expect_equal "$ZB_LAST_OUTPUT" "" "silent on success ($i)"
done
zb_expect_equal "$(zb_archives_in repo | wc -l)" "2" "pruned to keep_last = 2"
metrics=$(cat metrics.prom)
zb_expect_contains "$metrics" 'zakpos_backup_last_run_success{job="nightly"} 1' "success in the metrics"
zb_expect_contains "$metrics" 'zakpos_backup_failures_total{job="nightly"} 0' "no failure counted"
zb_expect_contains "$metrics" '# TYPE zakpos_backup_last_success_timestamp_seconds gauge' "textfile collector format"
bytes=$(stat -c %s "$("$ZB_BIN" latest --repo repo)")
zb_expect_contains "$metrics" "zakpos_backup_last_archive_bytes{job=\"nightly\"} $bytes" "the archive's size"

# a verify job reads the newest archive with the repository's secret key
{
    cat zb.conf
    printf '[job check]\nschedule = 30 4 * * 0\naction = verify\n'
} >zb-verify.conf
zb_expect_status 3 "verify without a key" -- "$ZB_BIN" --config zb-verify.conf --log-format text run check
zb_expect_contains "$ZB_LAST_OUTPUT" "needs repository.key_file" "says what is missing"
sed -i "s|^keep_monthly = 0|&\nkey_file = $ZB_TMP/key|" zb-verify.conf
zb_expect_status 0 "verify with the key" -- "$ZB_BIN" --config zb-verify.conf run check
zb_expect_equal "$ZB_LAST_OUTPUT" "" "silent on success"
# a verify-restore job restores the newest archive into scratch targets and compares
printf '[job weekly]\nschedule = 0 5 * * 0\naction = verify-restore\n' >>zb-verify.conf
zb_expect_status 0 "a verify-restore job" -- env TMPDIR="$ZB_TMP" "$ZB_BIN" --config zb-verify.conf run weekly
zb_expect_equal "$ZB_LAST_OUTPUT" "" "silent on success"
latest=$("$ZB_BIN" latest --repo repo)
zb_expect_equal "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["archives"][sys.argv[2]]["verified"]["result"])' \
    repo/.zakpos-backup-index.json "$(basename "$latest")")" "pass" "the proof is recorded in the repository index"
zb_expect_equal "$(find "$ZB_TMP" -maxdepth 1 -name 'zakpos-backup-verify-*' | wc -l)" "0" "no scratch folder left"
printf 'X' | dd of="$latest" bs=1 seek=3000 conv=notrunc status=none
zb_expect_status 6 "verify catches a damaged newest archive" -- "$ZB_BIN" --config zb-verify.conf --log-format text run check
zb_expect_contains "$ZB_LAST_OUTPUT" "zakpos-backup: error: job check: " "names the job"
rm -f "$latest" # the next runs start from an intact repository

zb_expect_status 0 "--verbose says what it did" -- "$ZB_BIN" --config zb.conf --log-format text run nightly --verbose
zb_expect_contains "$ZB_LAST_OUTPUT" "job nightly done" "a summary line"

# a webhook receiver on loopback: refuses the first delivery (500), records the bodies
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >hook.py <<'PY'
import http.server, sys
count = 0
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        count += 1
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(sys.argv[2], "ab") as f:
            f.write(body + b"\n")
        self.send_response(500 if count == 1 else 200)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Hook).serve_forever()
PY
python3 hook.py "$port" hooks.txt &
zb_on_exit "kill $!"
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
sed -i "s|^metrics_file = .*|&\nwebhook_url = http://127.0.0.1:$port/hook/SECRET-TOKEN-42|" zb.conf

rm -rf src
zb_expect_status 13 "a source that is gone" -- "$ZB_BIN" --config zb.conf --log-format text run nightly
zb_expect_equal "$(echo "$ZB_LAST_OUTPUT" | grep -c "^zakpos-backup: error: job nightly: path source data: cannot resolve")" "1" "one error line naming the job and the source"
zb_expect_contains "$ZB_LAST_OUTPUT" "$ZB_TMP/src" "and the missing folder"
zb_expect_contains "$(cat metrics.prom)" 'zakpos_backup_last_run_success{job="nightly"} 0' "failure in the metrics"
zb_expect_contains "$(cat metrics.prom)" 'zakpos_backup_failures_total{job="nightly"} 1' "failure counted"
zb_expect_contains "$ZB_LAST_OUTPUT" "the webhook at http://127.0.0.1:$port answered HTTP 500; trying again" "a refused delivery is retried"
if [[ "$ZB_LAST_OUTPUT" == *SECRET-TOKEN* ]]; then zb_fail "the webhook URL's token was logged"; else zb_pass; fi
zb_expect_equal "$(wc -l <hooks.txt)" "2" "delivered on the second try"
hook=$(tail -1 hooks.txt)
zb_expect_contains "$hook" '"status":"failure"' "the webhook says it failed"
zb_expect_contains "$hook" '"job":"nightly"' "names the job"
zb_expect_contains "$hook" '"exit_status":13' "carries the exit status"
zb_expect_contains "$hook" "cannot resolve $ZB_TMP/src" "and the error"

zb_expect_status 3 "an unknown job" -- "$ZB_BIN" --config zb.conf --log-format text run weekly
zb_expect_contains "$ZB_LAST_OUTPUT" "hint: the jobs are: nightly" "lists the jobs"
zb_test_end
