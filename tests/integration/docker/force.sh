# restore --force never destroys a volume's content before the new content
# is proven: it restores into a stage volume and swaps it in only once the
# whole archive verified. Too little free space for the stage, a damaged archive, SIGINT or SIGKILL while staging,
# and SIGKILL while the volume's users are being stopped leave the target
# byte-identical to before (listing made without the tool: lstat, sha256,
# xattrs); a replacement cut in the middle of the swap (the state a kill
# there leaves: record, holding and stage volumes, entries half moved) is
# finished by the next command, which says so and removes the leftovers;
# so is a real SIGKILL in the swap's holding and placing phases (the
# replacement finished before any user starts again), and a
# SIGINT while placing lets the run finish the swap itself.
# A completed --force holds exactly the archive's content, its users running
# with their restart policies as before.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/docker.sh"
zb_test_begin
zb_docker_setup
listing() { python3 "$ZB_TEST_LIB/tree_listing.py" "$1"; }
volumes() { zb_dapi GET /volumes | python3 -c 'import json,sys; print(" ".join(sorted(v["Name"] for v in json.load(sys.stdin)["Volumes"] or [])))'; }
record=$ZAKPOS_BACKUP_STATE_DIR/restore-app.json

zb_docker_volume app
vol=$(zb_volume_dir app)
mkdir -p "$vol/conf"
head -c 8M /dev/urandom >"$vol/big.bin"
echo v1 >"$vol/conf/app.conf"
for i in $(seq 1 30); do echo "$i" >"$vol/f$i"; done
zb_expect_status 0 "backup" -- "$ZB_BIN" -q backup --repo repo --recipient key.pub --volume app
archive=$("$ZB_BIN" latest --repo repo)
listing "$vol" >archive.list
# the live volume moves on after the backup
echo v2 >"$vol/conf/app.conf"
rm -f "$vol"/f1*
head -c 1M /dev/urandom >"$vol/new.bin"
printf 'changed' | dd of="$vol/big.bin" bs=1 seek=1000 conv=notrunc 2>/dev/null
listing "$vol" >before.list
zb_docker_run user app '{}' unless-stopped

untouched() { # WHAT
    zb_expect_equal "$(listing "$vol")" "$(cat before.list)" "$1: the volume is byte-identical to before"
    zb_expect_equal "$(volumes)" "app" "$1: no stage or holding volume left"
    [ ! -e "$record" ] && zb_pass || zb_fail "$1: the restore record is left"
    zb_expect_equal "$(zb_docker_state user)" "running" "$1: its user runs"
}

# restore --force in the background, reading the archive from a FIFO that
# is given only its first half: the restore waits in the middle of staging
# (no race with its speed); returns once its stage volume exists
start_staging_restore() {
    rm -f half.fifo
    mkfifo half.fifo
    "$ZB_BIN" --log-format text restore --key key half.fifo --volume app --force >restore.out 2>&1 &
    pid=$!
    exec 7>half.fifo
    head -c $(($(stat -c %s "$archive") / 2)) "$archive" >&7
    for _ in $(seq 1 600); do
        volumes | grep -q 'app\.zb-new-' && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    zb_fail "the restore made no stage volume: $(cat restore.out)"
}
# the rest of the archive never comes
end_staging_restore() { exec 7>&-; }

# a damaged archive: one byte in the middle
cp "$archive" damaged.zbk
python3 -c 'import os,sys; f=open(sys.argv[1],"r+b"); n=os.path.getsize(sys.argv[1]); f.seek(n//2); b=f.read(1); f.seek(n//2); f.write(bytes([b[0]^0xff]))' damaged.zbk
zb_expect_status 6 "restore --force of a damaged archive" -- "$ZB_BIN" --log-format text restore --key key damaged.zbk --volume app --force
untouched "damaged archive"

# a swap that copies (here through the agent) without the space for the new
# content: refused before the users stop or anything moves (the test build
# tells the check how much space is free)
zb_expect_status 4 "restore --force without the space to copy" -- env ZAKPOS_BACKUP_TEST_STAGE_FREE_BYTES=4096 \
    "$ZB_FAULT_BIN" --log-format text restore --key key "$archive" --volume app --force --volume-agent
zb_expect_contains "$ZB_LAST_OUTPUT" "not enough free space to copy the new content into volume app" "says why"
untouched "no space to copy"

start_staging_restore
kill -INT "$pid"
wait "$pid"
zb_expect_equal "$?" "130" "SIGINT while staging: exit 130"
end_staging_restore
untouched "SIGINT while staging"

start_staging_restore
kill -KILL "$pid"
wait "$pid" 2>/dev/null
end_staging_restore
zb_expect_equal "$(listing "$vol")" "$(cat before.list)" "SIGKILL while staging: the volume was not touched"
[ -e "$record" ] && zb_pass || zb_fail "SIGKILL while staging: no record"
zb_expect_status 0 "the next command" -- "$ZB_BIN" --log-format text list --repo repo
zb_expect_contains "$ZB_LAST_OUTPUT" "a restore into volume app was interrupted before it changed the volume: it is as it was" "says what it found"
untouched "SIGKILL while staging, then any command"

# a user that takes its time to stop: the restore is killed while it waits
zb_dapi POST "/containers/create?name=slow" -H 'Content-Type: application/json' \
    -d '{"Image":"zbtest-busybox:1","Cmd":["/bin/sh","-c","trap \"sleep 1; exit 0\" TERM; while :; do sleep 1; done"],"HostConfig":{"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":3},"Mounts":[{"Type":"volume","Source":"app","Target":"/data"}]}}' >/dev/null
zb_dapi POST /containers/slow/start >/dev/null
kill_while_stopping() {
    "$ZB_BIN" --log-format text restore --key key "$archive" --volume app --force >restore.out 2>&1 &
    pid=$!
    for _ in $(seq 1 600); do
        cat "$ZAKPOS_BACKUP_STATE_DIR"/runs/*.json 2>/dev/null | grep -q slow && break # its run record holds it
        sleep 0.05
    done
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null
    for _ in $(seq 1 600); do # dockerd finishes the stop it was asked for
        [ "$(zb_docker_state slow)" != running ] && break
        sleep 0.05
    done
}
kill_while_stopping
zb_expect_equal "$(listing "$vol")" "$(cat before.list)" "SIGKILL while users stop: the volume was not touched"
zb_expect_status 0 "the next command" -- "$ZB_BIN" -q list --repo repo
untouched "SIGKILL while users stop, then any command"
zb_expect_equal "$(zb_docker_state slow)" "running" "the slow user runs again"

held_before=$(zb_docker_held_states user slow)
zb_expect_status 0 "restore --force" -- "$ZB_BIN" -q restore --key key "$archive" --volume app --force
zb_expect_equal "$(listing "$vol")" "$(cat archive.list)" "the volume holds exactly the archive's content"
zb_expect_equal "$(volumes)" "app" "no stage or holding volume left"
zb_expect_equal "$(zb_docker_state user) $(zb_docker_state slow)" "running running" "its users run again"
zb_expect_equal "$(zb_docker_held_states user slow)" "$held_before" "its users' states and restart policies as before"

# cut in the swap: the state a kill leaves there, made from a real staged
# restore killed before the swap, then moved half way as the swap would
cut_in_swap() { # PHASE
    kill_while_stopping
    local stage holding stage_dir hold_dir
    stage=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stage"])' "$record")
    holding=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["holding"])' "$record")
    zb_docker_volume "$holding"
    stage_dir=$(zb_volume_dir "$stage")
    hold_dir=$(zb_volume_dir "$holding")
    python3 - "$record" "$1" "$stage_dir" <<'PY'
import json, os, sys
r = json.load(open(sys.argv[1]))
r["phase"] = sys.argv[2]
st = os.stat(sys.argv[3])
if sys.argv[2] == "placing":
    r["root_times"] = [st.st_atime_ns // 10**9, st.st_atime_ns % 10**9, st.st_mtime_ns // 10**9, st.st_mtime_ns % 10**9]
json.dump(r, open(sys.argv[1], "w"))
PY
    if [ "$1" = holding ]; then
        mv "$vol/conf" "$vol/big.bin" "$hold_dir/"
    else
        (cd "$vol" && mv -- * "$hold_dir/")
        mv "$stage_dir/conf" "$stage_dir/big.bin" "$vol/"
    fi
    zb_expect_status 0 "the next command after a cut in phase $1" -- "$ZB_BIN" --log-format text list --repo repo
    zb_expect_contains "$ZB_LAST_OUTPUT" "finished replacing the content of volume app, which an interrupted restore had begun" "says so"
    zb_expect_equal "$(listing "$vol")" "$(cat archive.list)" "cut in phase $1: the volume holds the archive's content"
    zb_expect_equal "$(volumes)" "app" "cut in phase $1: stage and holding volumes removed"
    [ ! -e "$record" ] && zb_pass || zb_fail "cut in phase $1: the record is left"
    zb_expect_equal "$(zb_docker_state user) $(zb_docker_state slow)" "running running" "cut in phase $1: the users run again"
}
cut_in_swap holding
cut_in_swap placing

# After a SIGKILL in the swap, the next command finishes the replacement,
# stage and holding volumes removed, before the users start again: by
# Docker's own record of events (nanosecond times: every volume destroyed
# before the first user's start), and by the order of the tool's lines.
recovered_before_started() { # PHASE SINCE
    local events order
    events=$(zb_dapi GET "/events?since=$2&until=$(($(date +%s) + 2))&filters=%7B%22type%22%3A%5B%22container%22%2C%22volume%22%5D%7D")
    order=$(printf '%s\n' "$events" | python3 -c 'import json, sys
ev = [json.loads(l) for l in sys.stdin if l.strip()]
removed = [e["timeNano"] for e in ev if e["Type"] == "volume" and e["Action"] == "destroy" and e["Actor"]["ID"] != "app"]
started = [e["timeNano"] for e in ev if e["Type"] == "container" and e["Action"] == "start"
           and e["Actor"]["Attributes"].get("name") in ("user", "slow")]
print("volumes removed" if removed else "no volume removed", len(started), "users started",
      "after" if removed and started and max(removed) < min(started) else "not after")')
    zb_expect_equal "$order" "volumes removed 2 users started after" \
        "SIGKILL in phase $1: the users start after the replacement is finished (Docker's events)"
    order=$(printf '%s\n' "$ZB_LAST_OUTPUT" | grep -o -e 'finished replacing the content of volume app' \
        -e 'container [a-z]* was stopped: started again' | sed 's/container [a-z]*/container/' | uniq | tr '\n' '|')
    zb_expect_equal "$order" "finished replacing the content of volume app|container was stopped: started again|" \
        "SIGKILL in phase $1: the tool's lines in the same order"
}

# a real signal in the swap, once the first entry has moved (the test build
# raises it there): SIGKILL leaves the recorded state that the next command
# finishes; on SIGINT the run finishes the swap itself, the stage being
# proven. Either way the volume ends with exactly the archive's content
# (the live volume moved on before each run, so a rollback would show).
signal_in_swap() { # PHASE SIGNAL
    echo "moved on $1 $2" >"$vol/conf/app.conf"
    echo later >"$vol/later-$1-$2"
    env ZB_FAULT_AT="volume-swap-moved:$1" ZB_FAULT_SIGNAL="$2" "$ZB_FAULT_BIN" --log-format text restore --key key "$archive" \
        --volume app --force >swap.out 2>&1
    local rc=$?
    zb_expect_contains "$(cat swap.out)" "fault point volume-swap-moved reached ($1)" "signal $2 in phase $1: the point is reached"
    if [ "$2" = 9 ]; then
        zb_expect_equal "$rc" "137" "SIGKILL in phase $1 kills the run"
        local since
        since=$(date +%s.%N)
        zb_expect_status 0 "the next command after SIGKILL in phase $1" -- "$ZB_BIN" --log-format text list --repo repo
        zb_expect_contains "$ZB_LAST_OUTPUT" "finished replacing the content of volume app, which an interrupted restore had begun" "says so"
        recovered_before_started "$1" "$since"
    elif [ "$rc" = 0 ] || [ "$rc" = 130 ]; then
        zb_pass
    else
        zb_fail "SIGINT in phase $1: exit $rc: $(cat swap.out)"
    fi
    zb_expect_equal "$(listing "$vol")" "$(cat archive.list)" "signal $2 in phase $1: the volume holds the archive's content"
    zb_expect_equal "$(volumes)" "app" "signal $2 in phase $1: stage and holding volumes removed"
    [ ! -e "$record" ] && zb_pass || zb_fail "signal $2 in phase $1: the record is left"
    zb_expect_equal "$(zb_docker_state user) $(zb_docker_state slow)" "running running" "signal $2 in phase $1: the users run again"
}
signal_in_swap holding 9
signal_in_swap placing 9
signal_in_swap placing 2

zb_test_end
