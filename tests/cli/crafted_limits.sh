# A crafted archive cannot make a reader allocate without bound: a manifest
# of one 100 MiB line and a zstd frame asking for a 128 MiB window are
# refused (exit 8) by verify, show (--entries, --json) and list --rebuild-index, none of which
# needs a key for an unencrypted archive, each within 64 MiB of memory
# (peak resident set as the kernel reports it to time(1)).
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
cd "$ZB_TMP"
[ -x /usr/bin/time ] || zb_require "/usr/bin/time (package time)"
"$ZB_CRAFT" --no-encryption --out bomb.zbk bomb:manifest.json:104857600 || zb_fail "cannot craft the manifest bomb"
"$ZB_CRAFT" --no-encryption --window-log 27 --manifest --out window.zbk dir:paths/data/ zeros:paths/data/z:104857600 ||
    zb_fail "cannot craft the window"
zb_expect_equal "$(($(stat -c %s bomb.zbk) < 8192))" 1 "the bomb is a small file"

# Under AddressSanitizer the resident set also holds the sanitizer's shadow
# memory and its quarantine of freed blocks: there the 64 MiB are counted
# above what the instrumented binary holds doing nothing, quarantine off.
budget=65536
if grep -aq __asan_init "$ZB_BIN"; then
    export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0
    /usr/bin/time -o rss -f %M "$ZB_BIN" --version >/dev/null
    budget=$((budget + $(tail -n 1 rss)))
fi

# within_64mib WHAT -- command...: exit 8 and a peak RSS under 64 MiB
within_64mib() {
    local what=$1
    shift 2
    zb_expect_status 8 "$what is refused" -- /usr/bin/time -o rss -f %M "$@"
    local kib
    kib=$(tail -n 1 rss)
    if [ "$kib" -lt "$budget" ]; then zb_pass; else zb_fail "$what: peak RSS $kib KiB, over 64 MiB (budget $budget KiB)"; fi
}

within_64mib "verify of the manifest bomb" -- "$ZB_BIN" --log-format text verify bomb.zbk
zb_expect_contains "$ZB_LAST_OUTPUT" "a manifest line is longer than 16 MiB; refused" "says why"
within_64mib "show of the manifest bomb" -- "$ZB_BIN" --log-format text show bomb.zbk
within_64mib "show --entries of the manifest bomb" -- "$ZB_BIN" --log-format text show --entries bomb.zbk
within_64mib "show --entries --json of the manifest bomb" -- "$ZB_BIN" --log-format text show --entries --json bomb.zbk
zb_expect_contains "$ZB_LAST_OUTPUT" "too large to be read as one document" "says why"

mkdir src && echo x >src/f
a=$("$ZB_BIN" backup --repo repo --no-encryption --path src 2>/dev/null)
cp bomb.zbk "$a" # repository write access is enough to swap it
rm -f repo/.zakpos-backup-index.json
within_64mib "list --rebuild-index over the manifest bomb" -- "$ZB_BIN" --log-format text list --repo repo --rebuild-index
zb_expect_contains "$ZB_LAST_OUTPUT" "a manifest line is longer than 16 MiB" "says why"

within_64mib "verify of the 128 MiB window" -- "$ZB_BIN" --log-format text verify window.zbk
zb_expect_contains "$ZB_LAST_OUTPUT" "asks for a zstd window over 32 MiB; refused" "says why"
within_64mib "show of the 128 MiB window" -- "$ZB_BIN" --log-format text show window.zbk
zb_test_end
