# The systemd units, installed under a prefix of their own so that the binary
# they name exists: systemd-analyze verify finds nothing to say about them
# (Documentation= included: the installed page must open), their sandbox
# rates at most 3.0 on systemd-analyze security, the directives the sandbox
# rests on are there, their secrets are credentials read through variables
# the tool knows, and the timer starts the job of the configuration.
# Argument: the build tree.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
build=${1:?the build tree}
prefix=$ZB_TMP/prefix
units=$prefix/lib/systemd/system
zb_expect_status 0 "cmake --install --prefix" -- cmake --install "$build" --prefix "$prefix"
service=$units/zakpos-backup.service daemon=$units/zakpos-backup-daemon.service timer=$units/zakpos-backup.timer

# value KEY FILE: the values of KEY= in FILE, one per line
value() { sed -n "s/^$1=//p" "$2"; }

if command -v systemd-analyze >/dev/null 2>&1; then
    verify() { (cd "$ZB_TMP" && MANPATH="$prefix/share/man:" systemd-analyze verify "$@" 2>&1); }
    zb_expect_equal "$(verify "$service" "$daemon" "$timer")" "" "systemd-analyze verify has nothing to say"
    # it does look: a unit with a mistake is reported
    mkdir -p "$ZB_TMP/broken"
    sed 's/^ProtectSystem=strict$/ProtectSytem=strict/' "$service" >"$ZB_TMP/broken/zakpos-backup.service"
    zb_expect_contains "$(verify "$ZB_TMP/broken/zakpos-backup.service")" "Unknown key 'ProtectSytem'" \
        "verify reports a misspelt directive"
    for unit in "$service" "$daemon"; do
        zb_expect_status 0 "$(basename "$unit") exposure at most 3.0" -- \
            env MANPATH="$prefix/share/man:" systemd-analyze security --offline=yes --threshold=30 "$unit"
    done
else
    echo "note: systemd-analyze is not installed; the units are checked line by line only"
    for unit in "$service" "$daemon" "$timer"; do
        bad=$(grep -nvE '^(#.*|\[(Unit|Service|Timer|Install)\]|[A-Za-z]+=.*|)$' "$unit")
        zb_expect_equal "$bad" "" "$(basename "$unit"): comments, sections and Key=value lines only"
    done
fi

# the sandbox both services rest on
for unit in "$service" "$daemon"; do
    name=$(basename "$unit")
    for directive in ProtectSystem=strict ProtectHome=yes PrivateTmp=yes NoNewPrivileges=yes \
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" CapabilityBoundingSet=CAP_DAC_READ_SEARCH \
        StateDirectory=zakpos-backup ReadWritePaths=-/var/backups/zakpos-backup; do
        if grep -qxF "$directive" "$unit"; then zb_pass; else zb_fail "$name lacks $directive"; fi
    done
    # every credential variable names a credential the unit loads, and is a variable the tool reads
    creds=$ZB_TMP/creds-$name
    mkdir -p "$creds"
    envs=()
    while IFS= read -r assignment; do
        var=${assignment%%=*} path=${assignment#*=}
        if [[ "$path" == %d/* ]]; then
            id=${path#%d/}
            if value LoadCredential "$unit" | grep -q "^$id:/"; then zb_pass; else zb_fail "$name: $var reads credential $id, which it does not load"; fi
            echo secret >"$creds/$id"
            path=$creds/$id
        fi
        envs+=("$var=$path")
    done < <(value Environment "$unit")
    zb_expect_equal "${#envs[@]}" "1" "$name passes the database password as a credential"
    # (the example's recipient key is the operator's file: left out here, as in the checks below)
    zb_expect_status 0 "$name: config check with the unit's environment" -- \
        env "${envs[@]}" ZAKPOS_BACKUP_RECIPIENTS= "$ZB_BIN" config check --config "$ZB_SOURCE_DIR/docs/examples/zakpos-backup.conf"
    for e in "${envs[@]}"; do zb_expect_contains "$ZB_LAST_OUTPUT" "(env ${e%%=*})" "$name: the tool reads ${e%%=*}"; done
done

# the oneshot runs the job that the built-in defaults and the example both have
zb_expect_equal "$(value ExecStart "$service")" "$prefix/bin/zakpos-backup run nightly" "the timer's service runs 'run nightly'"
: >"$ZB_TMP/empty.conf"
# (the example's password file is the operator's too: a readable one stands in, as the units pass one)
echo secret >"$ZB_TMP/pg_password"
for config in "$ZB_TMP/empty.conf" "$ZB_SOURCE_DIR/docs/examples/zakpos-backup.conf"; do
    out=$(ZAKPOS_BACKUP_RECIPIENTS='' ZAKPOS_BACKUP_PG_PASSWORD_FILE="$ZB_TMP/pg_password" "$ZB_BIN" config check --config "$config" 2>&1)
    zb_expect_contains "$out" 'job.nightly = backup "0 2 * * *" then prune' "$(basename "$config"): job nightly backs up at 02:00, then prunes"
done
zb_expect_equal "$(value Type "$service")" "oneshot" "the timer's service is a oneshot"
zb_expect_equal "$(value OnCalendar "$timer")" "*-*-* 02:00:00" "the timer fires at the job's 02:00"
zb_expect_equal "$(value Persistent "$timer")" "true" "a missed night is caught up"
zb_expect_equal "$(value RandomizedDelaySec "$timer")" "30min" "a random delay spreads the hosts"
zb_expect_equal "$(value WantedBy "$timer")" "timers.target" "the timer is enabled with timers.target"

# the daemon: reload, stop through the daemon alone, and never beside the timer
zb_expect_equal "$(value ExecStart "$daemon")" "$prefix/bin/zakpos-backup daemon" "the daemon unit runs 'daemon'"
zb_expect_equal "$(value ExecReload "$daemon")" '/bin/kill -HUP $MAINPID' "reload is SIGHUP"
zb_expect_equal "$(value KillMode "$daemon")" "mixed" "SIGTERM goes to the daemon, which stops its jobs"
zb_expect_equal "$(value Conflicts "$daemon")" "zakpos-backup.timer" "the daemon and the timer exclude each other"
zb_expect_equal "$(value WantedBy "$daemon")" "multi-user.target" "the daemon is enabled with multi-user.target"
zb_test_end
