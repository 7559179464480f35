# verify --restore reads a restored folder back and compares every file's
# content hash with the backup's: a restored file whose bytes differ while
# its size and times are the backup's is found and named (exit 14). The test
# build of the tool changes the file between the restore and the read-back.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
cd "$ZB_TMP"
mkdir -p src/sub
head -c 10000 /dev/zero | tr '\0' 'A' >src/sub/notes.txt
seq 1 100 >src/list.txt
"$ZB_BIN" keygen --out key >/dev/null 2>&1
a=$("$ZB_BIN" backup --repo repo --recipient key.pub --path data="$ZB_TMP/src" 2>/dev/null)
verify=("$ZB_FAULT_BIN" --log-format text verify --restore --key key "$a" --scratch-dir "$ZB_TMP")

zb_expect_status 0 "a restored folder left as restored passes" -- env ZB_FAULT_AT=before-read-back ZB_FAULT_RUN=true "${verify[@]}"
zb_expect_contains "$ZB_LAST_OUTPUT" "fault point before-read-back reached" "the read-back point was reached"
# one byte of the restored file changed, its size and modification time kept
flip='f=$ZB_FAULT_DETAIL/sub/notes.txt; m=$(stat -c %y "$f"); printf B | dd of="$f" bs=1 seek=5000 conv=notrunc status=none; touch -d "$m" "$f"'
zb_expect_status 14 "a restored file with other content" -- env ZB_FAULT_AT=before-read-back ZB_FAULT_RUN="$flip" "${verify[@]}"
zb_expect_contains "$ZB_LAST_OUTPUT" "sub/notes.txt: hash differs from the backup" "names the file and only its content"
zb_expect_contains "$ZB_LAST_OUTPUT" "differs from the backup (1 difference)" "one difference"
zb_expect_equal "$(find "$ZB_TMP" -maxdepth 1 -name 'zakpos-backup-verify-*' | wc -l)" "0" "no scratch folder left"
zb_test_end
