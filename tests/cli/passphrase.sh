# Passphrase protection from a file, from ZAKPOS_BACKUP_PASSPHRASE and from
# ZAKPOS_BACKUP_PASSPHRASE_FILE; wrong passphrases and wrong keys fail clearly.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
cd "$ZB_TMP"
mkdir src && echo data >src/file
printf 'correct horse battery\n' >pass
printf 'wrong\n' >wrong

a=$("$ZB_BIN" backup --repo repo --passphrase-file pass --kdf-memory 8M --path src 2>/dev/null)
zb_expect_status 0 "verify with passphrase file" -- "$ZB_BIN" verify --passphrase-file pass "$a"
zb_expect_status 0 "verify with passphrase in the environment" -- env ZAKPOS_BACKUP_PASSPHRASE='correct horse battery' "$ZB_BIN" verify "$a"
zb_expect_status 0 "verify with passphrase file in the environment" -- env ZAKPOS_BACKUP_PASSPHRASE_FILE="$ZB_TMP/pass" "$ZB_BIN" verify "$a"
zb_expect_status 7 "wrong passphrase" -- "$ZB_BIN" verify --passphrase-file wrong "$a"
zb_expect_contains "$ZB_LAST_OUTPUT" "wrong passphrase" "wrong passphrase message"
zb_expect_status 7 "no key at all" -- "$ZB_BIN" verify "$a"
zb_expect_contains "$ZB_LAST_OUTPUT" "no key was given" "missing key message"
"$ZB_BIN" keygen --out key >/dev/null 2>&1
zb_expect_status 7 "a key for a passphrase archive" -- "$ZB_BIN" verify --key key "$a"

# The passphrase from the environment protects a backup too, and never shows up in the archive.
b=$(ZAKPOS_BACKUP_PASSPHRASE='env secret words' "$ZB_BIN" backup --repo repo --name env --kdf-memory 8M --path src 2>log)
zb_expect_status 0 "env-protected archive opens with that passphrase" -- env ZAKPOS_BACKUP_PASSPHRASE='env secret words' "$ZB_BIN" verify "$b"
if grep -qa 'env secret words' "$b" log; then zb_fail "the passphrase appears in the archive or the log"; else zb_pass; fi
zb_expect_status 0 "show names the passphrase slot" -- "$ZB_BIN" show "$b"
zb_expect_contains "$ZB_LAST_OUTPUT" "passphrase (argon2id" "passphrase slot shown"

# Two recipients: either secret key opens the archive. It is signed by the
# first recipient's signing key, which key2 was not made with: key2's holder
# trusts that writer explicitly.
"$ZB_BIN" keygen --out key2 >/dev/null 2>&1
c=$("$ZB_BIN" backup --repo repo --name two --recipient key.pub --recipient key2.pub --path src 2>/dev/null)
zb_expect_status 0 "first recipient opens it" -- "$ZB_BIN" verify --key key "$c"
zb_expect_status 16 "second recipient: the writer is not key2's signer" -- "$ZB_BIN" verify --key key2 "$c"
zb_expect_status 0 "second recipient opens it trusting the writer" -- "$ZB_BIN" verify --key key2 --trust key.signer "$c"
"$ZB_BIN" keygen --out key3 >/dev/null 2>&1
zb_expect_status 7 "a third key does not" -- "$ZB_BIN" verify --key key3 "$c"
zb_expect_contains "$ZB_LAST_OUTPUT" "was not encrypted for key" "wrong key message"
zb_test_end
