# Back up a tree with every kind of entry, verify it, restore it, and compare
# names, types, modes, owners, mtimes, link counts, link targets and content.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
cd "$ZB_TMP"

src=$ZB_TMP/src
mkdir -p "$src/sub/deeper" "$src/empty dir"
echo "save 60 1" >"$src/redis.conf"
: >"$src/empty"
head -c 300000 /dev/urandom >"$src/sub/random.bin"
printf 'a%.0s' $(seq 1 5000) >"$src/sub/deeper/text"
ln -s redis.conf "$src/link"
ln -s ../../nowhere "$src/sub/dangling"
ln "$src/redis.conf" "$src/hardlink"
printf 'odd' >"$src/name with spaces"
printf 'nl' >"$src/new"$'\n'"line"
printf 'utf' >"$src/ünïcödé-名前"
printf 'raw' >"$src/latin1-"$'\xe9'
# A sparse file over 4 GiB: a hole, then a little data at the end.
truncate -s 4G "$src/sparse"
echo "end of sparse" >>"$src/sparse"
chmod 0640 "$src/redis.conf"
chmod 0700 "$src/sub/deeper"
chmod 4755 "$src/sub/random.bin"
chown 1234:5678 "$src/sub/deeper/text"
touch -h -d '2020-02-03 04:05:06' "$src/link"
touch -d '2019-01-01 00:00:00' "$src/empty dir" "$src/sub/deeper/text"

"$ZB_BIN" keygen --out key >/dev/null 2>&1
out=$("$ZB_BIN" --log-format text backup --repo repo --recipient key.pub --path data="$src" 2>err)
zb_expect_equal "$?" "0" "backup exit status"
zb_expect_equal "$(zb_archives_in repo)" "$out" "backup prints exactly the archive path on stdout"
zb_expect_contains "$(cat err)" "backup complete" "backup logs to stderr"
size=$(stat -c %s "$out")
if [ "$size" -lt 1000000 ]; then zb_pass; else zb_fail "a 4 GiB sparse hole was stored as data ($size bytes)"; fi

zb_expect_status 0 "verify" -- "$ZB_BIN" verify --key key "$out"
zb_expect_contains "$ZB_LAST_OUTPUT" "verified $out" "verify result line"
zb_expect_status 0 "list" -- "$ZB_BIN" list --repo repo
zb_expect_contains "$ZB_LAST_OUTPUT" "$(basename "$out")" "list names the archive"
zb_expect_contains "$ZB_LAST_OUTPUT" "path:data" "list shows the sources from the index"
# the index is a cache: lost, it is rebuilt from the archives alone (with the key)
rm repo/.zakpos-backup-index.json
zb_expect_equal "$("$ZB_BIN" list --repo repo | grep -c 'path:data')" "0" "without the index list cannot name the sources"
zb_expect_status 0 "list --rebuild-index" -- "$ZB_BIN" list --repo repo --rebuild-index --key key
zb_expect_contains "$ZB_LAST_OUTPUT" "path:data" "the sources come back from the archive"
zb_expect_status 2 "--key without --rebuild-index" -- "$ZB_BIN" list --repo repo --key key
zb_expect_status 0 "show without key" -- "$ZB_BIN" show "$out"
zb_expect_contains "$ZB_LAST_OUTPUT" "give --key" "show without key hides the contents"
zb_expect_status 0 "show with key" -- "$ZB_BIN" show --key key --entries "$out"
zb_expect_contains "$ZB_LAST_OUTPUT" "source:      path data" "show lists the source"
zb_expect_contains "$ZB_LAST_OUTPUT" "hardlink" "show lists the hard link"

zb_expect_status 0 "restore" -- "$ZB_BIN" restore --key key "$out" --path data="$ZB_TMP/restored"
zb_expect_same_tree "$src" "$ZB_TMP/restored" "restored tree"
zb_expect_equal "$(stat -c %i "$ZB_TMP/restored/redis.conf")" "$(stat -c %i "$ZB_TMP/restored/hardlink")" "hard link restored as a link"
blocks=$(stat -c %b "$ZB_TMP/restored/sparse")
if [ "$blocks" -lt 1024 ]; then zb_pass; else zb_fail "the sparse file was restored dense ($blocks blocks)"; fi
if ls -A "$ZB_TMP" | grep -q zb-restore; then zb_fail "a staging folder was left behind"; else zb_pass; fi

# A non-empty target is refused and left alone; --force replaces it.
mkdir "$ZB_TMP/busy" && echo keep >"$ZB_TMP/busy/file"
zb_expect_status 9 "restore refuses a non-empty target" -- "$ZB_BIN" restore --key key "$out" --path data="$ZB_TMP/busy"
zb_expect_equal "$(cat "$ZB_TMP/busy/file")" "keep" "refused target untouched"
zb_expect_status 0 "restore --force" -- "$ZB_BIN" restore --key key "$out" --path data="$ZB_TMP/busy" --force
zb_expect_same_tree "$src" "$ZB_TMP/busy" "forced restore replaced the content"
zb_expect_status 13 "restore of a source the archive lacks" -- "$ZB_BIN" restore --key key "$out" --path nosuch="$ZB_TMP/x"
zb_expect_contains "$ZB_LAST_OUTPUT" "the archive holds: path data" "missing source hint"
if [ -e "$ZB_TMP/x" ]; then zb_fail "target created for a missing source"; else zb_pass; fi
zb_test_end
