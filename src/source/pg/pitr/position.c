#include "zakpos_backup/source/pg/pitr/position.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/source/pg/conn.h"
#include "zakpos_backup/source/pg/pitr/decode.h"
#include "zakpos_backup/source/pg/pitr/xidsnap.h"

#include <string.h>

int zb_pitr_position_before(char *scan_lsn, size_t size, PGconn *conn)
{
    PGresult *res = NULL;
    int rc = zb_pg_query(&res, conn,
                         "SELECT CASE WHEN pg_catalog.pg_is_in_recovery() THEN '' "
                         "ELSE pg_catalog.pg_current_wal_lsn()::text END",
                         "cannot read the WAL position");
    if (rc == 0 && zb_strlcpy_checked(scan_lsn, size, PQgetvalue(res, 0, 0)) < 0)
        rc = zb_error_set(ZB_EPG, "the server returned an unexpected WAL position");
    PQclear(res);
    return rc;
}

/* pg_current_snapshot() is the transaction's own snapshot in a REPEATABLE
 * READ transaction (the active snapshot of every statement in it), imported
 * or exported; 12 has only the older txid_current_snapshot(), same text. */
int zb_pitr_position_read(json_t **out, PGconn *conn, const char *scan_lsn, const char *chain)
{
    *out = NULL;
    if (!scan_lsn || !*scan_lsn)
        return 0;
    const char *sql = PQserverVersion(conn) >= 130000
                          ? "SELECT pg_catalog.pg_current_snapshot()::text, pg_catalog.pg_current_wal_lsn()::text, "
                            "pg_catalog.to_char(pg_catalog.clock_timestamp() AT TIME ZONE 'UTC', "
                            "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
                          : "SELECT pg_catalog.txid_current_snapshot()::text, pg_catalog.pg_current_wal_lsn()::text, "
                            "pg_catalog.to_char(pg_catalog.clock_timestamp() AT TIME ZONE 'UTC', "
                            "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";
    PGresult *res = NULL;
    int rc = zb_pg_query(&res, conn, sql, "cannot read the snapshot's position");
    if (rc == 0) {
        *out = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s?}", "format", ZB_PITR_POSITION_FORMAT, "snapshot",
                         PQgetvalue(res, 0, 0), "scan_lsn", scan_lsn, "lsn", PQgetvalue(res, 0, 1), "time",
                         PQgetvalue(res, 0, 2), "chain", chain);
        if (!*out)
            rc = zb_error_set(ZB_ENOMEM, "out of memory");
    }
    PQclear(res);
    return rc;
}

int zb_pitr_position_parse(zb_pitr_position *out, json_t *position)
{
    memset(out, 0, sizeof(*out));
    out->snapshot = json_string_value(json_object_get(position, "snapshot"));
    out->chain = json_string_value(json_object_get(position, "chain"));
    const char *time = json_string_value(json_object_get(position, "time"));
    zb_xid_snapshot check;
    int rc = out->snapshot && time ? zb_xid_snapshot_parse(&check, out->snapshot)
                                   : zb_error_set(ZB_EFORMAT, "the snapshot's position is incomplete");
    zb_xid_snapshot_clear(&check);
    if (rc == 0)
        rc = zb_pgo_lsn_parse(&out->scan_lsn, json_string_value(json_object_get(position, "scan_lsn")));
    if (rc == 0)
        rc = zb_pgo_lsn_parse(&out->lsn, json_string_value(json_object_get(position, "lsn")));
    if (rc == 0)
        rc = zb_pitr_parse_time(&out->time, time);
    if (rc == 0 && out->scan_lsn > out->lsn)
        rc = zb_error_set(ZB_EFORMAT, "the snapshot's position is inconsistent (scan_lsn after lsn)");
    return rc;
}

/* Every transaction the snapshot holds committed before it was taken, so
 * before "lsn" and "time" (both read after it). */
int zb_pitr_position_before_target(const zb_pitr_position *pos, const zb_pitr_target *target)
{
    if (target->by_lsn)
        return pos->lsn <= target->until_lsn;
    return pos->time <= target->until;
}
