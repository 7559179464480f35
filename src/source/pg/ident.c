#include "zakpos_backup/source/pg/ident.h"
#include "zakpos_backup/common/error.h"

#include <string.h>

int zb_pg_ident_append(zb_buf *out, const char *name)
{
    int rc = zb_buf_puts(out, "\"");
    for (const char *p = name; rc == 0 && *p; p++)
        rc = *p == '"' ? zb_buf_puts(out, "\"\"") : zb_buf_append(out, p, 1);
    return rc == 0 ? zb_buf_puts(out, "\"") : rc;
}

int zb_pg_ident_relation(zb_buf *out, json_t *entry)
{
    return zb_pg_ident_relation_of(out, json_string_value(json_object_get(entry, "schema")),
                                   json_string_value(json_object_get(entry, "name")),
                                   json_string_value(json_object_get(entry, "table")));
}

int zb_pg_ident_relation_of(zb_buf *out, const char *schema, const char *name, const char *table)
{
    if (!schema || !*schema || !name || !*name)
        return zb_error_set(ZB_EFORMAT, "toc.json: an entry for %s has no schema or name", table ? table : "a table");
    int rc = zb_pg_ident_append(out, schema);
    if (rc == 0)
        rc = zb_buf_puts(out, ".");
    return rc == 0 ? zb_pg_ident_append(out, name) : rc;
}

/* One name of the list at *p: "quoted" (with "" for a quote) or the
 * lower-case word quote_ident leaves bare. 0 and *p past it, or -1. */
static int next_column(zb_buf *name, const char **p)
{
    const char *s = *p;
    zb_buf_reset(name);
    if (*s == '"') {
        for (s++; *s; s++) {
            if (*s == '"' && s[1] != '"')
                break;
            if (*s == '"')
                s++;
            if (zb_buf_append(name, s, 1) < 0)
                return -1;
        }
        if (*s != '"' || name->len == 0)
            return -1;
        *p = s + 1;
        return 0;
    }
    if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
        return -1;
    while ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '$')
        s++;
    if (zb_buf_append(name, *p, (size_t)(s - *p)) < 0)
        return -1;
    *p = s;
    return 0;
}

int zb_pg_ident_columns(zb_buf *out, json_t *table)
{
    return zb_pg_ident_column_list(out, json_string_value(json_object_get(table, "columns")),
                                   json_string_value(json_object_get(table, "table")));
}

int zb_pg_ident_column_list(zb_buf *out, const char *list, const char *table)
{
    zb_buf name = ZB_BUF_INIT;
    int rc = 0, bad = 0;
    for (const char *p = list ? list : ""; rc == 0 && !bad && *p;) {
        if (p != list) {
            bad = strncmp(p, ", ", 2) != 0;
            p += bad ? 0 : 2;
            rc = bad ? 0 : zb_buf_puts(out, ", ");
        }
        if (rc == 0 && !bad)
            bad = next_column(&name, &p) < 0;
        if (rc == 0 && !bad)
            rc = zb_pg_ident_append(out, name.data);
    }
    zb_buf_free(&name);
    if (rc == 0 && bad)
        rc = zb_error_set(ZB_EFORMAT, "toc.json: the column list of table %s is not a list of column names",
                          table ? table : "?");
    return rc;
}
