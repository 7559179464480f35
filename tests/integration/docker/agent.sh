# The volume agent (zb-volume-agent in a helper container, forced with
# --volume-agent on this host where the folder is reachable): the fidelity
# fixture backed up and restored through it, its archive restored directly,
# a direct archive restored through it, and a --force restore staged and
# swapped in through it, each compared with a listing made without the
# tool (tests/lib/tree_listing.py: lstat, readlink, listxattr, sha256) and
# du; without the flag, a volume whose folder is out of reach takes the agent
# by itself, and a restore that way whose volume lacks an entry afterwards
# fails naming it. The stream takes a socket of this host bound into the container, and,
# where the agent cannot reach it (the test build sends it elsewhere), the
# attach API, with the same content. A --force restore whose agent is killed
# mid-stream, or whose archive is cut short, leaves the target as it was; so
# does kill -9 of the tool mid-stream through the socket, after which the
# next command leaves nothing behind; a backup killed mid-stream leaves a
# helper and a stream folder that the next prune removes.
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
# a folder out of reach (the test build takes every folder as such) goes
# through the agent by itself, without a flag, both ways: nothing is lost
auto=(env ZAKPOS_BACKUP_TEST_VOLUME_UNREACHABLE=1 "$ZB_FAULT_BIN" --log-level detail --log-format text)
zb_expect_status 0 "a backup of a volume out of reach" -- "${auto[@]}" backup --repo repo-auto --recipient key.pub --volume every_kind
zb_expect_contains "$ZB_LAST_OUTPUT" "the volume agent runs in container" "out of reach, the agent reads it by itself"
zb_expect_status 0 "a restore into a volume out of reach" -- "${auto[@]}" restore --key key "$("$ZB_BIN" latest --repo repo-auto)" \
    --volume every_kind=auto_agent
zb_expect_contains "$ZB_LAST_OUTPUT" "the volume agent runs in container" "out of reach, the agent writes it by itself"
same_tree source.list "$(zb_volume_dir auto_agent)" "a volume out of reach, backed up and restored without a flag"
zb_dapi DELETE /volumes/auto_agent >/dev/null
# a restore through the agent that loses an entry on its way to the disk
# (the test build removes one the agent wrote while the agent waits for the
# socket's end, before it counts the volume) fails naming it, as a restore
# written directly does
lose_one="f=$ZB_TMP/docker/data/volumes/\$ZB_FAULT_DETAIL/_data/xattr.txt; i=0
while [ ! -e \"\$f\" ] && [ \$i -lt 1200 ]; do sleep 0.1; i=\$((i + 1)); done; rm \"\$f\""
zb_expect_status 4 "a restore through the agent that lost an entry" -- env ZB_FAULT_AT=agent-stream-sent \
    ZB_FAULT_RUN="$lose_one" "${auto[@]}" restore --key key "$("$ZB_BIN" latest --repo repo-auto)" --volume every_kind=agent_lost
zb_expect_contains "$ZB_LAST_OUTPUT" "the volume agent runs in container" "written through the agent"
zb_expect_contains "$ZB_LAST_OUTPUT" "the volume agent counts" "the agent's count found it"
zb_expect_contains "$ZB_LAST_OUTPUT" "written; missing:
  xattr.txt" "names the entry the volume lacks"
zb_expect_not_contains "$ZB_LAST_OUTPUT" "d00x" "names nothing that is there (the deep path is)"
if zb_dapi GET /volumes/agent_lost | grep -q Mountpoint; then zb_fail "the failed restore left its volume"; else zb_pass; fi
# --force through the agent: staged, then swapped in by the agent too
echo old >"$(zb_volume_dir direct_agent)/old-file"
zb_expect_status 0 "a --force restore through the agent" -- "$ZB_BIN" -q restore --key key "$agent_archive" \
    --volume every_kind=direct_agent --force --volume-agent
same_tree source.list "$(zb_volume_dir direct_agent)" "a --force restore through the agent"
zb_expect_equal "$(zb_dapi GET '/containers/json?all=1')" "[]" "no helper container left"
# a copy of the swap that loses an entry (the test build removes one the
# agent copied once the agent says the copy is written, before it checks
# the copy) fails naming it. Into the holding volume: the target is left
# byte for byte as it was; into the target: it is left as the record says.
# Either way the next command finishes the replacement: the archive's
# content, and no other volume left.
target=$(zb_volume_dir direct_agent)
echo old >"$target/old-file"
listing "$target" >before-copy.list
lose_copied="rm -f \"$ZB_TMP/docker/data/volumes/\$ZB_FAULT_DETAIL/_data/\$ZB_LOSE\""
finished_by_next_command() { # WHAT
    zb_expect_status 0 "the next command, $1" -- "$ZB_BIN" --log-format text latest --repo repo
    zb_expect_contains "$ZB_LAST_OUTPUT" "finished replacing the content of volume direct_agent" "the next command finished it, $1"
    same_tree source.list "$target" "the target after the next command, $1"
    zb_expect_equal "$(zb_dapi GET /volumes | python3 -c 'import json,sys; print(sorted(v["Name"] for v in json.load(sys.stdin)["Volumes"]))')" \
        "['agent_direct', 'by_agent', 'direct_agent', 'every_kind']" "no stage or holding volume left, $1"
}
zb_expect_status 11 "a copy into the holding volume that lost an entry" -- env ZB_FAULT_AT=agent-copied ZB_LOSE=old-file \
    ZB_FAULT_RUN="$lose_copied" "$ZB_FAULT_BIN" --log-format text restore --key key "$agent_archive" \
    --volume every_kind=direct_agent --force --volume-agent
zb_expect_contains "$ZB_LAST_OUTPUT" "missing:
  old-file" "names the entry the holding copy lacks"
same_tree before-copy.list "$target" "the target after a short copy into the holding volume"
finished_by_next_command "after a short copy into the holding volume"
zb_expect_status 11 "a copy into the target that lost an entry" -- env ZB_FAULT_AT=agent-copied:direct_agent ZB_LOSE=xattr.txt \
    ZB_FAULT_RUN="$lose_copied" "$ZB_FAULT_BIN" --log-format text restore --key key "$agent_archive" \
    --volume every_kind=direct_agent --force --volume-agent
zb_expect_contains "$ZB_LAST_OUTPUT" "missing:
  xattr.txt" "names the entry the copy into the target lacks"
zb_expect_contains "$ZB_LAST_OUTPUT" "the next zakpos-backup command finishes the replacement" "says the next command finishes it"
[ ! -e "$target/xattr.txt" ] && zb_pass || zb_fail "the target holds the entry the copy lost"
finished_by_next_command "after a short copy into the target"

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
# kill -9 of the tool mid-stream, the stream through the socket of this host
# (its folder in the state folder, bound into the agent at /zb-io). A
# --force restore fed half its archive (a FIFO) waits mid-stream, the agent
# connected: after the kill the target is as it was, and the next command
# finishes the dead run's work (the stage its agent still held) without an
# error, leaving no stage, record, helper container or stream folder, so the
# command after it finds nothing to say.
state=$ZAKPOS_BACKUP_STATE_DIR
stream_folders() { find "$state" -maxdepth 1 -name 'agent-*' | wc -l; }
agent_connected() { # the agent runs, and took the socket (the tool unlinks it then)
    agent_running && [ "$(stream_folders)" = 1 ] && [ -z "$(find "$state" -path "$state/agent-*/s")" ]
}
rm -f half.fifo && mkfifo half.fifo
"$ZB_BIN" --log-level detail --log-format text restore half.fifo --volume big=every_kind --force --volume-agent \
    >kill9.out 2>&1 &
restore_pid=$!
exec 7>half.fifo
head -c $(($(stat -c %s "$big_archive") / 2)) "$big_archive" >&7
if zb_wait_until agent_connected; then
    kill -KILL "$restore_pid"
    zb_expect_contains "$(cat kill9.out)" "the stream takes a socket of this host" "the killed restore streamed through the socket"
else
    zb_fail "the restore's agent never took the socket: $(cat kill9.out)"
    kill -KILL "$restore_pid"
fi
wait "$restore_pid" 2>/dev/null
exec 7>&-
same_tree source.list "$target" "the target after kill -9 of the tool mid-stream"
zb_expect_status 0 "the command after kill -9 mid-stream" -- "$ZB_BIN" --log-format text list --repo repo-big
zb_expect_contains "$ZB_LAST_OUTPUT" "was interrupted before it changed the volume: it is as it was" "says what it found"
zb_expect_not_contains "$ZB_LAST_OUTPUT" "error" "finishes the dead run's work without an error"
same_tree source.list "$target" "the target after the next command"
zb_expect_equal "$(zb_dapi GET '/volumes' | python3 -c 'import json,sys; print(sorted(v["Name"] for v in json.load(sys.stdin)["Volumes"]))')" \
    "['agent_direct', 'big', 'by_agent', 'direct_agent', 'every_kind']" "kill -9 mid-stream: no stage volume left"
zb_expect_equal "$(zb_dapi GET '/containers/json?all=1')" "[]" "kill -9 mid-stream: no helper container left"
zb_expect_equal "$(stream_folders)" "0" "kill -9 mid-stream: no stream folder left"
zb_expect_equal "$(find "$state" -maxdepth 1 -name 'restore-*.json' | wc -l)" "0" "kill -9 mid-stream: no restore record left"
zb_expect_status 0 "the command after that" -- "$ZB_BIN" --log-format text list --repo repo-big
zb_expect_not_contains "$ZB_LAST_OUTPUT" "interrupted" "the command after that finds nothing left to finish"
zb_expect_not_contains "$ZB_LAST_OUTPUT" "removed" "the command after that finds nothing left to remove"

# a backup through the agent killed mid-stream leaves its helper and the
# stream's empty folder; the next prune (under the repository lock) removes
# both and names each (zstd level 19 keeps it mid-stream until the kill)
"$ZB_BIN" -q backup --repo repo-killed --no-encryption --zstd-level 19 --zstd-workers 0 --volume big --volume-agent &
backup_pid=$!
backup_connected() {
    agent_running_backup && [ "$(stream_folders)" = 1 ] && [ -z "$(find "$state" -path "$state/agent-*/s")" ]
}
agent_running_backup() {
    zb_dapi GET '/containers/json?filters=%7B%22label%22%3A%5B%22zakpos-backup.helper%22%5D%7D' | grep -q 'zb-volume-agent backup'
}
if zb_wait_until backup_connected; then kill -KILL "$backup_pid"; else zb_fail "the backup's agent never took the socket"; kill -KILL "$backup_pid"; fi
wait "$backup_pid" 2>/dev/null
zb_expect_equal "$(stream_folders)" "1" "the killed backup left its stream folder"
zb_expect_equal "$(find "$state" -path "$state/agent-*/*" | wc -l)" "0" "the folder it left is empty"
zb_expect_status 0 "prune after a killed agent backup" -- "$ZB_BIN" --log-format text prune --repo repo-killed --keep-last 1
zb_expect_contains "$ZB_LAST_OUTPUT" "removed the stream folder $state/agent-" "prune names the stream folder it removed"
zb_expect_contains "$ZB_LAST_OUTPUT" "removing helper container" "prune names the helper it removed"
zb_expect_equal "$(stream_folders)" "0" "prune removed the stream folder"
zb_expect_equal "$(zb_dapi GET '/containers/json?all=1')" "[]" "prune removed the helper"
zb_test_end
