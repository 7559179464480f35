# Help, usage errors and their exit codes; keygen's safety rules.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
cd "$ZB_TMP"

for c in keygen backup verify list show restore; do
    zb_expect_status 0 "$c --help" -- "$ZB_BIN" "$c" --help && zb_expect_contains "$ZB_LAST_OUTPUT" "usage: zakpos-backup $c" "$c help"
done
zb_expect_status 0 "global help" -- "$ZB_BIN" --help
zb_expect_contains "$ZB_LAST_OUTPUT" "Exit status" "global help lists exit codes"
zb_expect_status 2 "unknown command" -- "$ZB_BIN" frobnicate
zb_expect_contains "$ZB_LAST_OUTPUT" "unknown command 'frobnicate'" "unknown command message"
zb_expect_status 2 "unknown option" -- "$ZB_BIN" backup --bogus
zb_expect_contains "$ZB_LAST_OUTPUT" "'--bogus'" "unknown option is named"
zb_expect_status 2 "backup without protection" -- "$ZB_BIN" backup --repo r --path /etc/hostname
zb_expect_contains "$ZB_LAST_OUTPUT" "--no-encryption" "protection hint"
zb_expect_status 2 "backup without sources" -- "$ZB_BIN" backup --repo r --no-encryption
zb_expect_status 2 "backup with two protections" -- "$ZB_BIN" backup --repo r --no-encryption --passphrase-file x --path /etc/hostname
zb_expect_status 2 "bad zstd level" -- "$ZB_BIN" backup --repo r --no-encryption --zstd-level 99 --path /etc/hostname
zb_expect_status 2 "restore selects nothing" -- "$ZB_BIN" restore some.zbk
# the command table downloads one remote:NAME/ARCHIVE for a command that reads one, before any configuration is read
zb_expect_status 2 "two remote archives" -- "$ZB_BIN" --config /nonexistent/zb.conf verify remote:a/x.zbk remote:a/y.zbk
zb_expect_contains "$ZB_LAST_OUTPUT" "give one remote:NAME/ARCHIVE" "two remote archives: the usage error"
zb_expect_status 13 "backup of a missing folder" -- "$ZB_BIN" backup --repo r --no-encryption --path /nonexistent/dir
zb_expect_equal "$(zb_archives_in r)" "" "no archive after a failed backup"

zb_expect_status 0 "keygen" -- "$ZB_BIN" keygen --out k
zb_expect_equal "$(stat -c %a k)" "600" "secret key mode"
zb_expect_status 9 "keygen refuses to overwrite" -- "$ZB_BIN" keygen --out k
zb_expect_contains "$ZB_LAST_OUTPUT" "refusing to overwrite" "keygen overwrite message"
zb_expect_status 7 "a secret key is not a recipient" -- "$ZB_BIN" backup --repo r --recipient k --path /etc/hostname
zb_expect_contains "$ZB_LAST_OUTPUT" "pass its .pub file" "secret-as-recipient hint"
if grep -q ZBSK1 k.pub; then zb_fail "the public key file holds the secret key"; else zb_pass; fi
zb_test_end
