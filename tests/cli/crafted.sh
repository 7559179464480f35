# Archives the real writer never writes, made by zb-craft-archive, are
# refused by the reader with a message naming what is wrong: a zstd frame
# without its content checksum, and entries the manifest does not list. Each
# crafted archive has an intact twin that verifies, so a refusal is the
# reader's. (Bytes after a full FINAL chunk: cli.tamper.)
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
cd "$ZB_TMP"
mkdir src
head -c 6000 /dev/urandom | base64 >src/notes.txt
seq 1 500 >src/list.txt
"$ZB_BIN" keygen --out key >/dev/null 2>&1
a=$("$ZB_BIN" backup --repo repo --recipient key.pub --path src 2>/dev/null)
plain=$("$ZB_BIN" backup --repo plainrepo --no-encryption --path src 2>/dev/null)

# a zstd frame without its content checksum, encrypted or not
zb_expect_status 0 "craft a copy with a checksummed frame" -- "$ZB_CRAFT" --no-encryption --out sum.zbk --rewrite "$plain" ""
zb_expect_status 0 "the checksummed copy verifies" -- "$ZB_BIN" verify sum.zbk
zb_expect_status 0 "craft a copy without the checksum" -- "$ZB_CRAFT" --no-encryption --out nosum.zbk --rewrite "$plain" "" --no-checksum
zb_expect_status 6 "a frame without a checksum is refused" -- "$ZB_BIN" verify nosum.zbk
zb_expect_contains "$ZB_LAST_OUTPUT" "the compressed stream has no content checksum" "says so"
zb_expect_status 0 "craft an encrypted copy without the checksum" -- "$ZB_CRAFT" --recipient key.pub --out nosum2.zbk \
    --rewrite "$a" key --no-checksum
zb_expect_status 6 "an encrypted frame without a checksum is refused" -- "$ZB_BIN" verify --key key nosum2.zbk
zb_expect_contains "$ZB_LAST_OUTPUT" "no content checksum" "says so"
zb_expect_status 6 "restore refuses it too" -- "$ZB_BIN" restore --key key nosum2.zbk --path src="$ZB_TMP/restored"
[ -e restored ] && zb_fail "a refused archive was restored" || zb_pass
# the writer sets the checksum: zstd itself reads the frame of an unencrypted archive
header_len=$(od -An -tu2 -j10 -N2 "$plain" | tr -d ' ')
tail -c +$((header_len + 1)) "$plain" >frame.zst
zb_expect_status 0 "zstd lists the archive's frame" -- zstd -lv frame.zst
zb_expect_contains "$ZB_LAST_OUTPUT" "Check: XXH64" "the backup wrote the frame with its content checksum"
zb_expect_status 0 "zstd checks the frame" -- zstd -t frame.zst

# an entry the manifest does not list, just before the manifest
zb_expect_status 0 "craft a copy with one more entry" -- "$ZB_CRAFT" --recipient key.pub --out extra.zbk \
    --rewrite "$a" key file:paths/src/unlisted.txt:surprise
zb_expect_status 6 "an unlisted entry is refused" -- "$ZB_BIN" verify --key key extra.zbk
zb_expect_contains "$ZB_LAST_OUTPUT" "holds entries the manifest does not list" "says so"
zb_expect_contains "$ZB_LAST_OUTPUT" "unlisted.txt" "names the entry"
zb_expect_status 6 "restore refuses it too" -- "$ZB_BIN" restore --key key extra.zbk --path src="$ZB_TMP/restored"
[ -e restored ] && zb_fail "a refused archive was restored" || zb_pass
zb_test_end
