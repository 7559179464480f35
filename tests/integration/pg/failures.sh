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
# SIGTERM while the leader waits for that lock, under a lock timeout far
# longer than the test: the wait is cancelled on the server and the backup
# exits interrupted at once
statement_waits() {
    [ "$(zb_psql -At -c "SELECT count(*) FROM pg_stat_activity WHERE datname = 'pos' AND wait_event_type = 'Lock' AND query LIKE '$1 %'")" -ge 1 ]
}
# term_during_lock_wait PREFIX WHO COMMAND...: runs the backup COMMAND until
# a statement of its starting with PREFIX waits for a lock, then SIGTERM:
# exit 130, the statement cancelled on the server, no archive (timeout 120
# only bounds a hang)
term_during_lock_wait() {
    local prefix=$1 who=$2 log_at pid status
    shift 2
    log_at=$(stat -c %s "$ZB_TMP/pg.log")
    timeout -k 5 120 "$@" >out-term 2>err-term &
    pid=$!
    zb_wait_until statement_waits "$prefix"
    statement_waits "$prefix" && zb_pass || zb_fail "$who never waited for the lock"
    kill -TERM "$pid"
    wait "$pid"
    status=$?
    zb_expect_equal "$status" "130" "SIGTERM while $who waits for a lock: interrupted"
    zb_expect_contains "$(tail -c +$((log_at + 1)) "$ZB_TMP/pg.log")" "canceling statement due to user request" \
        "the lock wait of $who was cancelled on the server"
    zb_expect_equal "$(zb_archives_in repo)" "" "no archive after $who was interrupted"
}
term_during_lock_wait "LOCK TABLE" "the leader" "$ZB_BIN" --log-format text backup --repo repo --no-encryption \
    --pg "$url" --pg-password-file pw --pg-lock-timeout 600000
zb_expect_equal "$(locked)" "1" "the other session still holds its lock"
end_locker
wait "$locker" 2>/dev/null
zb_wait_until locks_held 0
zb_expect_equal "$(locked)" "0" "the other session's lock is gone"
zb_psql -c "ALTER DATABASE pos RESET log_statement"

# A DDL statement queued on a table after the backup locked it: a copy
# worker that then reaches the table waits behind the DDL, the DDL waits for
# the leader, and the leader (on the client) for the worker, which the
# server cannot see as a deadlock. Every connection beside the leader waits
# no longer than the leader's lock timeout, so the backup fails naming the
# table instead of hanging (timeout 120 only bounds a hang). --jobs 3: the
# third connection is a plain copy worker. The tables are large enough to
# be copied one to a statement, so each connection takes one.
for t in a b c; do
    ZB_PG_DB=pos zb_psql -c "CREATE TABLE public.w_$t AS SELECT g AS id, repeat('y', 300) AS body FROM generate_series(1, 10000) g"
done
queued() {
    zb_psql -At -c "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND NOT granted AND relation IS NOT NULL"
}
cat >queue_ddl.sh <<EOF_QUEUE
for t in w_a w_b w_c; do
    (runuser -u postgres -- '$ZB_PG_BIN/psql' -X -q -h '$ZB_PG_SOCKET' -p '$ZB_PG_PORT' -d pos \
        -c "ALTER TABLE public.\$t ADD COLUMN \$1 int" >/dev/null 2>&1 &)
done
for i in \$(seq 600); do
    [ "\$(runuser -u postgres -- '$ZB_PG_BIN/psql' -X -At -h '$ZB_PG_SOCKET' -p '$ZB_PG_PORT' -d postgres \
        -c "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND NOT granted AND relation IS NOT NULL")" = 3 ] && break
    sleep 0.1
done
EOF_QUEUE
ZB_FAULT_AT=pg-tables-locked ZB_FAULT_RUN="bash $ZB_TMP/queue_ddl.sh added" zb_expect_status 10 \
    "DDL queued behind the backup's locks" -- timeout -k 5 120 "$ZB_FAULT_BIN" --log-format text backup --repo repo \
    --no-encryption --pg "$url" --pg-password-file pw --pg-lock-timeout 500 --jobs 3
zb_expect_contains "$ZB_LAST_OUTPUT" 'table public.w_' "names a table the DDL waits for"
zb_expect_contains "$ZB_LAST_OUTPUT" "lock timeout" "says it timed out"
zb_expect_equal "$(zb_archives_in repo)" "" "no archive after the queued DDL"
ddl_done() { [ "$(ZB_PG_DB=pos zb_psql -At -c "SELECT count(*) FROM pg_attribute WHERE attname = '$1' AND attrelid::regclass::text LIKE 'w\\_%'")" = 3 ]; }
zb_wait_until ddl_done added
zb_expect_equal "$(queued)" "0" "no DDL is left waiting"
ddl_done added && zb_pass || zb_fail "the queued DDL statements did not complete after the backup"
# SIGTERM while a copy worker waits behind such a DDL, under a lock timeout
# far longer than the test: the backup cancels the worker's statement
term_during_lock_wait COPY "a copy worker" env ZB_FAULT_AT=pg-tables-locked \
    ZB_FAULT_RUN="bash $ZB_TMP/queue_ddl.sh again" "$ZB_FAULT_BIN" --log-format text backup --repo repo \
    --no-encryption --pg "$url" --pg-password-file pw --pg-lock-timeout 600000 --jobs 3
zb_wait_until ddl_done again
ddl_done again && zb_pass || zb_fail "the queued DDL statements did not complete after the interrupted backup"
ZB_PG_DB=pos zb_psql -c "DROP TABLE public.w_a, public.w_b, public.w_c"

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
