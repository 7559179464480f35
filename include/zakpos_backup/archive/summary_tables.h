/* A source summary's "tables" list kept out of the parsed manifest. A
 * database's summary holds a record per table: at 20,000 tables 3 MB of
 * text that jansson makes 18 MB of values. The reader leaves the list in the
 * manifest's temporary file (the parsed head holds null in its place) and
 * hands its records out one at a time, or the whole list on request. */
#ifndef ZB_ARCHIVE_SUMMARY_TABLES_H
#define ZB_ARCHIVE_SUMMARY_TABLES_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

/* In a source head's text (a JSON object cut before its "entries" list),
 * where the value of "summary"."tables" lies, [*start, *end), when it is an
 * array of objects each valid within the reader's limits (each is parsed
 * once, then let go): 1 then, 0 when there is no such list or it is not
 * valid (the caller then parses the head whole, as any other), <0 past a
 * limit. A name given twice is not found: which one jansson keeps is its own
 * business. */
int zb_summary_tables_find(size_t *start, size_t *end, const char *head, size_t len, const char *what);

/* Calls visit with each record of the list found at offset in f (its "["),
 * in order; the record is released after the call. */
typedef int (*zb_summary_table_visit_fn)(json_t *record, void *payload);
int zb_summary_tables_each(FILE *f, long offset, zb_summary_table_visit_fn visit, void *payload);

/* The whole list at offset in f as one JSON array (a new reference). */
int zb_summary_tables_load(json_t **out, FILE *f, long offset);

#endif
