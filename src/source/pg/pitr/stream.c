#include "zakpos_backup/source/pg/pitr/stream.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/source/pg/conn.h"
#include "zakpos_backup/source/pg/pitr/decode.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

struct zb_pitr_stream {
    PGconn *conn;
    char *frame;        /* the last CopyData frame, PQfreemem'd on the next call */
    uint64_t received;  /* end of what the server sent */
    uint64_t flushed;   /* confirmed: durable in the repository */
    double last_status; /* monotonic time of the last status update */
};

int zb_pitr_stream_open(zb_pitr_stream **out, const char *conninfo, const char *password_file)
{
    *out = NULL;
    zb_pitr_stream *s = calloc(1, sizeof(*s));
    if (!s)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    int rc = zb_pg_connect_replication(&s->conn, conninfo, password_file);
    if (rc < 0) {
        free(s);
        return zb_error_context("replication connection");
    }
    *out = s;
    return 0;
}

void zb_pitr_stream_free(zb_pitr_stream *s)
{
    if (!s)
        return;
    if (s->frame)
        PQfreemem(s->frame);
    PQfinish(s->conn);
    free(s);
}

uint64_t zb_pitr_stream_server_end(const zb_pitr_stream *s) { return s->received; }

int zb_pitr_stream_create_slot(zb_pitr_stream *s, const char *slot, char *snapshot, size_t snapshot_size,
                               uint64_t *consistent_point)
{
    char *ident = PQescapeIdentifier(s->conn, slot, strlen(slot));
    if (!ident)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    zb_buf sql = ZB_BUF_INIT;
    /* 15 took the options into parentheses; the old words still work there,
     * but the new form is the one that will stay */
    int rc = PQserverVersion(s->conn) >= 150000
                 ? zb_buf_printf(&sql, "CREATE_REPLICATION_SLOT %s LOGICAL pgoutput (SNAPSHOT 'export')", ident)
                 : zb_buf_printf(&sql, "CREATE_REPLICATION_SLOT %s LOGICAL pgoutput EXPORT_SNAPSHOT", ident);
    PQfreemem(ident);
    PGresult *res = rc == 0 ? PQexec(s->conn, sql.data) : NULL;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (rc == 0 && state && strcmp(state, "53400") == 0) /* configuration_limit_exceeded */
        rc = zb_error_set(ZB_EPG,
                          "no replication slot is free for %s: all max_replication_slots are in use\n"
                          "hint: raise max_replication_slots on the server (the compose file's `command: postgres "
                          "-c max_replication_slots=N`) to one more than the followers use: a follower starting a "
                          "new chain holds the old chain's slot until the new one exists",
                          slot);
    else if (rc == 0 && (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) < 3))
        rc = zb_pg_result_error(s->conn, res, "cannot create the replication slot");
    if (rc == 0)
        rc = zb_pgo_lsn_parse(consistent_point, PQgetvalue(res, 0, 1));
    if (rc == 0 && zb_strlcpy_checked(snapshot, snapshot_size, PQgetvalue(res, 0, 2)) < 0)
        rc = zb_error_set(ZB_EPG, "the server returned an unexpected snapshot id");
    PQclear(res);
    zb_buf_free(&sql);
    return rc;
}

int zb_pitr_stream_start(zb_pitr_stream *s, const char *slot, const char *publication, uint64_t start_lsn)
{
    char *ident = PQescapeIdentifier(s->conn, slot, strlen(slot));
    char *pub = PQescapeLiteral(s->conn, publication, strlen(publication));
    char lsn[32];
    zb_pgo_lsn_format(lsn, sizeof(lsn), start_lsn);
    zb_buf sql = ZB_BUF_INIT;
    /* 14+: a transaction larger than logical_decoding_work_mem comes while
     * in progress (version 2, streaming) instead of piling up in the
     * server's spill files until it commits */
    int streaming = PQserverVersion(s->conn) >= 140000;
    int rc =
        ident && pub
            ? zb_buf_printf(&sql, "START_REPLICATION SLOT %s LOGICAL %s (proto_version '%d', %spublication_names %s)",
                            ident, lsn, streaming ? 2 : 1, streaming ? "streaming 'on', " : "", pub)
            : zb_error_set(ZB_ENOMEM, "out of memory");
    PQfreemem(ident);
    PQfreemem(pub);
    PGresult *res = rc == 0 ? PQexec(s->conn, sql.data) : NULL;
    if (rc == 0 && PQresultStatus(res) != PGRES_COPY_BOTH)
        rc = zb_pg_result_error(s->conn, res, "cannot start the replication stream");
    PQclear(res);
    zb_buf_free(&sql);
    s->flushed = start_lsn;
    s->received = start_lsn;
    s->last_status = zb_time_monotonic();
    return rc;
}

static int64_t now_pg_time(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return ((int64_t)tv.tv_sec - ZB_PGO_EPOCH_OFFSET) * 1000000 + tv.tv_usec;
}

/* Standby status update: written (what arrived), flushed and applied (both:
 * durable in the repository; the server keeps WAL from there on). */
static int send_status(zb_pitr_stream *s)
{
    uint8_t msg[34];
    msg[0] = 'r';
    zb_pgo_put_u64(msg + 1, s->received > s->flushed ? s->received : s->flushed);
    zb_pgo_put_u64(msg + 9, s->flushed);
    zb_pgo_put_u64(msg + 17, s->flushed);
    zb_pgo_put_u64(msg + 25, (uint64_t)now_pg_time());
    msg[33] = 0;
    if (PQputCopyData(s->conn, (const char *)msg, sizeof(msg)) != 1 || PQflush(s->conn) != 0)
        return zb_error_set(ZB_EPG, "cannot send the stream's status to the server: %s", PQerrorMessage(s->conn));
    s->last_status = zb_time_monotonic();
    return 0;
}

int zb_pitr_stream_confirm(zb_pitr_stream *s, uint64_t flushed)
{
    if (flushed > s->flushed)
        s->flushed = flushed;
    return send_status(s);
}

int zb_pitr_stream_keepalive(zb_pitr_stream *s, double interval_seconds)
{
    return zb_time_monotonic() - s->last_status >= interval_seconds ? send_status(s) : 0;
}

static int wait_readable(zb_pitr_stream *s, int timeout_ms)
{
    struct pollfd p = {PQsocket(s->conn), POLLIN, 0};
    int n = poll(&p, 1, timeout_ms);
    if (n < 0 && errno != EINTR)
        return zb_error_set(ZB_EIO, "cannot wait for the replication stream: %s", strerror(errno));
    if (n > 0 && !PQconsumeInput(s->conn))
        return zb_error_set(ZB_EPG, "the replication stream broke: %s", PQerrorMessage(s->conn));
    return 0;
}

/* The stream ended (the server stopped it): its final result says why. */
static int stream_ended(zb_pitr_stream *s)
{
    PGresult *res = PQgetResult(s->conn);
    int rc = PQresultStatus(res) == PGRES_FATAL_ERROR && *PQresultErrorMessage(res)
                 ? zb_pg_result_error(s->conn, res, "the replication stream ended")
                 : zb_error_set(ZB_EPG,
                                "the server ended the replication stream (%s)\n"
                                "hint: run follow again once the server is back: it resumes where the "
                                "last durable segment ends",
                                PQstatus(s->conn) == CONNECTION_BAD ? "connection lost" : "stopped");
    PQclear(res);
    return rc;
}

static int frame(zb_pitr_stream *s, const uint8_t *f, size_t n, const uint8_t **data, size_t *len, uint64_t *lsn)
{
    if (n >= 25 && f[0] == 'w') {
        uint64_t start = zb_pgo_get_u64(f + 1), end = zb_pgo_get_u64(f + 9);
        if (end > s->received)
            s->received = end;
        *data = f + 25, *len = n - 25, *lsn = start;
        return 1;
    }
    if (n >= 18 && f[0] == 'k') {
        uint64_t end = zb_pgo_get_u64(f + 1);
        if (end > s->received)
            s->received = end;
        return f[17] ? send_status(s) : 0;
    }
    return zb_error_set(ZB_EPG, "unexpected message 0x%02x on the replication stream", n ? f[0] : 0);
}

int zb_pitr_stream_next(zb_pitr_stream *s, const uint8_t **data, size_t *len, uint64_t *lsn, int timeout_ms)
{
    if (s->frame)
        PQfreemem(s->frame), s->frame = NULL;
    for (int waited = 0;; waited = 1) {
        int n = PQgetCopyData(s->conn, &s->frame, 1);
        if (n > 0)
            return frame(s, (const uint8_t *)s->frame, (size_t)n, data, len, lsn);
        if (n == -1)
            return stream_ended(s);
        if (n < -1)
            return zb_error_set(ZB_EPG, "the replication stream broke: %s", PQerrorMessage(s->conn));
        if (waited)
            return 0;
        int rc = wait_readable(s, timeout_ms);
        if (rc < 0)
            return rc;
    }
}
