# zb_pids_rooted_under DIR: the processes whose root directory
# (/proc/PID/root) is a folder under DIR, as a container's is its root file
# system under the test dockerd's data root. Those processes outlive a
# killed dockerd and its shims, and nothing in their command lines names
# the folder. They live in a mount namespace of their own, where that link
# reads "/", so the folder is matched by device and inode, not by name.
zb_pids_rooted_under() {
    local dir=$1 link id
    local -A roots=()
    while read -r id; do
        roots[$id]=1
    done < <(find "$dir" -maxdepth 6 -type d -printf '%D:%i\n' 2>/dev/null)
    [ "${#roots[@]}" -gt 0 ] || return 0
    # one stat for every process; a process that ends meanwhile is skipped
    while read -r link id; do
        [ -n "${roots[$id]:-}" ] || continue
        link=${link#/proc/}
        echo "${link%/root}"
    done < <(stat -L -c '%n %d:%i' /proc/[0-9]*/root 2>/dev/null)
}

# zb_kill_rooted_under DIR: SIGKILL to those processes until none is left
# (a container's init may start another before it dies); a process stopped
# by the freezer still takes SIGKILL.
zb_kill_rooted_under() {
    local dir=$1 pids _
    for _ in $(seq 1 50); do
        pids=$(zb_pids_rooted_under "$dir")
        [ -n "$pids" ] || return 0
        echo "$pids" | xargs -r kill -9 2>/dev/null
        sleep 0.2
    done
    return 1
}
