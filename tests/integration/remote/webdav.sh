# Offsite copies to WebDAV (lighttpd's mod_webdav on loopback, basic auth
# with the password in a file): the common remote checks, PUT to a hidden
# .partial name then MOVE, an interrupted upload that never looks finished,
# a wrong password, the server down; the password never in a log line.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/remote.sh"
zb_test_begin
zb_webdav_start
zb_remote_prepare
cat >>zb.conf <<CONF
[remote nas]
type = webdav
url = http://127.0.0.1:$ZB_DAV_PORT/backups/host-1/
user = zb
password_file = $ZB_DAV_PASSWORD_FILE
retries = 1
retry_delay = 0s
CONF
dest=$ZB_DAV_ROOT/backups/host-1
zb_remote_common_checks nas
zb_expect_equal "$(find "$dest" -name '*.zbk' ! -name '.*' | wc -l)" 1 "the folder holds the archive"
zb_expect_equal "$(find "$dest" -name '.*partial' | wc -l)" 0 "and no partial file"
zb_expect_status 0 "--log-level debug" -- "$ZB_BIN" --log-level debug --config zb.conf remote list nas
zb_expect_no_secret "$ZB_LAST_OUTPUT" "dav-Secret-7c41"

# an upload killed midway never has the archive's name
slow=$(zb_slow_archive nas)
zb_push_stopped nas "$slow" 2 KILL
[ -e "$dest/$(basename "$slow")" ] && zb_fail "an interrupted upload has the archive's name" || zb_pass
zb_expect_status 0 "remote list" -- "$ZB_BIN" --config zb.conf remote list nas
# never as an archive (lines starting with its name); as an unfinished upload
if grep -q "^$(basename "$slow")" <<<"$ZB_LAST_OUTPUT"; then zb_fail "an interrupted upload is listed"; else zb_pass; fi
# a partial file on the server (as a killed upload can leave) is never listed
cp "$slow" "$dest/.$(basename "$slow").partial"
zb_expect_status 0 "remote list" -- "$ZB_BIN" --config zb.conf remote list nas
if grep -q "^$(basename "$slow")" <<<"$ZB_LAST_OUTPUT"; then zb_fail "a .partial file is listed"; else zb_pass; fi
zb_expect_contains "$ZB_LAST_OUTPUT" "unfinished upload of $(basename "$slow"), begun " "it shows as unfinished"
sed -i '/^bandwidth = /d' zb.conf
zb_expect_status 0 "a complete upload after all" -- "$ZB_BIN" --config zb.conf remote push nas "$slow"
if cmp -s "$slow" "$dest/$(basename "$slow")"; then zb_pass; else zb_fail "the uploaded file differs"; fi
zb_expect_status 15 "an archive already there is not replaced" -- "$ZB_BIN" --config zb.conf --log-format text remote push nas "$slow"
zb_expect_contains "$ZB_LAST_OUTPUT" "HTTP 412" "the server refused to overwrite"
zb_expect_equal "$(find "$dest" -name ".$(basename "$slow").partial" -newer zb.conf | wc -l)" 0 "the refused upload's partial file was removed"

# a wrong password
printf 'wrong\n' >wrong.password
sed "s|^password_file = .*|password_file = $ZB_TMP/wrong.password|" zb.conf >wrong.conf
zb_expect_status 15 "a wrong password" -- "$ZB_BIN" --config wrong.conf --log-format text remote list nas
zb_expect_contains "$ZB_LAST_OUTPUT" "HTTP 401" "the server refused it"
zb_expect_contains "$ZB_LAST_OUTPUT" "hint: the server refused user zb with the password in $ZB_TMP/wrong.password" "with a hint"

# run JOB: a backup job copies to every configured remote, silently
printf '[job nightly]\nschedule = 0 2 * * *\naction = backup\nprune = yes\n' >>zb.conf
sleep 1
zb_expect_status 0 "run nightly" -- "$ZB_BIN" --config zb.conf run nightly
zb_expect_equal "$ZB_LAST_OUTPUT" "" "silent on success"
zb_expect_status 0 "remote list" -- "$ZB_BIN" --config zb.conf remote list nas
zb_expect_contains "$ZB_LAST_OUTPUT" "$(basename "$("$ZB_BIN" latest --repo repo)")" "the job's archive is on the remote"

# a drill of the newest archive on the remote: the download is its first phase
mkdir -p drill-tmp
zb_expect_status 0 "drill remote:nas/latest" -- env TMPDIR="$ZB_TMP/drill-tmp" "$ZB_BIN" -q --config zb.conf drill --key key --json remote:nas/latest
zb_expect_equal "$(echo "$ZB_LAST_OUTPUT" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["result"], r["fetched_from"].startswith("remote:nas/zakpos-"), r["seconds"]["fetch"] > 0, r["rto_seconds"] >= r["seconds"]["fetch"])')" \
    "pass True True True" "the drill passed, says where the archive came from and counts the fetch in the recovery time"
zb_expect_equal "$(find drill-tmp -mindepth 1 | wc -l)" "0" "the download is gone after the drill"

zb_remote_down_checks nas "$ZB_DAV_PID"
zb_test_end
