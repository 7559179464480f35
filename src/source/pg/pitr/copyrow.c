#include "zakpos_backup/source/pg/pitr/copyrow.h"

#include <string.h>

/* The value's bytes up to the next one COPY reads as special, then that one
 * escaped: a value is copied in a few appends, not one per byte. */
static int append_value(zb_buf *out, const char *value)
{
    int rc = 0;
    while (rc == 0 && *value) {
        size_t plain = strcspn(value, "\\\t\n\r");
        rc = plain ? zb_buf_append(out, value, plain) : 0;
        value += plain;
        if (rc < 0 || !*value)
            break;
        const char *escaped = *value == '\\' ? "\\\\" : *value == '\t' ? "\\t" : *value == '\n' ? "\\n" : "\\r";
        rc = zb_buf_append(out, escaped, 2);
        value++;
    }
    return rc;
}

int zb_pitr_copy_row_append(zb_buf *out, const zb_pgo_tuple *row, int columns)
{
    if (row->column_count < columns)
        return 1;
    for (int i = 0; i < columns; i++)
        if (row->kinds[i] != 'n' && row->kinds[i] != 't')
            return 1;
    size_t before = out->len;
    int rc = 0;
    for (int i = 0; rc == 0 && i < columns; i++) {
        if (i)
            rc = zb_buf_append(out, "\t", 1);
        if (rc == 0)
            rc = row->kinds[i] == 'n' ? zb_buf_append(out, "\\N", 2) : append_value(out, row->values[i]);
    }
    if (rc == 0)
        rc = zb_buf_append(out, "\n", 1);
    if (rc < 0 && out->data) { /* a half line must not reach the server */
        out->len = before;
        out->data[before] = '\0';
    }
    return rc;
}
