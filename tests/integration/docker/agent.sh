# The volume agent (zb-volume-agent in a helper container, forced with
# --volume-agent on this host where the folder is reachable): the fidelity
# fixture backed up and restored through it, its archive restored directly,
# a direct archive restored through it, and a --force restore staged and
# swapped in through it, each compared with a listing made without the
# tool (tests/lib/tree_listing.py: lstat, readlink, listxattr, sha256) and
# du. The stream takes a socket of this host bound into the container, and,
# where the agent cannot reach it (the test build sends it elsewhere), the
# attach API, with the same content. A --force restore whose agent is killed
# mid-stream, or whose archive is cut short, leaves the target as it was.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/docker.sh"
zb_test_begin
zb_docker_setup_bare
listing() { python3 "$ZB_TEST_LIB/tree_listing.py" "$1"; }
disk_use() { du -s --block-size=1 "$1" | cut -f1; }
same_tree() { # same_tree EXPECTED_LIST DIR WHAT
    if listing "$2" | diff "$1" - >diff.out; then zb_pass; else zb_fail "$3: $(head -c 2000 diff.out)"; fi
}

zb_docker_volume every_kind
src=$(zb_volume_dir every_kind)
python3 "$ZB_SOURCE_DIR/tests/integration/docker/fidelity_fixture.py" "$src" --sparse-mib 16 || zb_fail "cannot build the fixture"
touch -d '2020-01-01 00:00:00.25' "$src"
listing "$src" >source.list

zb_expect_status 0 "backup through the agent" -- "$ZB_BIN" --log-level detail --log-format text backup --repo repo \
    --recipient key.pub --volume every_kind --volume-agent
zb_expect_contains "$ZB_LAST_OUTPUT" "the stream takes a socket of this host" "the stream bypasses the attach API here"
agent_archive=$("$ZB_BIN" latest --repo repo)
zb_expect_contains "$("$ZB_BIN" show --json --key key "$agent_archive")" '"read": "agent"' "the meta says how it was read"
zb_expect_status 0 "restore through the agent" -- "$ZB_BIN" -q restore --key key "$agent_archive" \
    --volume every_kind=by_agent --volume-agent
same_tree source.list "$(zb_volume_dir by_agent)" "backed up and restored through the agent"
use=$(disk_use "$(zb_volume_dir by_agent)/sparse.img")
[ "$use" -le $((2 * $(disk_use "$src/sparse.img"))) ] && zb_pass || zb_fail "the sparse file takes $use bytes on disk"
# an agent that cannot reach the tool's socket (as on another host) says so
# and streams through the attach API: the same archive as through the socket
far=(env ZAKPOS_BACKUP_TEST_AGENT_SOCKET=elsewhere "$ZB_FAULT_BIN" --log-level detail --log-format text)
zb_expect_status 0 "backup through the attach API" -- "${far[@]}" backup --repo repo-attach --recipient key.pub \
    --volume every_kind --volume-agent
zb_expect_contains "$ZB_LAST_OUTPUT" "the stream takes the attach API" "says the stream takes the attach API"
entries() { # the manifest's entries of the content (volume.json has the backup's time)
    "$ZB_BIN" show --json --entries --key key "$1" | python3 -c 'import json, sys
print(json.dumps([e for s in json.load(sys.stdin)["manifest"]["sources"] for e in s["entries"] if e.get("path") != "volume.json"], sort_keys=True))'
}
through_socket=$(entries "$agent_archive")
zb_expect_contains "$through_socket" '"path": "data/sparse.img"' "the entries are listed"
zb_expect_equal "$(entries "$("$ZB_BIN" latest --repo repo-attach)")" "$through_socket" "the same entries both ways"
zb_expect_status 0 "the agent's archive restored directly" -- "$ZB_BIN" -q restore --key key "$agent_archive" \
    --volume every_kind=agent_direct
same_tree source.list "$(zb_volume_dir agent_direct)" "an agent archive restored directly"

zb_expect_status 0 "direct backup" -- "$ZB_BIN" -q backup --repo repo-direct --recipient key.pub --volume every_kind
zb_expect_status 0 "a direct archive restored through the agent, by the attach API" -- "${far[@]}" restore --key key \
    "$("$ZB_BIN" latest --repo repo-direct)" --volume every_kind=direct_agent --volume-agent
zb_expect_contains "$ZB_LAST_OUTPUT" "the stream takes the attach API" "the restore too"
same_tree source.list "$(zb_volume_dir direct_agent)" "a direct archive restored through the agent"
# --force through the agent: staged, then swapped in by the agent too
echo old >"$(zb_volume_dir direct_agent)/old-file"
zb_expect_status 0 "a --force restore through the agent" -- "$ZB_BIN" -q restore --key key "$agent_archive" \
    --volume every_kind=direct_agent --force --volume-agent
same_tree source.list "$(zb_volume_dir direct_agent)" "a --force restore through the agent"
zb_expect_equal "$(zb_dapi GET '/containers/json?all=1')" "[]" "no helper container left"

# a program without its agent says so instead of going another way
mkdir -p lone && cp "$ZB_BIN" lone/
zb_expect_status 2 "--volume-agent without the agent" -- lone/zakpos-backup --log-format text backup --repo repo-lone \
    --recipient key.pub --volume every_kind --volume-agent
zb_expect_contains "$ZB_LAST_OUTPUT" "the volume agent zb-volume-agent was not found" "names the missing agent"

# --force through the agent: killed mid-stream, or an archive cut short,
# leaves the target byte for byte as it was. The tool is stopped while the
# agent container is killed, so the kill falls mid-stream (192 MiB of
# random data take seconds to go through the attach API, which the test
# build is made to take; through the socket they may pass before the tool
# is stopped).
zb_docker_volume big
head -c 192M /dev/urandom >"$(zb_volume_dir big)/random"
zb_expect_status 0 "backup of the big volume" -- "$ZB_BIN" -q backup --repo repo-big --no-encryption --zstd-level 1 \
    --volume big
big_archive=$("$ZB_BIN" latest --repo repo-big)
target=$(zb_volume_dir every_kind)
ZAKPOS_BACKUP_TEST_AGENT_SOCKET=elsewhere "$ZB_FAULT_BIN" -q restore "$big_archive" --volume big=every_kind --force \
    --volume-agent >kill.out 2>&1 &
restore_pid=$!
agent_running() { # cheap, so the tool is stopped early in its stream
    zb_dapi GET '/containers/json?filters=%7B%22label%22%3A%5B%22zakpos-backup.helper%22%5D%7D' >running.json
    grep -q 'zb-volume-agent restore' running.json
}
if zb_wait_until agent_running; then
    kill -STOP "$restore_pid"
    id=$(python3 -c 'import json; print(json.load(open("running.json"))[0]["Id"])')
    zb_expect_equal "$(zb_dapi GET "/containers/$id/json" | python3 -c 'import json,sys; c=json.load(sys.stdin); h=c["HostConfig"]; print(c["State"]["Status"], h["LogConfig"]["Type"], h["NetworkMode"])')" \
        "running none none" "the agent runs, mid-stream, without logs or network"
    zb_dapi POST "/containers/$id/kill" >/dev/null
    kill -CONT "$restore_pid"
else
    zb_fail "the agent container was never seen running"
fi
wait "$restore_pid"
rc=$?
[ "$rc" -ne 0 ] && zb_pass || zb_fail "a restore whose agent was killed exited 0: $(cat kill.out)"
zb_expect_contains "$(cat kill.out)" "volume agent" "the failure names the agent"
same_tree source.list "$target" "the target after a killed agent"

cp "$big_archive" cut.zbk
truncate -s $(($(stat -c %s cut.zbk) / 2)) cut.zbk
zb_expect_status 6 "a restore from an archive cut short" -- "$ZB_BIN" -q restore cut.zbk --volume big=every_kind \
    --force --volume-agent
same_tree source.list "$target" "the target after a cut archive"
zb_expect_equal "$(zb_dapi GET '/volumes' | python3 -c 'import json,sys; print(sorted(v["Name"] for v in json.load(sys.stdin)["Volumes"]))')" \
    "['agent_direct', 'big', 'by_agent', 'direct_agent', 'every_kind']" "no stage or holding volume left"
zb_expect_equal "$(zb_dapi GET '/containers/json?all=1')" "[]" "no helper container left"
zb_test_end
