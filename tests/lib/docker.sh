# A throwaway Docker daemon for a test: dockerd as root with its socket, data
# and exec roots in the test's temp folder (vfs storage, no bridge, no
# iptables, a 2 s shutdown timeout so that a paused container does not hold
# up a restart), stopped by the test's cleanup even when an assertion fails.
# Sets DOCKER_HOST (exported) and ZB_DOCKER_SOCK; zb_docker_image makes a
# busybox image locally (no registry).
. "$(dirname "${BASH_SOURCE[0]}")/rooted.sh"

# A test CA, a server certificate for 127.0.0.1 and a client certificate;
# the client's ca.pem, cert.pem and key.pem go in DIR/client, where
# DOCKER_CERT_PATH expects them.
zb_docker_make_certs() {
    local dir=$1
    mkdir -p "$dir/client" "$dir/server"
    local key=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    {
        openssl req -x509 "${key[@]}" -keyout "$dir/ca-key.pem" -out "$dir/ca.pem" -days 2 -subj /CN=zb-test-ca &&
            openssl req "${key[@]}" -keyout "$dir/server/key.pem" -out "$dir/server.csr" -subj /CN=127.0.0.1 &&
            openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" -CAcreateserial \
                -out "$dir/server/cert.pem" -days 2 \
                -extfile <(printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n') &&
            openssl req "${key[@]}" -keyout "$dir/client/key.pem" -out "$dir/client.csr" -subj /CN=zb-test-client &&
            openssl x509 -req -in "$dir/client.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" -CAcreateserial \
                -out "$dir/client/cert.pem" -days 2 -extfile <(printf 'extendedKeyUsage=clientAuth\n') &&
            cp "$dir/ca.pem" "$dir/client/ca.pem"
    } >"$dir/openssl.log" 2>&1 || { cat "$dir/openssl.log" >&2; zb_fail "cannot make test certificates"; exit 1; }
}

# zb_docker_start [tls]: with "tls" the engine also listens on a loopback
# port that requires client certificates (--tlsverify); ZB_DOCKER_TLS_HOST
# (tcp://127.0.0.1:PORT) and ZB_DOCKER_CERTS (its client files) are set.
zb_docker_start() {
    command -v dockerd >/dev/null 2>&1 || zb_require "dockerd (package docker.io)"
    [ "$(id -u)" = 0 ] || zb_require "root, to run dockerd"
    ZB_DOCKER_SOCK=$ZB_TMP/d.sock
    local root=$ZB_TMP/docker tls=()
    mkdir -p "$root"
    if [ "${1:-}" = tls ]; then
        command -v openssl >/dev/null 2>&1 || zb_require "openssl (to make test certificates)"
        zb_docker_make_certs "$ZB_TMP/certs"
        local port
        port=$(zb_free_port)
        tls=(-H "tcp://127.0.0.1:$port" --tlsverify --tlscacert "$ZB_TMP/certs/ca.pem" --tlscert "$ZB_TMP/certs/server/cert.pem"
            --tlskey "$ZB_TMP/certs/server/key.pem")
        ZB_DOCKER_TLS_HOST=tcp://127.0.0.1:$port
        ZB_DOCKER_CERTS=$ZB_TMP/certs/client
    fi
    dockerd --storage-driver=vfs --bridge=none --iptables=false --ip6tables=false --shutdown-timeout 2 -H "unix://$ZB_DOCKER_SOCK" "${tls[@]}" \
        --data-root "$root/data" --exec-root "$root/exec" --pidfile "$root/pid" >"$root/log" 2>&1 &
    ZB_DOCKERD_PID=$!
    zb_on_exit "zb_docker_stop"
    for _ in $(seq 1 150); do
        curl -sf --unix-socket "$ZB_DOCKER_SOCK" http://d/_ping >/dev/null 2>&1 && break
        kill -0 "$ZB_DOCKERD_PID" 2>/dev/null || break
        sleep 0.1
    done
    if ! curl -sf --unix-socket "$ZB_DOCKER_SOCK" http://d/_ping >/dev/null 2>&1; then
        tail -20 "$root/log" >&2
        zb_fail "dockerd did not start"
        exit 1
    fi
    export DOCKER_HOST=unix://$ZB_DOCKER_SOCK
    export ZAKPOS_BACKUP_STATE_DIR=$ZB_TMP/state
}

zb_docker_stop() {
    kill "$ZB_DOCKERD_PID" 2>/dev/null
    for _ in $(seq 1 100); do
        kill -0 "$ZB_DOCKERD_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$ZB_DOCKERD_PID" 2>/dev/null
    pkill -9 -f "containerd.*$ZB_TMP" 2>/dev/null
    # a container whose shim was killed keeps running on its own
    zb_kill_rooted_under "$ZB_TMP/docker"
    # anything dockerd left mounted under the test folder
    grep -o " $ZB_TMP/[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
    true
}

# zb_dapi METHOD PATH [curl args...]: one Docker API call, body on stdout.
zb_dapi() {
    local method=$1 path=$2
    shift 2
    curl -s --unix-socket "$ZB_DOCKER_SOCK" -X "$method" "$@" "http://d/v1.41$path"
}

# zb_docker_image: imports "zbtest-busybox:1" from the host's static busybox.
zb_docker_image() {
    [ -x /bin/busybox ] || zb_require "/bin/busybox (package busybox-static)"
    local root=$ZB_TMP/bbroot
    mkdir -p "$root/bin" "$root/data"
    cp /bin/busybox "$root/bin/busybox"
    ln -sf busybox "$root/bin/sh"
    ln -sf busybox "$root/bin/sleep"
    tar -C "$root" -cf "$ZB_TMP/bb.tar" .
    zb_dapi POST "/images/create?fromSrc=-&repo=zbtest-busybox&tag=1" -H 'Content-Type: application/x-tar' \
        --data-binary "@$ZB_TMP/bb.tar" | grep -q '"status"' || { zb_fail "cannot import the busybox image"; exit 1; }
}

# zb_docker_run NAME VOLUME LABELS_JSON: a running busybox container that
# sleeps with VOLUME at /data and, like the services it stands for, exits
# on SIGTERM (a bare sleep as the container's first process would ignore it,
# and every stop would wait out the full grace period).
# A fourth argument names a restart policy (always, unless-stopped...).
zb_docker_run() {
    local name=$1 volume=$2 labels=${3:-{\}} restart=${4:-no}
    zb_dapi POST "/containers/create?name=$name" -H 'Content-Type: application/json' \
        -d "{\"Image\":\"zbtest-busybox:1\",\"Cmd\":[\"/bin/sh\",\"-c\",\"trap 'exit 0' TERM; while :; do sleep 1; done\"],\"Labels\":$labels,\"HostConfig\":{\"RestartPolicy\":{\"Name\":\"$restart\"},\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"$volume\",\"Target\":\"/data\"}]}}" >/dev/null
    zb_dapi POST "/containers/$name/start" >/dev/null
}

# zb_docker_state NAME: running, paused, exited...
zb_docker_state() { zb_dapi GET "/containers/$1/json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["State"]["Status"])'; }

# zb_docker_held_states NAME...: per container its name, state and restart
# policy as Docker's own API reports them, one line each: a run that holds
# services must leave these as it found them.
zb_docker_held_states() {
    local name
    for name in "$@"; do
        zb_dapi GET "/containers/$name/json" | python3 -c 'import json,sys; c=json.load(sys.stdin)
print(c["Name"], c["State"]["Status"], json.dumps(c["HostConfig"]["RestartPolicy"], sort_keys=True))'
    done
}

# zb_volume_dir NAME: the volume's folder on this host (local driver).
zb_volume_dir() { zb_dapi GET "/volumes/$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Mountpoint"])'; }

# zb_docker_setup [tls]: the usual start of a Docker test, in $ZB_TMP:
# dockerd, the busybox image and a key pair (key, key.pub).
zb_docker_setup() {
    zb_docker_setup_bare "$@"
    zb_docker_image
}

# zb_docker_setup_bare [tls]: the same without the busybox image, for tests
# that run no container of their own.
zb_docker_setup_bare() {
    cd "$ZB_TMP" || exit 1
    zb_docker_start "$@"
    "$ZB_BIN" keygen --out key >/dev/null 2>&1
}

# zb_docker_volume NAME...: new local volumes.
zb_docker_volume() {
    local name
    for name in "$@"; do
        zb_dapi POST /volumes/create -H 'Content-Type: application/json' -d "{\"Name\":\"$name\"}" >/dev/null
    done
}

# zb_run_records: how many run records the state folder holds.
zb_run_records() { ls "$ZAKPOS_BACKUP_STATE_DIR/runs" 2>/dev/null | grep -c '\.json$'; }

# zb_wait_state NAME STATE: up to 120 s for a container to reach STATE.
zb_wait_state() { zb_wait_until zb_docker_state_is "$1" "$2"; }
zb_docker_state_is() { [ "$(zb_docker_state "$1")" = "$2" ]; }
