# A backup that cannot be made consistent and whole fails fast and clearly,
# and leaves no archive: a conflicting lock, a wrong password, no server, and
# a server that dies in the middle.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/pg.sh"
zb_test_begin
cd "$ZB_TMP"
secret='pw for the test'
zb_pg_start "$secret"
printf '%s\n' "$secret" >pw
printf 'wrong\n' >wrong
zb_psql -c "CREATE DATABASE pos"
ZB_PG_DB=pos zb_psql -c "CREATE TABLE public.\"Order Lines\" (id int, body text)" \
    -c "INSERT INTO public.\"Order Lines\" SELECT g, md5(g::text) || repeat('x', 300) FROM generate_series(1, 400000) g"
url="postgresql://postgres@127.0.0.1:$ZB_PG_PORT/pos"
backup() { "$ZB_BIN" --log-format text backup --repo repo --no-encryption --pg "$url" "$@"; }

# an ALTER in progress holds ACCESS EXCLUSIVE: the backup gives up after its
# own lock timeout (the one given, not the default), while the lock is still
# held. The server is the oracle: it logs the statements of the database's
# sessions, and the locker's session holds its lock until it is ended.
zb_psql -c "ALTER DATABASE pos SET log_statement = 'all'"
locked() {
    zb_psql -At -c "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND relation IS NOT NULL AND granted AND database = (SELECT oid FROM pg_database WHERE datname = 'pos')"
}
locks_held() { [ "$(locked)" = "$1" ]; }
end_locker() { zb_psql -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'zb-locker'" >/dev/null; }
(echo "SET application_name = 'zb-locker'; BEGIN; LOCK TABLE public.\"Order Lines\" IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600);" |
    ZB_PG_DB=pos zb_psql >/dev/null 2>&1) &
locker=$!
zb_on_exit "kill $locker"
zb_wait_until locks_held 1
zb_expect_equal "$(locked)" "1" "the other session holds its lock"
zb_expect_status 10 "a table locked by another session" -- backup --pg-password-file pw --pg-lock-timeout 500
zb_expect_contains "$ZB_LAST_OUTPUT" 'cannot lock table "public"."Order Lines"' "names the table"
zb_expect_contains "$ZB_LAST_OUTPUT" "lock timeout" "says it timed out"
zb_expect_contains "$ZB_LAST_OUTPUT" "hint: another session holds a conflicting lock" "says what to do"
zb_expect_equal "$(locked)" "1" "the backup gave up while the lock was still held"
server_log=$(cat "$ZB_TMP/pg.log")
zb_expect_contains "$server_log" "statement: SET LOCAL lock_timeout = 500"$'\n' "the server ran the backup's lock with the timeout given"
zb_expect_contains "$server_log" "canceling statement due to lock timeout" "the server cancelled the lock on its timeout"
zb_expect_equal "$(zb_archives_in repo)" "" "no archive after the lock failure"
end_locker
wait "$locker" 2>/dev/null
zb_wait_until locks_held 0
zb_expect_equal "$(locked)" "0" "the other session's lock is gone"
zb_psql -c "ALTER DATABASE pos RESET log_statement"

zb_expect_status 10 "a wrong password" -- backup --pg-password-file wrong
zb_expect_contains "$ZB_LAST_OUTPUT" "password authentication failed" "quotes the server"
if [[ "$ZB_LAST_OUTPUT" == *wrong* ]]; then zb_fail "the password appears in the output"; else zb_pass; fi
zb_expect_equal "$(zb_archives_in repo)" "" "no archive after a wrong password"

port=$(zb_pg_free_port)
zb_expect_status 10 "no server" -- "$ZB_BIN" --log-format text backup --repo repo --no-encryption --pg "postgresql://postgres@127.0.0.1:$port/pos"
zb_expect_contains "$ZB_LAST_OUTPUT" "cannot connect to PostgreSQL at 127.0.0.1:$port/pos" "names the address"

# the server dies while the rows stream: slow compression keeps the copy going
backup --pg-password-file pw --jobs 1 --zstd-level 19 --zstd-workers 0 --pg-chunk-size 64K >out 2>err &
pid=$!
copying() { [ "$(zb_psql -At -c "SELECT count(*) FROM pg_stat_activity WHERE datname = 'pos' AND state = 'active' AND query LIKE 'COPY %'")" -ge 1 ]; }
zb_wait_until copying
copying && zb_pass || zb_fail "the backup never streamed rows"
runuser -u postgres -- "$ZB_PG_SERVER_BIN/pg_ctl" -D "$ZB_PG_DATA" -m immediate stop >/dev/null
wait "$pid"
zb_expect_equal "$?" "10" "a server that dies mid-backup fails the backup (PostgreSQL error)"
zb_expect_contains "$(cat err)" "backup of database pos" "says which source failed"
zb_expect_equal "$(zb_archives_in repo)" "" "no archive after the server died"
zb_expect_equal "$(ls -A repo | grep -v '^\.zakpos-backup\.lock$')" "" "no partial file left either"
zb_expect_equal "$(cat out)" "" "nothing printed on stdout"
zb_test_end
