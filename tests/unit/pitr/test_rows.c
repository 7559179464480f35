#include "zb_cmocka.h"

#include "zakpos_backup/source/pg/pitr/rows.h"

#include <jansson.h>

/* The backup's summary names tables as quote_ident writes them: quoted only
 * where needed, quotes inside doubled. Replay and the follower look tables
 * up by their stream names (schema and name apart). */
static void snapshot_rows_by_stream_name(void **state)
{
    (void)state;
    json_t *tables = json_loads(
        "[{\"table\":\"public.sales\",\"rows\":200},"
        "{\"table\":\"\\\"Shop\\\".\\\"a.b\\\"\",\"rows\":7},"
        "{\"table\":\"public.\\\"say \\\"\\\"hi\\\"\\\"\\\"\",\"rows\":3},"
        "{\"table\":\"public.sale\",\"rows\":9}]",
        0, NULL);
    assert_non_null(tables);
    long long rows = -1;
    assert_int_equal(zb_pitr_snapshot_rows(&rows, tables, "public", "sales"), 1);
    assert_int_equal(rows, 200);
    assert_int_equal(zb_pitr_snapshot_rows(&rows, tables, "Shop", "a.b"), 1);
    assert_int_equal(rows, 7);
    assert_int_equal(zb_pitr_snapshot_rows(&rows, tables, "public", "say \"hi\""), 1);
    assert_int_equal(rows, 3);
    assert_int_equal(zb_pitr_snapshot_rows(&rows, tables, "public", "sale"), 1);
    assert_int_equal(rows, 9);
    /* a prefix, another schema, a name the summary lacks: not found */
    assert_int_equal(zb_pitr_snapshot_rows(&rows, tables, "public", "sal"), 0);
    assert_int_equal(zb_pitr_snapshot_rows(&rows, tables, "shop", "a.b"), 0);
    assert_int_equal(zb_pitr_snapshot_rows(&rows, tables, "public", "stock"), 0);
    assert_int_equal(zb_pitr_snapshot_rows(&rows, NULL, "public", "sales"), 0);
    json_decref(tables);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(snapshot_rows_by_stream_name),
    };
    ZB_RUN_TESTS(tests, argc, argv);
}
