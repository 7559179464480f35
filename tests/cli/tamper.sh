# Every single-byte flip (all header bytes, sampled body offsets), truncation
# (sampled offsets and exactly at every chunk boundary) and appended bytes make
# verify fail, naming the chunk or the appended bytes; a random file is
# refused as not an archive.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
cd "$ZB_TMP"
mkdir src
head -c 40000 /dev/urandom >src/random
seq 1 3000 >src/text
"$ZB_BIN" keygen --out key >/dev/null 2>&1
a=$("$ZB_BIN" backup --repo repo --recipient key.pub --chunk-size 4K --path src 2>/dev/null)
zb_expect_status 0 "the intact archive verifies" -- "$ZB_BIN" verify --key key "$a"
size=$(stat -c %s "$a")
header_len=$(od -An -tu2 -j10 -N2 "$a" | tr -d ' ')
chunk=$((4096 + 17))

# the flipped copies, one per offset (flips/OFFSET.zbk), made by one process:
# the test spends its time in verify, not in cp, od and dd for each byte
flip_copies() {
    mkdir -p flips
    python3 -c '
import sys
data = open(sys.argv[1], "rb").read()
for off in map(int, sys.argv[2:]):
    copy = bytearray(data)
    copy[off] ^= 0x5A
    open("flips/%d.zbk" % off, "wb").write(copy)' "$a" "$@"
}
flip_fails() {
    local off=$1 out=
    "$ZB_BIN" verify --key key "flips/$off.zbk" >/dev/null 2>out.txt
    local rc=$?
    IFS= read -r -d '' out <out.txt
    if [ "$rc" -eq 0 ]; then
        zb_fail "a flip at offset $off went unnoticed"
    elif [[ "$out" != *error* ]]; then
        zb_fail "a flip at offset $off failed without naming the problem"
    else
        zb_pass
    fi
}

offsets=()
for ((off = 0; off < header_len; off++)); do offsets+=($off); done
for ((off = header_len; off < size; off += 173)); do offsets+=($off); done
offsets+=($((size - 1)))
flip_copies "${offsets[@]}"
for off in "${offsets[@]}"; do flip_fails "$off"; done
rm -r flips

cut_fails() {
    local len=$1 what=$2
    head -c "$len" "$a" >t.zbk
    "$ZB_BIN" verify --key key t.zbk >/dev/null 2>out.txt
    if [ $? -eq 0 ]; then zb_fail "$what (length $len) went unnoticed"; else zb_pass; fi
}
for len in 0 7 20 $((header_len - 1)) $header_len $((header_len + 5)) $((size / 2)) $((size - 1)); do
    cut_fails "$len" "truncation"
done
nchunks=$(((size - header_len) / chunk))
for ((k = 1; k <= nchunks; k++)); do
    cut_fails $((header_len + k * chunk)) "truncation at chunk boundary $k"
done
grep -q "without the final chunk" out.txt && zb_pass || zb_fail "boundary truncation is not named as such: $(cat out.txt)"

# Bytes appended to an archive whose FINAL chunk is short are read as part of
# that chunk, so its authentication fails: the message names that chunk.
last_chunk=$(((size - header_len + chunk - 1) / chunk))
for extra in '\x00' 'garbage' "$(head -c 4113 /dev/zero | tr '\0' 'x')"; do
    cp "$a" t.zbk && printf "$extra" >>t.zbk
    zb_expect_status 6 "bytes appended after the end" -- "$ZB_BIN" verify --key key t.zbk
    if [ $(((size - header_len) % chunk)) -ne 0 ]; then
        zb_expect_contains "$ZB_LAST_OUTPUT" "encrypted chunk $last_chunk failed authentication" "the last chunk is named"
    else
        zb_expect_contains "$ZB_LAST_OUTPUT" "unexpected data after the final encrypted chunk" "appended bytes are named"
    fi
done
# A FINAL chunk that is a full chunk authenticates on its own: only the seal
# layer's own end check finds what follows it. The crafted copy has a single
# chunk the size of its compressed stream.
"$ZB_CRAFT" --recipient key.pub --out full.zbk --rewrite "$a" key --one-chunk || zb_fail "cannot craft the copy"
zb_expect_status 0 "the copy with one full chunk verifies" -- "$ZB_BIN" verify --key key full.zbk
full_header=$(od -An -tu2 -j10 -N2 full.zbk | tr -d ' ')
full_chunk=$(od -An -tu4 -j16 -N4 full.zbk | tr -d ' ')
zb_expect_equal "$(($(stat -c %s full.zbk) - full_header))" "$((full_chunk + 17))" "one full chunk follows the header"
for extra in '\x00' 'garbage'; do
    cp full.zbk t.zbk && printf "$extra" >>t.zbk
    zb_expect_status 6 "bytes after a full FINAL chunk" -- "$ZB_BIN" verify --key key t.zbk
    zb_expect_contains "$ZB_LAST_OUTPUT" "unexpected data after the final encrypted chunk" "appended bytes are named"
done


head -c 5000 /dev/urandom >random.bin
zb_expect_status 5 "a random file" -- "$ZB_BIN" verify --key key random.bin
zb_expect_contains "$ZB_LAST_OUTPUT" "is not a zakpos-backup archive" "random file message"
zb_expect_status 13 "a missing file" -- "$ZB_BIN" verify --key key nosuch.zbk
zb_test_end
