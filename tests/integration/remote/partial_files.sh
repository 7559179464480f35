# SFTP and WebDAV uploads go through a hidden .NAME.partial file; one that a
# killed run left is listed by `remote list` with when it was last written,
# and `remote sync` (as every backup) removes those older than
# unfinished_max_age, leaving younger ones (another host may still be
# uploading) and files that are no archive's partial upload.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/remote.sh"
zb_test_begin
zb_sshd_start
zb_webdav_start
zb_remote_prepare
sftp_dest="$ZB_TMP/sftp dest"
dav_dest=$ZB_DAV_ROOT/backups/host-1
cat >>zb.conf <<CONF
[remote box]
type = sftp
url = sftp://$ZB_SSH_USER@127.0.0.1:$ZB_SSH_PORT$(printf '%s' "$sftp_dest" | sed 's/ /%20/g')
key_file = $ZB_SSH_KEY
known_hosts = $ZB_SSH_KNOWN_HOSTS
retries = 0
unfinished_max_age = 1d
[remote nas]
type = webdav
url = http://127.0.0.1:$ZB_DAV_PORT/backups/host-1/
user = zb
password_file = $ZB_DAV_PASSWORD_FILE
retries = 0
unfinished_max_age = 1d
CONF
mkdir -p repo
for remote in box nas; do
    dest=$sftp_dest
    [ "$remote" = nas ] && dest=$dav_dest
    mkdir -p "$dest"
    head -c 1000 /dev/urandom >"$dest/.zakpos-20261120T020000Z.zbk.partial"
    touch -d '3 days ago' "$dest/.zakpos-20261120T020000Z.zbk.partial"
    head -c 1000 /dev/urandom >"$dest/.zakpos-20261207T020000Z.zbk.partial"
    echo other >"$dest/.notes.partial"
    touch -d '3 days ago' "$dest/.notes.partial"
    zb_expect_status 0 "$remote: remote list --json" -- "$ZB_BIN" --config zb.conf remote list "$remote" --json
    zb_expect_equal "$(echo "$ZB_LAST_OUTPUT" | python3 -c '
import json, sys, time, calendar
d = json.load(sys.stdin)
ages = {u["name"]: (time.time() - calendar.timegm(time.strptime(u["started"], "%Y-%m-%dT%H:%M:%SZ"))) // 86400 for u in d["unfinished"]}
print(sorted(ages.items()))')" "[('zakpos-20261120T020000Z.zbk', 3.0), ('zakpos-20261207T020000Z.zbk', 0.0)]" \
        "$remote: both partial uploads, with their age in days"
    zb_expect_status 0 "$remote: remote sync" -- "$ZB_BIN" --config zb.conf remote sync "$remote"
    zb_expect_contains "$ZB_LAST_OUTPUT" "aborted      zakpos-20261120T020000Z.zbk  unfinished upload begun 72h" "$remote: says what it removed"
    zb_expect_equal "$(cd "$dest" && ls -A | sort | tr '\n' ' ')" ".notes.partial .zakpos-20261207T020000Z.zbk.partial " \
        "$remote: only the old partial upload is gone"
done
zb_test_end
