#include "zb_cmocka.h"

#include "zakpos_backup/source/pg/pitr/copyrow.h"

#include <string.h>

/* A row image as the decoder gives it: kinds and values side by side. */
static zb_pgo_tuple tuple(char *kinds, char **values)
{
    zb_pgo_tuple t = {(int)strlen(kinds), kinds, values, NULL};
    return t;
}

/* Every value COPY's text format reads as special comes out escaped, and
 * nothing else changes: a text that reads \N stays text (it is not NULL), an
 * empty text stays empty, the end-of-data marker \. cannot appear alone,
 * bytea's and arrays' own text forms keep their backslashes and quotes. */
static void copy_row_escapes_every_odd_value(void **state)
{
    (void)state;
    char kinds[] = "tttttnttttt";
    char *values[] = {"tab\there", "new\nline", "cr\rhere", "back\\slash", "\\N",
                      NULL,        "",          "\\.",      "\\x00ff5c",   "{\"a\\tb\",\"c\\\\d\",NULL,\"e,f\"}",
                      "é ünïcode"};
    zb_pgo_tuple row = tuple(kinds, values);
    zb_buf out = ZB_BUF_INIT;
    assert_int_equal(zb_pitr_copy_row_append(&out, &row, row.column_count), 0);
    assert_string_equal(out.data,
                        "tab\\there\tnew\\nline\tcr\\rhere\tback\\\\slash\t\\\\N\t\\N\t\t\\\\.\t\\\\x00ff5c\t"
                        "{\"a\\\\tb\",\"c\\\\\\\\d\",NULL,\"e,f\"}\té ünïcode\n");
    /* a second row goes after the first, lines apart */
    char kinds2[] = "nt";
    char *values2[] = {NULL, "x"};
    zb_pgo_tuple row2 = tuple(kinds2, values2);
    size_t first = out.len;
    assert_int_equal(zb_pitr_copy_row_append(&out, &row2, 2), 0);
    assert_string_equal(out.data + first, "\\N\tx\n");
    zb_buf_free(&out);
}

/* Rows that cannot be a COPY line are refused whole, the buffer unchanged:
 * an unchanged TOAST value (no value to load), fewer columns than the
 * relation has. */
static void copy_row_refuses_what_it_cannot_load(void **state)
{
    (void)state;
    zb_buf out = ZB_BUF_INIT;
    assert_int_equal(zb_buf_puts(&out, "kept\n"), 0);
    char kinds[] = "tu";
    char *values[] = {"a", NULL};
    zb_pgo_tuple row = tuple(kinds, values);
    assert_int_equal(zb_pitr_copy_row_append(&out, &row, 2), 1);
    char kinds2[] = "t";
    char *values2[] = {"a"};
    zb_pgo_tuple row2 = tuple(kinds2, values2);
    assert_int_equal(zb_pitr_copy_row_append(&out, &row2, 2), 1);
    assert_string_equal(out.data, "kept\n");
    zb_buf_free(&out);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(copy_row_escapes_every_odd_value),
        cmocka_unit_test(copy_row_refuses_what_it_cannot_load),
    };
    ZB_RUN_TESTS(tests, argc, argv);
}
