# Storage servers for the remote tests, each on a free loopback port with
# its files in the test's folder, stopped by the test's cleanup even when an
# assertion fails: s3rver (S3, from npm, installed by scripts/install-deps.sh
# under /opt/zakpos-test-tools), OpenSSH's sshd (SFTP) and lighttpd with
# mod_webdav (WebDAV). A missing server is a skip, or a failure in CI.

ZB_TEST_TOOLS=${ZB_TEST_TOOLS:-/opt/zakpos-test-tools}

# zb_start_server NAME PORT LOG COMMAND...: starts a server in the
# background, registers its stop, waits for its port.
zb_start_server() {
    local name=$1 port=$2 log=$3
    shift 3
    "$@" >"$log" 2>&1 &
    local pid=$!
    zb_on_exit "kill $pid; wait $pid"
    if ! zb_wait_port "$port" 30; then
        cat "$log" >&2
        zb_fail "$name did not start"
        exit 1
    fi
    ZB_SERVER_PID=$pid
}

# zb_s3_start: s3rver with bucket "zb"; sets ZB_S3_PORT, ZB_S3_DATA and the
# AWS variables (s3rver knows the key id S3RVER; it does not check secrets).
zb_s3_start() {
    local s3rver=${ZB_S3RVER:-$ZB_TEST_TOOLS/node_modules/.bin/s3rver}
    command -v node >/dev/null 2>&1 && [ -x "$s3rver" ] || zb_require "s3rver (scripts/install-deps.sh installs it under $ZB_TEST_TOOLS)"
    ZB_S3_PORT=$(zb_free_port)
    ZB_S3_DATA=$ZB_TMP/s3data
    mkdir -p "$ZB_S3_DATA"
    zb_start_server s3rver "$ZB_S3_PORT" "$ZB_TMP/s3rver.log" \
        "$s3rver" -d "$ZB_S3_DATA" -a 127.0.0.1 -p "$ZB_S3_PORT" --configure-bucket zb --service-endpoint localhost
    ZB_S3_PID=$ZB_SERVER_PID
    export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=not-checked-by-s3rver-9f3a
    unset AWS_SESSION_TOKEN AWS_PROFILE AWS_SHARED_CREDENTIALS_FILE
}

# zb_sshd_start: sshd for the current user with a fresh host key and client
# key; sets ZB_SSH_PORT, ZB_SSH_KEY, ZB_SSH_KNOWN_HOSTS, ZB_SSH_USER.
zb_sshd_start() {
    [ -x /usr/sbin/sshd ] && command -v ssh-keygen >/dev/null 2>&1 || zb_require "OpenSSH's sshd (openssh-server)"
    local d=$ZB_TMP/ssh
    mkdir -p "$d"
    ssh-keygen -q -t ed25519 -N '' -f "$d/host_key" -C zb-test-host
    ssh-keygen -q -t ed25519 -N '' -f "$d/client_key" -C zb-test-client
    cp "$d/client_key.pub" "$d/authorized_keys"
    chmod 600 "$d/authorized_keys"
    [ "$(id -u)" = 0 ] && mkdir -p /run/sshd # privilege separation, when run as root
    ZB_SSH_PORT=$(zb_free_port)
    cat >"$d/sshd_config" <<CONF
Port $ZB_SSH_PORT
ListenAddress 127.0.0.1
HostKey $d/host_key
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
CONF
    zb_start_server sshd "$ZB_SSH_PORT" "$ZB_TMP/sshd.log" /usr/sbin/sshd -D -e -f "$d/sshd_config"
    ZB_SSH_PID=$ZB_SERVER_PID
    ZB_SSH_KEY=$d/client_key
    ZB_SSH_KNOWN_HOSTS=$d/known_hosts
    ZB_SSH_USER=$(id -un)
    echo "[127.0.0.1]:$ZB_SSH_PORT $(cut -d' ' -f1,2 "$d/host_key.pub")" >"$ZB_SSH_KNOWN_HOSTS"
}

# zb_webdav_start: lighttpd serving $ZB_TMP/dav with WebDAV and basic auth
# (user zb); sets ZB_DAV_PORT, ZB_DAV_ROOT, ZB_DAV_PASSWORD_FILE.
zb_webdav_start() {
    command -v lighttpd >/dev/null 2>&1 && [ -e /usr/lib/lighttpd/mod_webdav.so ] ||
        zb_require "lighttpd with mod_webdav (lighttpd, lighttpd-mod-webdav)"
    ZB_DAV_ROOT=$ZB_TMP/dav
    ZB_DAV_PORT=$(zb_free_port)
    ZB_DAV_PASSWORD_FILE=$ZB_TMP/dav.password
    mkdir -p "$ZB_DAV_ROOT" "$ZB_TMP/dav-upload"
    echo 'zb:dav-Secret-7c41' >"$ZB_TMP/dav.users"
    printf 'dav-Secret-7c41\n' >"$ZB_DAV_PASSWORD_FILE"
    chmod 600 "$ZB_DAV_PASSWORD_FILE"
    cat >"$ZB_TMP/lighttpd.conf" <<CONF
server.document-root = "$ZB_DAV_ROOT"
server.port = $ZB_DAV_PORT
server.bind = "127.0.0.1"
server.modules = ("mod_webdav", "mod_auth", "mod_authn_file")
server.errorlog = "$ZB_TMP/lighttpd.err"
server.upload-dirs = ("$ZB_TMP/dav-upload")
webdav.activate = "enable"
webdav.is-readonly = "disable"
auth.backend = "plain"
auth.backend.plain.userfile = "$ZB_TMP/dav.users"
auth.require = ( "/" => ( "method" => "basic", "realm" => "zb", "require" => "valid-user" ) )
CONF
    zb_start_server lighttpd "$ZB_DAV_PORT" "$ZB_TMP/lighttpd.log" lighttpd -D -f "$ZB_TMP/lighttpd.conf"
    ZB_DAV_PID=$ZB_SERVER_PID
}

# zb_remote_prepare: a key pair, a source folder and a config without
# servers ($ZB_TMP/zb.conf, the caller appends its [remote NAME] section).
zb_remote_prepare() {
    cd "$ZB_TMP" || exit 1
    "$ZB_BIN" keygen --out key >/dev/null 2>&1
    mkdir -p src/sub
    head -c 200000 /dev/urandom >src/random.bin
    echo "appendonly yes" >src/sub/redis.conf
    ln -s sub/redis.conf src/link
    {
        printf '[repository]\npath = %s/repo\nrecipients = %s/key.pub\n' "$ZB_TMP" "$ZB_TMP"
        zb_config_paths_only
    } >zb.conf
}

zb_backup_to() { "$ZB_BIN" --config zb.conf backup --repo repo --recipient key.pub --path "data=$ZB_TMP/src" "$@"; }

# zb_remote_common_checks NAME: what every remote must do, whatever its
# type: copy after backup, list, byte-identical fetch, verify and restore
# from the remote, delete, retention (never the newest), a clear failure
# when the server is down; no secret in any log line. The caller has
# written [remote NAME] in zb.conf; $1's server must stop with `zb_remote_stop`.
zb_remote_common_checks() {
    local name=$1 archive listed
    zb_expect_status 0 "backup copies to remote $name" -- zb_backup_to --remote "$name"
    archive=$(echo "$ZB_LAST_OUTPUT" | grep '^repo/')
    zb_expect_contains "$ZB_LAST_OUTPUT" "copied ${archive#repo/} to remote $name" "says it copied"
    zb_expect_status 0 "remote list" -- "$ZB_BIN" --config zb.conf remote list "$name"
    listed=$(echo "$ZB_LAST_OUTPUT" | grep -c '^zakpos-.*\.zbk ')
    zb_expect_equal "$listed" 1 "one archive on the remote"
    zb_expect_contains "$ZB_LAST_OUTPUT" "${archive#repo/}" "the one just made"

    mkdir -p fetched
    zb_expect_status 16 "fetch with no key and no trusted signer refuses" -- "$ZB_BIN" --config zb.conf fetch \
        --remote "$name" --out fetched latest
    zb_expect_contains "$ZB_LAST_OUTPUT" "--allow-untrusted" "the hint names the way past"
    zb_expect_equal "$(find fetched -type f | wc -l)" 0 "and leaves no file"
    zb_expect_status 0 "fetch latest" -- "$ZB_BIN" --config zb.conf fetch --key key --remote "$name" --out fetched latest
    if cmp -s "$archive" "fetched/${archive#repo/}"; then zb_pass; else zb_fail "the fetched archive differs from the local one"; fi
    zb_expect_status 9 "fetch never replaces a file" -- "$ZB_BIN" --config zb.conf fetch --key key --remote "$name" --out fetched latest
    # downloads go to TMPDIR: this test's own, so tests running side by side do not see each other's
    mkdir -p "$ZB_TMP/downloads"
    export TMPDIR=$ZB_TMP/downloads
    zb_expect_status 0 "verify reads remote:$name/latest" -- "$ZB_BIN" --config zb.conf verify --key key "remote:$name/latest"
    zb_expect_contains "$ZB_LAST_OUTPUT" "verified " "verify's line"
    zb_expect_status 0 "restore from remote:$name/ARCHIVE" -- "$ZB_BIN" --config zb.conf restore --key key \
        "remote:$name/${archive#repo/}" --path "data=$ZB_TMP/restored"
    zb_expect_same_tree "$ZB_TMP/src" "$ZB_TMP/restored" "restored from the remote"
    zb_expect_equal "$(find "$TMPDIR" -maxdepth 1 -name 'zakpos-backup-fetch.*' | wc -l)" 0 "the temporary downloads are gone"
    unset TMPDIR
    zb_expect_status 13 "a missing archive" -- "$ZB_BIN" --config zb.conf fetch --key key --remote "$name" --out fetched \
        zakpos-20000101T000000Z.zbk

    # retention: keep_last = 2 on the remote, whatever the repository keeps
    sed -i "/^\[remote $name\]/a keep_last = 2" zb.conf
    for _ in 1 2; do
        sleep 1 # one archive per second keeps the names' order the creation order
        zb_expect_status 0 "another backup" -- zb_backup_to
    done
    local newest
    newest=$(echo "$ZB_LAST_OUTPUT" | grep '^repo/')
    zb_expect_status 0 "remote list" -- "$ZB_BIN" --config zb.conf remote list "$name"
    zb_expect_equal "$(echo "$ZB_LAST_OUTPUT" | grep -c '^zakpos-')" 2 "retention kept 2 on the remote"
    zb_expect_contains "$ZB_LAST_OUTPUT" "${newest#repo/}" "the newest among them"
    zb_expect_equal "$(zb_archives_in repo | wc -l)" 3 "the repository keeps its own"
    zb_expect_status 0 "prune --dry-run" -- "$ZB_BIN" --config zb.conf remote prune "$name" --dry-run
    zb_expect_contains "$ZB_LAST_OUTPUT" "keep         ${newest#repo/}  last" "the newest is kept"

    zb_expect_status 0 "remote delete" -- "$ZB_BIN" --config zb.conf remote delete "$name" "${newest#repo/}"
    zb_expect_status 0 "remote list" -- "$ZB_BIN" --config zb.conf remote list "$name"
    zb_expect_equal "$(echo "$ZB_LAST_OUTPUT" | grep -c '^zakpos-')" 1 "one left after delete"

    zb_expect_status 0 "--no-remote copies nothing" -- zb_backup_to --no-remote
    if [[ "$ZB_LAST_OUTPUT" == *copied* ]]; then zb_fail "--no-remote copied"; else zb_pass; fi
    zb_expect_status 3 "an unknown remote" -- zb_backup_to --remote nowhere
    zb_expect_contains "$ZB_LAST_OUTPUT" "no remote named 'nowhere'" "names it"
    zb_expect_contains "$ZB_LAST_OUTPUT" "\"hint\":\"the remotes are: $name" "lists the remotes, in the error's JSON object"
}

# zb_expect_no_secret TEXT SECRET...: none of the secrets appears in TEXT.
zb_expect_no_secret() {
    local text=$1 s
    shift
    for s in "$@"; do
        if [[ "$text" == *"$s"* ]]; then zb_fail "a secret was logged: $s"; else zb_pass; fi
    done
}

# zb_remote_down_checks NAME PID: with the server stopped, a backup fails
# with exit 15 and a clear message after its retries; the archive stays.
zb_remote_down_checks() {
    local name=$1 pid=$2
    kill "$pid"
    wait "$pid" 2>/dev/null
    zb_expect_status 15 "server down" -- zb_backup_to --remote "$name"
    zb_expect_contains "$ZB_LAST_OUTPUT" "Couldn't connect to server" "says the server cannot be reached"
    zb_expect_contains "$ZB_LAST_OUTPUT" "(try 2 of 2)" "and that it tried again"
    zb_expect_contains "$ZB_LAST_OUTPUT" '"hint":"the archive stays in the repository' "the local archive stays"
    local archive
    archive=$(echo "$ZB_LAST_OUTPUT" | grep '^repo/')
    [ -f "$archive" ] && zb_pass || zb_fail "the local archive is gone"
}

# zb_push_stopped NAME ARCHIVE SECONDS SIGNAL: `remote push` of ARCHIVE
# (slowed by the remote's bandwidth key) stopped by SIGNAL after SECONDS;
# sets ZB_PUSH_STATUS and leaves its log in push.log.
zb_push_stopped() {
    local name=$1 archive=$2 seconds=$3 signal=$4 pusher
    "$ZB_BIN" --config zb.conf --log-format text remote push "$name" "$archive" >push.log 2>&1 &
    pusher=$!
    sleep "$seconds"
    kill "-$signal" "$pusher"
    wait "$pusher" 2>/dev/null
    ZB_PUSH_STATUS=$?
}

# zb_slow_archive NAME: a 6 MB archive and a 1M (bytes/s) bandwidth on the
# remote, so an upload takes seconds; prints the archive's path.
zb_slow_archive() {
    head -c 6000000 /dev/urandom >src/big.bin
    sed -i "/^\[remote $1\]/a bandwidth = 1M" zb.conf
    "$ZB_BIN" --config zb.conf backup --repo repo --recipient key.pub --path "data=$ZB_TMP/src" --no-remote 2>/dev/null
}
