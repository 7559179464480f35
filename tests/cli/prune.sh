# Retention on a real repository (names carry the times), latest, and the
# repository lock: a second run is refused while the first holds it, and a
# run killed with -9 does not block the next.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
cd "$ZB_TMP"
export TZ=UTC
mkdir src && echo data >src/f
a=$("$ZB_BIN" backup --repo repo --no-encryption --path src 2>/dev/null)
# Archives of earlier days, as a nightly job leaves them (copies under dated names).
for stamp in 20261123T020000Z 20261122T020000Z 20261121T020000Z 20261115T020000Z 20261031T020000Z 20251231T020000Z; do
    cp "$a" "repo/zakpos-$stamp.zbk"
done
rm "$a"
cp repo/zakpos-20261123T020000Z.zbk repo/zakpos-20261124T020000Z.zbk

zb_expect_status 0 "latest" -- "$ZB_BIN" latest --repo repo
zb_expect_equal "$ZB_LAST_OUTPUT" "repo/zakpos-20261124T020000Z.zbk" "latest names the newest archive"
zb_expect_status 2 "prune without rules" -- "$ZB_BIN" prune --repo repo
zb_expect_contains "$ZB_LAST_OUTPUT" "no --keep rule" "prune refuses an empty policy"

zb_expect_status 0 "prune --dry-run" -- "$ZB_BIN" -q prune --repo repo --keep-daily 3 --keep-monthly 2 --dry-run
zb_expect_contains "$ZB_LAST_OUTPUT" "keep         zakpos-20261124T020000Z.zbk  daily, monthly" "newest kept by daily and monthly"
zb_expect_contains "$ZB_LAST_OUTPUT" "would-remove zakpos-20261115T020000Z.zbk" "dry run names what would go"
zb_expect_contains "$ZB_LAST_OUTPUT" "keep         zakpos-20261031T020000Z.zbk  monthly" "October kept by monthly"
zb_expect_equal "$(zb_archives_in repo | wc -l)" "7" "dry run removes nothing"

zb_expect_status 0 "prune" -- "$ZB_BIN" -q prune --repo repo --keep-daily 3 --keep-monthly 2
kept=$(cd repo && ls *.zbk | tr '\n' ' ')
zb_expect_equal "$kept" "zakpos-20261031T020000Z.zbk zakpos-20261122T020000Z.zbk zakpos-20261123T020000Z.zbk zakpos-20261124T020000Z.zbk " "what prune keeps"

# The newest archive proven restorable stays, whatever the rules say.
zb_expect_status 0 "verify --restore of an older archive" -- "$ZB_BIN" -q verify --restore --scratch-dir "$ZB_TMP" repo/zakpos-20261122T020000Z.zbk
zb_expect_status 0 "prune --keep-last 1" -- "$ZB_BIN" -q prune --repo repo --keep-last 1
zb_expect_contains "$ZB_LAST_OUTPUT" "keep         zakpos-20261122T020000Z.zbk  newest verified by restore" "the verified archive is kept and says why"
zb_expect_contains "$ZB_LAST_OUTPUT" "remove       zakpos-20261123T020000Z.zbk" "an unverified one goes"
kept=$(cd repo && ls *.zbk | tr '\n' ' ')
zb_expect_equal "$kept" "zakpos-20261122T020000Z.zbk zakpos-20261124T020000Z.zbk " "newest and newest verified kept"
zb_expect_equal "$(python3 -c 'import json; print(sorted(json.load(open("repo/.zakpos-backup-index.json"))["archives"]))')" \
    "['zakpos-20261122T020000Z.zbk']" "the index forgets removed archives"

# The lock: hold it with a slow backup, try a second run, then kill -9 the first.
head -c 100M /dev/urandom >src/big
"$ZB_BIN" backup --repo repo --no-encryption --zstd-level 19 --zstd-workers 0 --path src >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 50); do
    ls -A repo | grep -q partial && break
    sleep 0.1
done
zb_expect_status 12 "a second run while the first holds the lock" -- "$ZB_BIN" prune --repo repo --keep-last 1
zb_expect_contains "$ZB_LAST_OUTPUT" "in use by another run (pid $pid)" "the lock names its holder"
kill -9 "$pid"
wait "$pid" 2>/dev/null
zb_expect_status 0 "the next run after a kill -9" -- "$ZB_BIN" -q prune --repo repo --keep-last 10 --dry-run

# archives made within one second: NAME-STAMP, then NAME-STAMP-2, -3, ... -10
mkdir same && for n in "" -2 -3 -10; do cp repo/zakpos-20261124T020000Z.zbk "same/zakpos-20261125T020000Z$n.zbk"; done
zb_expect_equal "$("$ZB_BIN" latest --repo same)" "same/zakpos-20261125T020000Z-10.zbk" "latest is the last made in that second"
zb_expect_equal "$("$ZB_BIN" list --repo same --json | python3 -c 'import json,sys; print(" ".join(a["name"][23:-4] or "-" for a in json.load(sys.stdin)))')" \
    "- -2 -3 -10" "list keeps the order they were made in"
zb_test_end
