/* Rows of the change stream as lines of COPY's text format: replay loads a
 * table's inserts with one COPY FROM STDIN instead of one INSERT each. */
#ifndef ZB_SOURCE_PG_PITR_COPYROW_H
#define ZB_SOURCE_PG_PITR_COPYROW_H

#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/source/pg/pitr/decode.h"

/* Appends row (its first columns columns) to out as one line of COPY's
 * text format: NULL as \N, backslash, tab, newline and carriage return
 * escaped, columns apart by tabs. Returns 0; 1 (out unchanged) if the row
 * cannot be one (an unchanged TOAST value, fewer columns than asked for),
 * then the caller applies it otherwise; <0 if memory ran out. */
int zb_pitr_copy_row_append(zb_buf *out, const zb_pgo_tuple *row, int columns);

#endif
