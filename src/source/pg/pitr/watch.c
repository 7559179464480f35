#include "zakpos_backup/source/pg/pitr/watch.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/json.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/source/pg/conn.h"
#include "zakpos_backup/source/pg/pitr/decode.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Differences in bytes come from the server (pg_wal_lsn_diff): 12 has it,
 * and no LSN arithmetic is redone here. */
static const char status_sql[] =
    "SELECT active, "
    "coalesce(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), restart_lsn), 0)::bigint, "
    "coalesce(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), confirmed_flush_lsn), 0)::bigint, "
    "coalesce(confirmed_flush_lsn::text, '0/0') "
    "FROM pg_catalog.pg_replication_slots WHERE slot_name = ";

int zb_pitr_slot_status_read(zb_pitr_slot_status *out, PGconn *conn, const char *slot)
{
    memset(out, 0, sizeof(*out));
    char *lit = PQescapeLiteral(conn, slot, strlen(slot));
    zb_buf sql = ZB_BUF_INIT;
    PGresult *res = NULL;
    int rc = lit ? zb_buf_printf(&sql, "%s%s", status_sql, lit) : zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0)
        rc = zb_pg_query(&res, conn, sql.data, "cannot read the replication slot");
    if (rc == 0 && PQntuples(res) > 0) {
        out->exists = 1;
        out->active = PQgetvalue(res, 0, 0)[0] == 't';
        long long retained = strtoll(PQgetvalue(res, 0, 1), NULL, 10), lag = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
        out->retained_bytes = retained > 0 ? (uint64_t)retained : 0;
        out->lag_bytes = lag > 0 ? (uint64_t)lag : 0;
        rc = zb_pgo_lsn_parse(&out->confirmed_lsn, PQgetvalue(res, 0, 3));
    }
    PQclear(res);
    PQfreemem(lit);
    zb_buf_free(&sql);
    return rc;
}

double zb_pitr_watch_update(zb_pitr_watch *w, const zb_pitr_slot_status *s, double now)
{
    if (!s->exists || s->lag_bytes == 0) {
        w->behind_since = 0;
    } else if (w->behind_since == 0 || s->confirmed_lsn != w->confirmed_lsn) {
        /* behind, and either newly so or the follower confirmed more since:
         * the oldest unconfirmed change is at most this old */
        w->behind_since = now;
    }
    w->confirmed_lsn = s->confirmed_lsn;
    return w->behind_since > 0 ? now - w->behind_since : 0;
}

zb_pitr_verdict zb_pitr_watch_verdict(const zb_pitr_slot_status *s, double lag_seconds, long long max_wal_bytes,
                                      int max_age_seconds)
{
    if (!s->exists)
        return ZB_PITR_SLOT_OK;
    if (max_wal_bytes > 0 && s->retained_bytes > (uint64_t)max_wal_bytes)
        return ZB_PITR_SLOT_TOO_MUCH_WAL;
    if (max_age_seconds > 0 && lag_seconds > max_age_seconds)
        return ZB_PITR_SLOT_TOO_OLD;
    return ZB_PITR_SLOT_OK;
}

static char *watch_path(const char *state_dir)
{
    zb_buf p = ZB_BUF_INIT;
    if (zb_buf_printf(&p, "%s/%s", state_dir, ZB_PITR_WATCH_FILE) < 0) {
        zb_buf_free(&p);
        return NULL;
    }
    return zb_buf_detach(&p);
}

int zb_pitr_watch_record(const char *state_dir, const char *slot, const zb_pitr_slot_status *s, double lag_seconds,
                         double now)
{
    char *path = watch_path(state_dir), lsn[32];
    if (!path)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    json_t *all = json_load_file(path, 0, NULL);
    if (!json_is_object(all))
        json_decref(all), all = json_object();
    zb_pgo_lsn_format(lsn, sizeof(lsn), s->confirmed_lsn);
    json_object_set_new(all, slot,
                        json_pack("{s:f, s:b, s:b, s:I, s:f, s:I, s:s}", "observed", now, "exists", s->exists, "active",
                                  s->active, "lag_bytes", (json_int_t)s->lag_bytes, "lag_seconds", lag_seconds,
                                  "retained_bytes", (json_int_t)s->retained_bytes, "confirmed_lsn", lsn));
    int rc = zb_fs_mkdir_p(state_dir, 0700);
    if (rc == 0)
        rc = zb_json_write_file(path, all, JSON_INDENT(1) | JSON_SORT_KEYS, 0600);
    free(path);
    json_decref(all);
    return rc;
}

int zb_pitr_watch_load(double *observed, double *lag_seconds, const char *state_dir, const char *slot)
{
    *observed = 0, *lag_seconds = 0;
    char *path = watch_path(state_dir);
    if (!path)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    json_t *all = json_load_file(path, 0, NULL), *entry = json_object_get(all, slot);
    if (json_is_object(entry)) {
        *observed = json_number_value(json_object_get(entry, "observed"));
        *lag_seconds = json_number_value(json_object_get(entry, "lag_seconds"));
    }
    json_decref(all);
    free(path);
    return 0;
}
