# config check (and every command, which loads the same way) refuses what
# would fail later, with exit 3 and the file and line.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
cd "$ZB_TMP"
"$ZB_BIN" keygen --out key >/dev/null 2>&1
echo secret >pg_password
mkdir src
good() {
    printf '[repository]\npath = %s/repo\nrecipients = %s/key.pub\n' "$ZB_TMP" "$ZB_TMP"
}
good >ok.conf
zb_expect_status 0 "a valid file" -- "$ZB_BIN" config check --config ok.conf

# expect_refused NAME EXTRA-TEXT EXPECTED-MESSAGE
expect_refused() {
    { good; printf '%b' "$2"; } >"$1.conf"
    zb_expect_status 3 "$1" -- "$ZB_BIN" --log-format text config check --config "$1.conf"
    zb_expect_contains "$ZB_LAST_OUTPUT" "$1.conf:$3" "$1: names the file and line"
}
expect_refused duplicate-section '[repository]\nname = x\n' "4: [repository] appears twice (first at line 1)"
expect_refused duplicate-key '[job a]\nschedule = 0 2 * * *\nschedule = 0 3 * * *\n' "6: [job a] schedule: given twice (first at line 5)"
expect_refused duplicate-job '[job a]\nschedule = 0 2 * * *\n[job a]\naction = prune\n' "6: [job a] appears twice (first at line 4)"
expect_refused never-fires '[job a]\nschedule = 0 0 31 2 *\n' "5: [job a] schedule: cron expression '0 0 31 2 *' never fires"
expect_refused missing-password '[postgres]\npassword_file = /nonexistent/pg_password\n' "5: [postgres] password_file: cannot read /nonexistent/pg_password"
expect_refused relative-metrics '[daemon]\nmetrics_file = metrics.prom\n' "5: [daemon] metrics_file: 'metrics.prom' is a relative path"
expect_refused relative-password "[postgres]\npassword_file = pg_password\n" "5: [postgres] password_file: 'pg_password' is a relative path"
expect_refused webhook-scheme '[daemon]\nwebhook_url = ftp://hooks.example/TOKEN-123\n' "5: [daemon] webhook_url: takes an http:// or https:// URL, not a ftp one"
zb_expect_not_contains "$ZB_LAST_OUTPUT" "TOKEN-123" "the webhook URL is not shown"

# a recipient key file that is gone: a configuration error at its line, not "not found"
sed "s|^recipients = .*|recipients = $ZB_TMP/key.pub $ZB_TMP/gone.pub|" ok.conf >recipient.conf
zb_expect_status 3 "a missing recipient" -- "$ZB_BIN" --log-format text config check --config recipient.conf
zb_expect_contains "$ZB_LAST_OUTPUT" "recipient.conf:3: [repository] recipients: cannot read $ZB_TMP/gone.pub" "names the file, line and key file"
echo "not a key" >bad.pub
sed "s|^recipients = .*|recipients = $ZB_TMP/bad.pub|" ok.conf >badkey.conf
zb_expect_status 3 "a recipient that is no public key" -- "$ZB_BIN" --log-format text config check --config badkey.conf
zb_expect_contains "$ZB_LAST_OUTPUT" "badkey.conf:3: [repository] recipients: " "names the file and line"
zb_expect_status 3 "run refuses it too" -- "$ZB_BIN" --log-format text --config recipient.conf run nightly

# the signing key a backup would use: the default beside the first recipient, or repository.signing_key_file
chmod 644 key.sign
zb_expect_status 3 "a signing key others can read" -- "$ZB_BIN" --log-format text config check --config ok.conf
zb_expect_contains "$ZB_LAST_OUTPUT" "ok.conf:3: [repository] recipients: the signing key for the first recipient: cannot read the signing key: secret key file $ZB_TMP/key.sign is accessible by others (mode 0644)" "names the file, line and key file"
zb_expect_contains "$ZB_LAST_OUTPUT" "hint: chmod 600 $ZB_TMP/key.sign" "with the chmod hint"
chmod 600 key.sign
mv key.sign moved.sign
zb_expect_status 3 "no signing key beside the recipient" -- "$ZB_BIN" --log-format text config check --config ok.conf
zb_expect_contains "$ZB_LAST_OUTPUT" "ok.conf:3: [repository] recipients: the signing key for the first recipient: " "names the line"
zb_expect_contains "$ZB_LAST_OUTPUT" "no signing key was found for $ZB_TMP/key.pub" "and the recipient"
cp key.pub notsign.pub && chmod 600 notsign.pub
{ good; printf 'signing_key_file = %s/notsign.pub\n' "$ZB_TMP"; } >notsign.conf
zb_expect_status 3 "a signing_key_file that is no signing key" -- "$ZB_BIN" --log-format text config check --config notsign.conf
zb_expect_contains "$ZB_LAST_OUTPUT" "notsign.conf:4: [repository] signing_key_file: $ZB_TMP/notsign.pub is not a zakpos-backup signing key file" "names the file, line and key file"
{ good; printf 'signing_key_file = %s/moved.sign\n' "$ZB_TMP"; } >moved.conf
zb_expect_status 0 "a signing_key_file elsewhere" -- "$ZB_BIN" config check --config moved.conf
chmod 640 moved.sign
zb_expect_status 3 "group may read it" -- "$ZB_BIN" --log-format text config check --config moved.conf
zb_expect_contains "$ZB_LAST_OUTPUT" "moved.conf:4: [repository] signing_key_file: cannot read the signing key: secret key file $ZB_TMP/moved.sign is accessible by others (mode 0640)" "names the file, line and mode"
zb_expect_status 7 "backup refuses it too" -- "$ZB_BIN" backup --repo repo --recipient key.pub --signing-key moved.sign --path "data=$ZB_TMP/src"
zb_test_end
