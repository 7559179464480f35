# Writes committed by clients while a parallel backup runs are not blocked
# and do not appear in it: two tables written in the same transactions come
# back as the same prefix of the writer's sequence, with no gap and no row
# of one table missing from the other.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/pg.sh"
zb_test_begin
cd "$ZB_TMP"
zb_pg_start
zb_psql -c "CREATE DATABASE pos"
export ZB_PG_DB=pos
zb_psql <<'SQL'
CREATE SEQUENCE ticket;
CREATE TABLE sales (id bigint PRIMARY KEY, note text);
CREATE TABLE payments (id bigint PRIMARY KEY, note text);
INSERT INTO sales SELECT g, repeat('s', 200) FROM generate_series(1, 300000) g;
INSERT INTO payments SELECT g, repeat('p', 200) FROM generate_series(1, 300000) g;
SELECT setval('ticket', 300000);
SQL

# one writer session, one transaction per sale: ids commit in order, until
# the test stops it. The statements come through a FIFO so that $writer is
# the loop that makes them: stopped, psql runs what the FIFO holds and ends.
# (Through a pipe, $! was psql's side: the kill did not stop the writer, and
# the test waited for all of its sales.)
mkfifo sales.fifo
(
    while :; do
        echo "BEGIN; INSERT INTO sales VALUES (nextval('ticket'), 'live'); INSERT INTO payments VALUES (currval('ticket'), 'live'); COMMIT;"
    done
) >sales.fifo &
writer=$!
zb_on_exit "kill $writer"
zb_psql <sales.fifo >/dev/null 2>&1 &
session=$!
# the writer's sales are past 300000: the backup starts once some landed
sales_above() { [ "$(ZB_PG_DB=pos zb_psql -At -c "SELECT count(*) FROM sales")" -gt "$1" ]; }
zb_wait_until sales_above 300000
zb_expect_status 0 "backup while the writer runs" -- "$ZB_BIN" -q backup --repo repo --no-encryption \
    --pg "$(zb_pg_conninfo pos)" --jobs 2 --zstd-level 9 --pg-chunk-size 256K
archive=$("$ZB_BIN" latest --repo repo)
zb_expect_status 0 "restore" -- "$ZB_BIN" -q restore "$archive" --pg-target "$(zb_pg_conninfo copy)"

q() { ZB_PG_DB=copy zb_psql -At -c "$1"; }
sales=$(q "SELECT count(*) FROM sales")
# the writer is stopped once a sale landed after the snapshot (or never, if
# the backup blocked it: then the check below fails)
zb_wait_until sales_above "$sales"
kill "$writer" 2>/dev/null
wait "$writer" 2>/dev/null
wait "$session"
zb_expect_equal "$(q "SELECT max(id) FROM sales")" "$sales" "the restored sales are a prefix, no gap"
zb_expect_equal "$(q "SELECT count(*) FROM payments")" "$sales" "as many payments as sales"
zb_expect_equal "$(q "SELECT count(*) FROM sales FULL JOIN payments USING (id) WHERE sales.id IS NULL OR payments.id IS NULL")" \
    "0" "every sale has its payment: both tables from one snapshot"
final=$(ZB_PG_DB=pos zb_psql -At -c "SELECT count(*) FROM sales")
if [ "$sales" -gt 300000 ]; then zb_pass; else zb_fail "no write landed before the snapshot ($sales rows): the writer was not running"; fi
if [ "$final" -gt "$sales" ]; then zb_pass; else zb_fail "no write landed after the snapshot ($final rows): the writer was blocked"; fi
echo "restored $sales sales; the source had $final when the writer stopped"
zb_expect_equal "$(ZB_PG_DB=pos zb_psql -At -c "SELECT count(*) FROM sales")" "$final" "the writer stopped when told"
zb_test_end
