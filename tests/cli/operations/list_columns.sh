# `list` keeps its columns aligned whatever the protection name's length:
# every row's VERIFIED and SOURCES start where their headings do.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
cd "$ZB_TMP"
"$ZB_BIN" keygen --out key >/dev/null 2>&1
mkdir src && echo data >src/f
"$ZB_BIN" backup --repo repo --no-encryption --path src >/dev/null 2>&1
"$ZB_BIN" backup --repo repo --recipient key.pub --path src >/dev/null 2>&1
zb_expect_status 0 "list" -- "$ZB_BIN" list --repo repo
"$ZB_BIN" list --repo repo >table
zb_expect_contains "$(cat table)" "xchacha20poly1305-secretstream" "an encrypted archive is listed"
zb_expect_equal "$(python3 - <<'PY'
lines = open("table").read().splitlines()
head = lines[0]
bad = []
for column in ("PROTECTION", "VERIFIED", "SOURCES"):
    start = head.index(column)
    for row in lines[1:]:
        if row[start - 2:start] != "  " or row[start] == " ":
            bad.append("%s in %r" % (column, row))
print("\n".join(bad) or "aligned")
PY
)" "aligned" "every column starts under its heading"
zb_test_end
