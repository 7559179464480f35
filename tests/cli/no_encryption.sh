# An unencrypted archive needs the explicit flag, is marked, and still detects
# damage: flipped bytes and a stream cut short inside its last bytes.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
cd "$ZB_TMP"
mkdir src && head -c 100000 /dev/urandom >src/blob
a=$("$ZB_BIN" backup --repo repo --no-encryption --path src 2>/dev/null)
zb_expect_status 0 "verify needs no key" -- "$ZB_BIN" verify "$a"
zb_expect_status 0 "show" -- "$ZB_BIN" show "$a"
zb_expect_contains "$ZB_LAST_OUTPUT" "protection:  none" "marked unencrypted"
zb_expect_contains "$ZB_LAST_OUTPUT" "source:      path src" "manifest readable without a key"
size=$(stat -c %s "$a")
for off in 60 5000 50000 $((size - 1)); do
    cp "$a" bad.zbk
    printf '\xff' | dd of=bad.zbk bs=1 seek=$off conv=notrunc status=none
    cmp -s "$a" bad.zbk && printf '\x00' | dd of=bad.zbk bs=1 seek=$off conv=notrunc status=none
    zb_expect_status 6 "flip at $off detected" -- "$ZB_BIN" verify bad.zbk
done
# Cut by 1-3 bytes, the archive ends inside the zstd frame's checksum, after
# the manifest: only reading every layer to its end after the manifest finds it.
for cut in 1 2 3; do
    head -c $((size - cut)) "$a" >short.zbk
    zb_expect_status 6 "an archive $cut byte(s) short is refused" -- "$ZB_BIN" verify short.zbk
    zb_expect_contains "$ZB_LAST_OUTPUT" "ends early" "names the truncation"
done
zb_test_end
