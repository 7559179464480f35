# Ctrl-C (SIGINT) or SIGTERM while a restore waits on the server: the
# statements running there are cancelled, the restore exits 130 at once
# rather than when the server is done, and the partly restored database is
# dropped. The index here calls a function that sleeps 10 ms a row, so
# building it takes 30 s; the server's log shows the build cancelled, not
# left to finish.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/pg.sh"
zb_test_begin
cd "$ZB_TMP"
zb_pg_start
zb_psql -c "CREATE DATABASE slow"
ZB_PG_DB=slow zb_psql -c "CREATE FUNCTION public.slow_key(i int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT i'" \
    -c "CREATE TABLE public.t (id int)" -c "INSERT INTO public.t SELECT generate_series(1, 3000)" \
    -c "CREATE INDEX t_slow ON public.t (public.slow_key(id))" \
    -c "CREATE OR REPLACE FUNCTION public.slow_key(i int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS
        'BEGIN PERFORM pg_sleep(0.01); RETURN i; END'"
"$ZB_BIN" keygen --out key >/dev/null 2>&1
zb_expect_status 0 "backup" -- "$ZB_BIN" -q backup --repo repo --recipient key.pub --pg "$(zb_pg_conninfo slow)"
archive=$ZB_LAST_OUTPUT

# index builds the server cancelled at a client's request, by its log
cancelled_builds() {
    grep -A3 'ERROR:  canceling statement due to user request' "$ZB_TMP/pg.log" | grep -c 'STATEMENT:  CREATE INDEX t_slow'
}
cancelled=0
building_index() {
    zb_psql -At -c "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE 'zbrestore%' AND query LIKE 'CREATE INDEX%' AND state = 'active'"
}
for signal in INT TERM; do
    "$ZB_BIN" --log-format text restore --key key "$archive" --pg-target "$(zb_pg_conninfo "copy_$signal")" >"out.$signal" 2>&1 &
    pid=$!
    zb_on_exit "kill -9 $pid 2>/dev/null"
    for _ in $(seq 1 300); do
        [ "$(building_index)" = 1 ] && break
        sleep 0.1
    done
    zb_expect_equal "$(building_index)" "1" "SIG$signal: the restore is building the slow index"
    kill -"$signal" "$pid"
    wait "$pid"
    status=$?
    zb_expect_equal "$status" "130" "SIG$signal: interrupted"
    cancelled=$((cancelled + 1))
    zb_expect_equal "$(cancelled_builds)" "$cancelled" "SIG$signal: the server cancelled the index build"
    zb_expect_contains "$(cat "out.$signal")" "interrupted" "SIG$signal: says so"
    zb_expect_equal "$(zb_psql -At -c "SELECT count(*) FROM pg_database WHERE datname = 'copy_$signal' OR datname LIKE 'zbrestore%'")" \
        "0" "SIG$signal: no database left behind"
    zb_expect_equal "$(zb_psql -At -c "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'CREATE INDEX%'")" "0" \
        "SIG$signal: nothing left running on the server"
done
zb_test_end
