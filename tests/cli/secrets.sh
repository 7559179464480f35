# Secrets stay with their owner. A secret key file that group or others may
# read is refused (exit 7, with a chmod hint), by readers and by config check
# alike. A daemon started with ZAKPOS_BACKUP_PASSPHRASE no longer carries it
# in its environment (/proc/PID/environ), is not dumpable (its /proc files
# belong to root although it runs as nobody) and has a core limit of 0; its
# scheduled run still backs up with the passphrase, handed down in a memory
# file.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
cd "$ZB_TMP"
"$ZB_BIN" keygen --out key >/dev/null 2>&1
mkdir src && echo "appendonly yes" >src/redis.conf
a=$("$ZB_BIN" backup --repo repo --recipient key.pub --path src 2>/dev/null)

chmod 644 key
zb_expect_status 7 "a secret key others may read is refused" -- "$ZB_BIN" --log-format text verify --key key "$a"
zb_expect_contains "$ZB_LAST_OUTPUT" "secret key file key is accessible by others (mode 0644); refused" "names the file and mode"
zb_expect_contains "$ZB_LAST_OUTPUT" "hint: chmod 600 key" "tells how to fix it"
{
    printf '[repository]\npath = %s/repo\nkey_file = %s/key\n' "$ZB_TMP" "$ZB_TMP"
    zb_config_paths_only
} >check.conf
zb_expect_status 7 "config check reports the same rule" -- "$ZB_BIN" --log-format text config check --config check.conf
zb_expect_contains "$ZB_LAST_OUTPUT" "repository.key_file: secret key file $ZB_TMP/key is accessible by others" "names the key"
chmod 640 key
zb_expect_status 7 "group read is refused too" -- "$ZB_BIN" verify --key key "$a"
chmod 600 key
zb_expect_status 0 "mode 600 is accepted" -- "$ZB_BIN" verify --key key "$a"
zb_expect_status 0 "config check accepts it" -- "$ZB_BIN" config check --config check.conf

# the daemon, as nobody, with the passphrase in its environment
passphrase="tr0ub4dor-$RANDOM-$RANDOM"
printf '%s\n' "$passphrase" >pass
{
    printf '[repository]\npath = %s/daemon-repo\n' "$ZB_TMP"
    zb_config_paths_only
    printf '[job every-minute]\nschedule = * * * * *\naction = backup\n'
} >zb.conf
chown -R 65534:65534 "$ZB_TMP"
ulimit -S -c unlimited 2>/dev/null || true # so that a limit of 0 is the program's doing
ZAKPOS_BACKUP_PASSPHRASE=$passphrase setpriv --reuid=65534 --regid=65534 --clear-groups \
    "$ZB_BIN" --config zb.conf --log-format text daemon >daemon.log 2>&1 &
daemon=$!
zb_on_exit "kill -9 $daemon"
for _ in $(seq 1 150); do
    grep -Eq "job every-minute (succeeded|failed)" daemon.log && break
    sleep 0.5
done
zb_expect_contains "$(cat daemon.log)" "job every-minute succeeded" "the scheduled run succeeded"
if tr '\0' '\n' <"/proc/$daemon/environ" | grep -q "$passphrase"; then
    zb_fail "the passphrase is still in the daemon's environment"
else zb_pass; fi
zb_expect_equal "$(stat -c %u "/proc/$daemon/environ")" "0" "the daemon is not dumpable (its /proc files are root's)"
zb_expect_equal "$(awk '/Max core file size/ {print $5 "/" $6}' "/proc/$daemon/limits")" "0/0" "its core limit is 0"
kill -TERM "$daemon"
wait "$daemon"
b=$(zb_archives_in daemon-repo | head -n 1)
zb_expect_status 0 "the run's archive opens with the passphrase" -- "$ZB_BIN" verify --passphrase-file pass "$b"
zb_test_end
