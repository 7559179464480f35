# Offsite copies over SFTP (OpenSSH's sshd on loopback, key login, the
# host key checked against known_hosts): the common remote checks, the
# upload under a hidden .partial name renamed into place, an interrupted
# upload that never looks finished, refused keys and host keys, the server down.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/remote.sh"
zb_test_begin
zb_sshd_start
zb_remote_prepare
dest="$ZB_TMP/sftp dest/host 1" # spaces: %20 in the URL
cat >>zb.conf <<CONF
[remote box]
type = sftp
url = sftp://$ZB_SSH_USER@127.0.0.1:$ZB_SSH_PORT$(printf '%s' "$dest" | sed 's/ /%20/g')
key_file = $ZB_SSH_KEY
known_hosts = $ZB_SSH_KNOWN_HOSTS
retries = 1
retry_delay = 0s
CONF
zb_remote_common_checks box
zb_expect_equal "$(find "$dest" -name '*.zbk' ! -name '.*' | wc -l)" 1 "the folder holds the archive"
zb_expect_equal "$(find "$dest" -name '.*partial' | wc -l)" 0 "and no partial file"
zb_expect_equal "$(stat -c %a "$(find "$dest" -name '*.zbk' | head -1)")" 600 "private to its owner"

# an upload killed midway leaves only the hidden .partial name, which no listing shows
slow=$(zb_slow_archive box)
zb_push_stopped box "$slow" 2 KILL
zb_expect_equal "$(find "$dest" -name ".$(basename "$slow").partial" | wc -l)" 1 "the partial upload is hidden"
[ -e "$dest/$(basename "$slow")" ] && zb_fail "an interrupted upload has the archive's name" || zb_pass
zb_expect_status 0 "remote list" -- "$ZB_BIN" --config zb.conf remote list box
# never as an archive (lines starting with its name); as an unfinished upload
if grep -q "^$(basename "$slow")" <<<"$ZB_LAST_OUTPUT"; then zb_fail "an interrupted upload is listed"; else zb_pass; fi
zb_expect_contains "$ZB_LAST_OUTPUT" "unfinished upload of $(basename "$slow"), begun " "it shows as unfinished"
# SIGINT: the upload stops and removes its partial file
zb_push_stopped box "$slow" 1 INT
zb_expect_equal "$ZB_PUSH_STATUS" 130 "SIGINT: exit 130"
zb_expect_equal "$(find "$dest" -name '.*partial' | wc -l)" 0 "the partial file was removed"
sed -i '/^bandwidth = /d' zb.conf
zb_expect_status 0 "a complete upload after all" -- "$ZB_BIN" --config zb.conf remote push box "$slow"
if cmp -s "$slow" "$dest/$(basename "$slow")"; then zb_pass; else zb_fail "the uploaded file differs"; fi
zb_expect_status 15 "an archive already there is not replaced" -- "$ZB_BIN" --config zb.conf remote push box "$slow"

# refused: a key the server does not know, a host key that differs
ssh-keygen -q -t ed25519 -N '' -f other_key
sed "s|^key_file = .*|key_file = $ZB_TMP/other_key|" zb.conf >wrong-key.conf
zb_expect_status 15 "unknown client key" -- "$ZB_BIN" --config wrong-key.conf --log-format text remote list box
zb_expect_contains "$ZB_LAST_OUTPUT" "Login denied" "the server refused the login"
zb_expect_contains "$ZB_LAST_OUTPUT" "hint: the server refused the key $ZB_TMP/other_key" "names the key"
echo "[127.0.0.1]:$ZB_SSH_PORT $(cut -d' ' -f1,2 other_key.pub)" >other_known_hosts
sed "s|^known_hosts = .*|known_hosts = $ZB_TMP/other_known_hosts|" zb.conf >wrong-host.conf
zb_expect_status 15 "a host key that differs" -- "$ZB_BIN" --config wrong-host.conf --log-format text remote list box
zb_expect_contains "$ZB_LAST_OUTPUT" "hint: the server's host key is not in $ZB_TMP/other_known_hosts" "refused, with a hint"
if [[ "$ZB_LAST_OUTPUT" == *"trying"* ]]; then zb_fail "a host key mismatch was retried"; else zb_pass; fi

zb_remote_down_checks box "$ZB_SSH_PID"
zb_test_end
