# With --log-format json an error and its hint are one JSON object: the hint
# is its "hint" field, never a second line a log shipper could separate.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
cd "$ZB_TMP"
mkdir repo
zb_expect_status 2 "a usage error" -- "$ZB_BIN" --log-format json prune --repo repo
zb_expect_equal "$(echo "$ZB_LAST_OUTPUT" | wc -l)" "1" "one line"
zb_expect_equal "$(echo "$ZB_LAST_OUTPUT" | python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print(d["level"], "|", d["hint"], "|", "hint" in d["msg"])')" \
    "error | see 'zakpos-backup prune --help' | False" "the hint is a field of the error's object"
zb_expect_status 2 "the same in text" -- "$ZB_BIN" --log-format text prune --repo repo
zb_expect_contains "$ZB_LAST_OUTPUT" $'\nhint: see \'zakpos-backup prune --help\'' "text keeps its hint line"
printf '[repository]\nkeep_within = 0d\n' >none.conf
zb_expect_status 3 "a configuration error with a hint" -- "$ZB_BIN" --log-format json config check --config none.conf
zb_expect_equal "$(echo "$ZB_LAST_OUTPUT" | python3 -c 'import json,sys; print(sum(1 for l in sys.stdin if "hint" in json.loads(l)))')" "1" "its hint rides along"
zb_test_end
