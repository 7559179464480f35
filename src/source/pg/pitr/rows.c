#include "zakpos_backup/source/pg/pitr/rows.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/source/pg/conn.h"

#include <stdlib.h>
#include <string.h>

/* One identifier of a name written as quote_ident writes it (quoted only
 * where needed): 1 if it is want, and *p moved past it. */
static int ident_is(const char **p, const char *want)
{
    const char *c = *p;
    size_t n = strlen(want), i = 0;
    int same = 1;
    if (*c != '"') {
        for (; *c && *c != '.'; c++, i++)
            same = same && i < n && *c == want[i];
        *p = c;
        return same && i == n;
    }
    for (c++; *c; c++, i++) {
        if (*c == '"' && c[1] != '"')
            break;
        if (*c == '"')
            c++;
        same = same && i < n && *c == want[i];
    }
    *p = *c ? c + 1 : c;
    return same && i == n;
}

static int names_table(const char *table, const char *schema, const char *name)
{
    const char *p = table;
    if (!ident_is(&p, schema) || *p != '.')
        return 0;
    p++;
    return ident_is(&p, name) && *p == '\0';
}

int zb_pitr_snapshot_rows(long long *rows, json_t *tables, const char *schema, const char *name)
{
    size_t i;
    json_t *t;
    json_array_foreach (tables, i, t) {
        const char *table = json_string_value(json_object_get(t, "table"));
        if (table && names_table(table, schema, name) && json_is_integer(json_object_get(t, "rows"))) {
            *rows = (long long)json_integer_value(json_object_get(t, "rows"));
            return 1;
        }
    }
    return 0;
}

int zb_pitr_count_rows(long long *rows, PGconn *conn, const char *table)
{
    zb_buf sql = ZB_BUF_INIT;
    PGresult *res = NULL;
    int rc = zb_buf_printf(&sql, "SELECT count(*) FROM ONLY %s", table);
    if (rc == 0)
        rc = zb_pg_query(&res, conn, sql.data, "cannot count the rows of a replayed table");
    if (rc == 0)
        *rows = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    zb_buf_free(&sql);
    return rc;
}
