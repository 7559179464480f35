#include "zakpos_backup/archive/summary_tables.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/json.h"

#include <errno.h>
#include <string.h>

/* A scan of JSON text that only finds where values begin and end: jansson
 * parses them afterwards and judges their validity. */

static const char *skip_space(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* Past the string whose opening quote is at p, or NULL when the text ends in it. */
static const char *skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return NULL;
}

/* Past the value that begins at p, or NULL when the text ends inside it.
 * Brackets are counted, not matched: a mismatch is jansson's to find. */
static const char *skip_value(const char *p, const char *end)
{
    if (p < end && *p == '"')
        return skip_string(p, end);
    if (p < end && (*p == '{' || *p == '[')) {
        int depth = 0;
        while (p < end) {
            if (*p == '"') {
                if (!(p = skip_string(p, end)))
                    return NULL;
                continue;
            }
            if (*p == '{' || *p == '[')
                depth++;
            else if ((*p == '}' || *p == ']') && --depth == 0)
                return p + 1;
            p++;
        }
        return NULL;
    }
    while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n')
        p++;
    return p;
}

/* Where the value of the member named key begins in the object at p, or
 * NULL (also when the name is there twice). The scan stops quietly where
 * the text does, as a source head's does inside its "entries" list. */
static const char *member_value(const char *p, const char *end, const char *key)
{
    const char *found = NULL;
    size_t key_len = strlen(key);
    p = skip_space(p, end);
    if (p == end || *p != '{')
        return NULL;
    p = skip_space(p + 1, end);
    while (p < end && *p == '"') {
        const char *name = p + 1, *after = skip_string(p, end);
        if (!after)
            break;
        const char *value = skip_space(after, end);
        if (value == end || *value != ':')
            break;
        value = skip_space(value + 1, end);
        if ((size_t)(after - 1 - name) == key_len && memcmp(name, key, key_len) == 0) {
            if (found)
                return NULL;
            found = value;
        }
        if (!(p = skip_value(value, end)))
            break;
        p = skip_space(p, end);
        if (p == end || *p != ',')
            break;
        p = skip_space(p + 1, end);
    }
    return found;
}

/* Each record of the array at [p, end) parsed once within the limits and
 * let go: 1 when all are objects, 0 when the array is not such a list. */
static int check_records(const char *p, const char *end, const char *what)
{
    p = skip_space(p + 1, end);
    if (p < end && *p == ']')
        return 1;
    for (;;) {
        if (p == end || *p != '{')
            return 0;
        const char *record_end = skip_value(p, end);
        if (!record_end)
            return 0;
        json_t *record = NULL;
        int rc = zb_json_parse_limited(&record, p, (size_t)(record_end - p), what);
        json_decref(record);
        if (rc == ZB_EFORMAT)
            return 0;
        if (rc < 0)
            return rc;
        p = skip_space(record_end, end);
        if (p < end && *p == ']')
            return 1;
        if (p == end || *p != ',')
            return 0;
        p = skip_space(p + 1, end);
    }
}

int zb_summary_tables_find(size_t *start, size_t *end, const char *head, size_t len, const char *what)
{
    const char *stop = head + len;
    const char *summary = member_value(head, stop, "summary");
    const char *tables = summary ? member_value(summary, stop, "tables") : NULL;
    const char *after = tables && *tables == '[' ? skip_value(tables, stop) : NULL;
    if (!after)
        return 0;
    int rc = check_records(tables, after, what);
    if (rc <= 0)
        return rc;
    *start = (size_t)(tables - head);
    *end = (size_t)(after - head);
    return 1;
}

static int next_token(FILE *f)
{
    int c;
    while ((c = getc(f)) == ' ' || c == '\t' || c == '\n' || c == '\r')
        ;
    return c;
}

static int reread_failed(const char *reason)
{
    return zb_error_set(ZB_EIO, "cannot read the manifest's table summaries again from its temporary file: %s", reason);
}

int zb_summary_tables_each(FILE *f, long offset, zb_summary_table_visit_fn visit, void *payload)
{
    if (fseek(f, offset, SEEK_SET) != 0)
        return zb_error_errno(ZB_EIO, errno, "cannot read the manifest's temporary file");
    if (next_token(f) != '[')
        return reread_failed("no list where it was");
    int c = next_token(f);
    if (c == ']')
        return 0;
    if (c == EOF || ungetc(c, f) == EOF)
        return reread_failed("the list ends early");
    for (;;) {
        /* jansson stops right after the record's closing brace */
        json_error_t err;
        json_t *record = json_loadf(f, JSON_DISABLE_EOF_CHECK, &err);
        if (!record)
            return reread_failed(err.text);
        int rc = visit(record, payload);
        json_decref(record);
        if (rc < 0)
            return rc;
        c = next_token(f);
        if (c == ']')
            return 0;
        if (c != ',')
            return reread_failed("the list ends early");
    }
}

static int append_record(json_t *record, void *payload)
{
    return json_array_append((json_t *)payload, record) == 0 ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
}

int zb_summary_tables_load(json_t **out, FILE *f, long offset)
{
    *out = json_array();
    if (!*out)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    int rc = zb_summary_tables_each(f, offset, append_record, *out);
    if (rc < 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}
