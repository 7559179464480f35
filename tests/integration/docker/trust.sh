# Driver options read from an archive are not trusted: a restore into a new
# or renamed volume makes a plain local volume unless
# --volume-options-from-archive, and options that bind a host path also need
# --allow-host-bind (a warning each time); verify --restore's scratch volumes
# are always plain; Compose's labels are not copied onto renamed or scratch
# volumes. A volume bound to a host folder (type=none, o=bind) restored under
# another name, or verified, leaves that folder alone; a crafted archive whose
# volume.json binds "/" binds nothing.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/docker.sh"
zb_test_begin
zb_docker_setup_bare
listing() { python3 "$ZB_TEST_LIB/tree_listing.py" "$1"; }
volume_json() { zb_dapi GET "/volumes/$1" | python3 -c "import json,sys; v=json.load(sys.stdin); print($2)"; }

host=$ZB_TMP/srv-x
mkdir -p "$host/sub"
echo live >"$host/live.txt"
echo nested >"$host/sub/nested.txt"
zb_dapi POST /volumes/create -H 'Content-Type: application/json' -d "{\"Name\":\"bv\",\"DriverOpts\":{\"type\":\"none\",\"o\":\"bind\",\"device\":\"$host\"},\"Labels\":{\"com.docker.compose.project\":\"zakpos\",\"tier\":\"files\"}}" >/dev/null
zb_expect_status 0 "backup of a volume bound to a host folder" -- "$ZB_BIN" -q backup --repo repo --recipient key.pub --volume bv
archive=$("$ZB_BIN" latest --repo repo)
# the live folder moves on after the backup
echo changed >"$host/live.txt"
echo new >"$host/after-backup.txt"
listing "$host" >host.before

zb_expect_status 0 "restore under another name" -- "$ZB_BIN" -q restore --key key "$archive" --volume bv=bv_copy
zb_expect_equal "$(volume_json bv_copy 'v["Driver"], v.get("Options") or {}')" "local {}" "the copy is a plain local volume"
zb_expect_equal "$(volume_json bv_copy 'sorted((v.get("Labels") or {}).keys())')" "['tier']" "without Compose's labels"
zb_expect_equal "$(cat "$(zb_volume_dir bv_copy)/live.txt")" "live" "the copy holds the archive's content"
zb_expect_equal "$(listing "$host")" "$(cat host.before)" "the host folder was not touched by the restore"

zb_expect_status 0 "verify --restore --keep" -- "$ZB_BIN" -q verify --restore --keep --key key "$archive"
scratch=$(zb_dapi GET /volumes | python3 -c 'import json,sys; print(" ".join(v["Name"] for v in json.load(sys.stdin)["Volumes"] if v["Name"].startswith("bv_verify_")))')
[ -n "$scratch" ] && zb_pass || zb_fail "no scratch volume kept"
zb_expect_equal "$(volume_json "$scratch" 'v["Driver"], v.get("Options") or {}, sorted((v.get("Labels") or {}).keys())')" \
    "local {} ['tier']" "the scratch volume is plain, without Compose's labels"
zb_expect_equal "$(listing "$host")" "$(cat host.before)" "the host folder was not touched by the verification"

zb_expect_status 8 "archive options that bind a host path need --allow-host-bind" -- "$ZB_BIN" --log-format text restore \
    --key key "$archive" --volume bv=bv_opts --volume-options-from-archive
zb_expect_contains "$ZB_LAST_OUTPUT" "the archive's options bind the host path $host" "names the host path"
zb_expect_contains "$ZB_LAST_OUTPUT" "hint: check that host path, then add --allow-host-bind" "says how"
if zb_dapi GET /volumes/bv_opts | grep -q Mountpoint; then zb_fail "a refused restore left a volume"; else zb_pass; fi
zb_expect_equal "$(listing "$host")" "$(cat host.before)" "the host folder was not touched"
zb_expect_status 2 "--allow-host-bind alone" -- "$ZB_BIN" restore --key key "$archive" --volume bv=bv_opts --allow-host-bind
zb_expect_status 0 "both flags: the recorded bind is made" -- "$ZB_BIN" --log-format text restore --key key "$archive" \
    --volume bv=bv_opts --volume-options-from-archive --allow-host-bind
zb_expect_contains "$ZB_LAST_OUTPUT" "volume bv_opts is created bound to the host path $host" "with a warning"
zb_expect_equal "$(volume_json bv_opts 'v["Options"]["device"]')" "$host" "bound as recorded"

# a crafted archive whose volume.json binds the root folder
"$ZB_CRAFT" --recipient key.pub --out crafted.zbk \
    'file:volumes/v/volume.json:{"driver":"local","options":{"type":"none","o":"bind","device":"/"}}' dir:volumes/v/data/ \
    'file:volumes/v/data/zb-crafted-marker:x' || zb_fail "cannot craft the archive"
zb_expect_status 6 "a crafted bind to / (plain restore)" -- "$ZB_BIN" -q restore --key key crafted.zbk --volume v=crafted
zb_expect_status 8 "a crafted bind to / (options from the archive)" -- "$ZB_BIN" -q restore --key key crafted.zbk --volume v=crafted \
    --volume-options-from-archive
"$ZB_BIN" -q verify --restore --key key crafted.zbk >/dev/null 2>&1
[ ! -e /zb-crafted-marker ] && zb_pass || { rm -f /zb-crafted-marker; zb_fail "the crafted archive wrote into /"; }
zb_expect_equal "$(zb_dapi GET /volumes | python3 -c 'import json,sys; print(sorted(v["Name"] for v in json.load(sys.stdin)["Volumes"] if not v["Name"].startswith("bv_verify_")))')" \
    "['bv', 'bv_copy', 'bv_opts']" "no volume left by the crafted archive"
zb_test_end
