# Writer identity and no downgrade: with a key, only archives signed by a
# trusted writer are read (exit 16, naming the signer); an unencrypted
# archive copied over an encrypted one is refused; format-1 archives and key
# files are upgraded. Crafted archives come from zb-craft-archive, as an
# attacker with write access to the repository (and no secret) makes them.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
cd "$ZB_TMP"
mkdir src && echo "the real data" >src/data
mkdir evil && echo "written by an attacker" >evil/data
"$ZB_BIN" keygen --out key >/dev/null 2>&1
echo "a long passphrase" >pass
a=$("$ZB_BIN" backup --repo repo --recipient key.pub --path "data=$ZB_TMP/src" 2>/dev/null)
[ -f "$a" ] || zb_fail "no archive written"
zb_expect_status 0 "the host's own archive verifies with its key" -- "$ZB_BIN" verify --key key "$a"
zb_expect_status 0 "show names the signer" -- "$ZB_BIN" show "$a"
signer=$(sed -n 's/^# zakpos-backup signer \(zbs1:[0-9a-f]*\).*/\1/p' key.signer)
zb_expect_contains "$ZB_LAST_OUTPUT" "signed by:   $signer" "show's signer line"
# What the attacker has: an unencrypted archive of its own content.
plain=$("$ZB_BIN" backup --repo attrepo --no-encryption --path "data=$ZB_TMP/evil" 2>/dev/null)

# An empty restore target stays empty: nothing of a refused archive is written.
target_untouched() {
    if [ -n "$(find "$1" -mindepth 1 2>/dev/null | head -1)" ]; then
        zb_fail "$2: the refused archive wrote into the target"
    else
        zb_pass
    fi
}

# Finding 1: an unencrypted archive (format 1, as earlier versions read it)
# copied over the encrypted one.
"$ZB_CRAFT" --no-encryption --format 1 --out swap.zbk --copy "$plain" - || zb_fail "cannot craft the swap"
cp swap.zbk "$a"
zb_expect_status 16 "verify --key refuses an unencrypted archive" -- "$ZB_BIN" verify --key key "$a"
zb_expect_contains "$ZB_LAST_OUTPUT" "is not encrypted, but a key was given" "unencrypted refusal names the header"
zb_expect_status 16 "verify --passphrase-file refuses it too" -- "$ZB_BIN" verify --passphrase-file pass "$a"
zb_expect_contains "$ZB_LAST_OUTPUT" "but a passphrase was given" "passphrase refusal message"
mkdir out1
zb_expect_status 16 "restore refuses it" -- "$ZB_BIN" restore --key key --path "data=$ZB_TMP/out1" --force "$a"
target_untouched out1 "unencrypted swap"
zb_expect_status 0 "--allow-unencrypted reads it" -- "$ZB_BIN" verify --key key --allow-unencrypted "$a"
zb_expect_contains "$ZB_LAST_OUTPUT" "warn" "--allow-unencrypted warns"
zb_expect_contains "$ZB_LAST_OUTPUT" "proves nothing about its writer" "the warning says why"
zb_expect_status 0 "keyless verify of an unencrypted archive still works" -- "$ZB_BIN" verify "$plain"

# Finding 2: a valid archive for the same recipient key, made with only the
# public key read from the real archive's plain header.
a=$("$ZB_BIN" backup --repo repo2 --recipient key.pub --path "data=$ZB_TMP/src" 2>/dev/null)
"$ZB_CRAFT" --recipient-from "$a" --format 1 --out forged1.zbk --copy "$plain" - || zb_fail "cannot craft a forgery"
zb_expect_status 16 "a forged format-1 archive is refused" -- "$ZB_BIN" verify --key key forged1.zbk
zb_expect_contains "$ZB_LAST_OUTPUT" "forged1.zbk is not signed" "unsigned refusal message"
mkdir out2
zb_expect_status 16 "restore refuses the forgery" -- "$ZB_BIN" restore --key key --path "data=$ZB_TMP/out2" --force forged1.zbk
target_untouched out2 "forged archive"
"$ZB_CRAFT" --recipient-from "$a" --no-sign --out forged2.zbk --copy "$plain" - || zb_fail "cannot craft a forgery"
zb_expect_status 16 "a forged unsigned format-2 archive is refused" -- "$ZB_BIN" verify --key key forged2.zbk
"$ZB_BIN" keygen --out attacker >/dev/null 2>&1
"$ZB_CRAFT" --recipient-from "$a" --sign attacker.sign --out forged3.zbk --copy "$plain" - || zb_fail "cannot craft a forgery"
zb_expect_status 16 "an archive signed by the attacker's own key is refused" -- "$ZB_BIN" verify --key key forged3.zbk
bad_signer=$(sed -n 's/^# zakpos-backup signer \(zbs1:[0-9a-f]*\).*/\1/p' attacker.signer)
zb_expect_contains "$ZB_LAST_OUTPUT" "signed by $bad_signer, a writer this reader does not trust" "names the signer"
for reader in "show --key key" "list --rebuild-index --key key --repo forged"; do
    mkdir -p forged && cp forged3.zbk forged/zakpos-20250101T000000Z.zbk
    zb_expect_status 16 "$reader refuses it" -- $ZB_BIN $reader $([ "${reader%% *}" = show ] && echo forged3.zbk)
done
zb_expect_status 0 "--allow-untrusted reads it" -- "$ZB_BIN" verify --key key --allow-untrusted forged3.zbk
zb_expect_contains "$ZB_LAST_OUTPUT" "reading it anyway (--allow-untrusted)" "--allow-untrusted warns"

# A second backup host: refused until trusted, by flag or configuration.
"$ZB_BIN" keygen --out host2 >/dev/null 2>&1
b=$("$ZB_BIN" backup --repo repo3 --recipient key.pub --signing-key host2.sign --path "data=$ZB_TMP/src" 2>/dev/null)
zb_expect_status 16 "the second host's archive is not trusted yet" -- "$ZB_BIN" verify --key key "$b"
zb_expect_status 0 "--trust accepts it" -- "$ZB_BIN" verify --key key --trust host2.signer "$b"
printf '[repository]\ntrust = %s/attacker.signer %s/host2.signer\n' "$ZB_TMP" "$ZB_TMP" >trust.conf
zb_expect_status 0 "repository.trust accepts it" -- "$ZB_BIN" --config trust.conf verify --key key "$b"
printf '[repository]\nallow_untrusted = yes\n' >allow.conf
zb_expect_status 3 "--allow-untrusted is no configuration key" -- "$ZB_BIN" --config allow.conf verify --key key "$b"
zb_expect_status 16 "nor a variable" -- env ZAKPOS_BACKUP_ALLOW_UNTRUSTED=1 "$ZB_BIN" verify --key key "$b"

# A signature moved onto another archive of the same writer does not match.
c=$("$ZB_BIN" backup --repo repo4 --name other --recipient key.pub --path "data=$ZB_TMP/evil" 2>/dev/null)
len=$(od -An -tu2 -j10 -N2 "$a" | tr -d ' ')
cp "$c" moved.zbk
dd if="$a" of=moved.zbk bs=1 skip=$((len - 96)) seek=$((len - 96)) count=96 conv=notrunc status=none
zb_expect_status 16 "a signature slot moved onto another archive" -- "$ZB_BIN" verify --key key moved.zbk
zb_expect_contains "$ZB_LAST_OUTPUT" "does not match the archive header" "moved signature message"

# Protection mismatches name what the header says.
p=$("$ZB_BIN" backup --repo repo5 --passphrase-file pass --kdf-memory 8M --path "data=$ZB_TMP/src" 2>/dev/null)
zb_expect_status 7 "a key for a passphrase archive" -- "$ZB_BIN" verify --key key "$p"
zb_expect_contains "$ZB_LAST_OUTPUT" "the header says a passphrase" "names the passphrase slot"
zb_expect_status 0 "the passphrase authenticates its archive" -- "$ZB_BIN" verify --passphrase-file pass "$p"
zb_expect_status 7 "a passphrase for a recipient archive" -- "$ZB_BIN" verify --passphrase-file pass "$a"
zb_expect_contains "$ZB_LAST_OUTPUT" "the header says recipient key zbk1:" "names the recipient"
# The reader's cap: a header asking Argon2id for 2 GiB is refused before any
# derivation (the limits sit at offset 56 of a one-slot passphrase header;
# marked format 1, whose passphrase headers have the same layout).
cp "$p" greedy.zbk
printf '\x01' | dd of=greedy.zbk bs=1 seek=8 conv=notrunc status=none
printf '\x00\x00\x00\x80\x00\x00\x00\x00' | dd of=greedy.zbk bs=1 seek=56 conv=notrunc status=none
zb_expect_status 6 "a header asking for 2 GiB of Argon2id memory" -- "$ZB_BIN" verify --passphrase-file pass greedy.zbk
zb_expect_contains "$ZB_LAST_OUTPUT" "invalid argon2id parameters" "the cap is named"
zb_expect_status 2 "the writer's floor on argon2id memory" -- "$ZB_BIN" backup --repo repo5 --passphrase-file pass --kdf-memory 1M --path "data=$ZB_TMP/src"

# Upgrade path: a format-1 archive of this key, and a key file from before signing.
"$ZB_CRAFT" --recipient key.pub --format 1 --out old.zbk --copy "$a" key || zb_fail "cannot write a format-1 archive"
"$ZB_CRAFT" --recipient key.pub --format 1 --out old2.zbk --copy "$a" key || zb_fail "cannot write a format-1 archive"
zb_expect_status 16 "a format-1 archive is unsigned" -- "$ZB_BIN" verify --key key old.zbk
zb_expect_contains "$ZB_LAST_OUTPUT" "zakpos-backup sign" "the hint names the upgrade"
zb_expect_status 0 "sign verifies and vouches for it" -- "$ZB_BIN" sign --key key --signing-key key.sign old.zbk
zb_expect_contains "$ZB_LAST_OUTPUT" "signed old.zbk by $signer" "sign's output"
zb_expect_status 0 "the vouched archive verifies" -- "$ZB_BIN" verify --key key old.zbk
mkdir out3
zb_expect_status 0 "and restores" -- "$ZB_BIN" restore --key key --path "data=$ZB_TMP/out3" --force old.zbk
cmp -s out3/data src/data && zb_pass || zb_fail "the restored file differs"
cp old.zbk.sig old2.zbk.sig
zb_expect_status 16 "a detached signature moved onto another archive" -- "$ZB_BIN" verify --key key old2.zbk
mkdir prepo && cp old.zbk prepo/zakpos-20200101T000000Z.zbk && cp old.zbk.sig prepo/zakpos-20200101T000000Z.zbk.sig
cp "$a" prepo/zakpos-20300101T000000Z.zbk
zb_expect_status 0 "prune" -- "$ZB_BIN" prune --repo prepo --keep-last 1
[ ! -e prepo/zakpos-20200101T000000Z.zbk.sig ] && [ -e prepo/zakpos-20300101T000000Z.zbk ] && zb_pass \
    || zb_fail "prune left the detached signature of the archive it removed"
zb_expect_status 2 "sign refuses an unencrypted archive" -- "$ZB_BIN" sign --key key --signing-key key.sign "$plain"
grep -v '^ZBSP1:' key >oldkey && chmod 600 oldkey && cp key.pub oldkey.pub
zb_expect_status 16 "a key file from before signing trusts nobody" -- "$ZB_BIN" verify --key oldkey "$a"
zb_expect_contains "$ZB_LAST_OUTPUT" "keygen --add-signing-key" "the hint names the key upgrade"
zb_expect_status 7 "an old key pair cannot write without a signing key" -- "$ZB_BIN" backup --repo repo6 --recipient oldkey.pub --path "data=$ZB_TMP/src"
zb_expect_status 0 "keygen --add-signing-key" -- "$ZB_BIN" keygen --add-signing-key oldkey
[ "$(stat -c %a oldkey)" = 600 ] && [ "$(stat -c %a oldkey.sign)" = 600 ] && zb_pass || zb_fail "key file modes"
d=$("$ZB_BIN" backup --repo repo6 --recipient oldkey.pub --path "data=$ZB_TMP/src" 2>/dev/null)
zb_expect_status 0 "the upgraded pair writes and reads" -- "$ZB_BIN" verify --key oldkey "$d"
zb_expect_status 9 "a second --add-signing-key is refused" -- "$ZB_BIN" keygen --add-signing-key oldkey
zb_test_end
