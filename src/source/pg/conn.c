#include "zakpos_backup/source/pg/conn.h"
#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/secret.h"

#include <poll.h>
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

/* Every backup and restore connection: output that reads back exactly on any
 * server (ISO dates, round-trip floats, UTF8), no timeouts cutting a long
 * COPY, a search_path that resolves nothing (everything is schema-qualified),
 * and row security off, so a policy that would hide rows from the backup
 * role makes the backup fail instead of silently dumping a subset. JIT off,
 * as pg_dump has it: the catalog queries' estimated cost grows with the
 * number of tables until the server compiles them with LLVM, inlining and
 * optimising (11 of the TABLE query's 17 s at 8,000 tables), for queries
 * that run once. */
static const char session_settings[] =
    "SET row_security = off;"
    "SET DateStyle = ISO;"
    "SET IntervalStyle = postgres;"
    "SET extra_float_digits = 3;"
    "SET client_encoding = 'UTF8';"
    "SET statement_timeout = 0;"
    "SET idle_in_transaction_session_timeout = 0;"
    "SET jit = off;"
    "SELECT pg_catalog.set_config('search_path', '', false);";

const char *zb_pg_describe(PGconn *conn, char *buf, size_t size)
{
    const char *host = PQhost(conn);
    snprintf(buf, size, "%s:%s/%s as %s", host && *host ? host : "localhost", PQport(conn) ? PQport(conn) : "?",
             PQdb(conn) ? PQdb(conn) : "?", PQuser(conn) ? PQuser(conn) : "?");
    return buf;
}

/* libpq's messages end in newlines and may span lines: one line for logs. */
static void one_line(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
    for (char *p = s; *p; p++)
        if (*p == '\n')
            *p = ' ';
}

static int connect_error(PGconn *conn)
{
    char where[512], message[1024];
    zb_pg_describe(conn, where, sizeof(where));
    snprintf(message, sizeof(message), "%s", PQerrorMessage(conn));
    one_line(message);
    zb_error_set(ZB_EPG, "cannot connect to PostgreSQL at %s: %s", where, message);
    if (strstr(message, "password authentication failed") || strstr(message, "no password supplied"))
        return zb_error_hint("check the password: %s, PGPASSWORD or ~/.pgpass", ZB_PG_ENV_PASSWORD_FILE);
    if (strstr(message, "does not exist"))
        return zb_error_hint("check the database and user names in the connection string");
    return zb_error_hint(
        "is the server running and reachable there? (connection string: postgres.conninfo, "
        "ZAKPOS_BACKUP_PG_CONNINFO, DATABASE_URL or PG* variables)");
}

int zb_pg_result_error(PGconn *conn, PGresult *res, const char *what)
{
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    char fallback[1024];
    if (!primary) {
        snprintf(fallback, sizeof(fallback), "%s", PQerrorMessage(conn));
        one_line(fallback);
        primary = fallback;
    }
    zb_buf b = ZB_BUF_INIT;
    zb_buf_printf(&b, "%s: %s", what, primary);
    if (detail)
        zb_buf_printf(&b, " (%s)", detail);
    if (state)
        zb_buf_printf(&b, " [SQLSTATE %s]", state);
    zb_error_set(ZB_EPG, "%s", b.data ? b.data : what);
    zb_buf_free(&b);
    if (hint)
        zb_error_hint("%s", hint);
    return ZB_EPG;
}

int zb_pg_is_sql_ascii(PGconn *conn)
{
    const char *encoding = PQparameterStatus(conn, "server_encoding");
    return encoding && strcmp(encoding, "SQL_ASCII") == 0;
}

int zb_pg_exec(PGconn *conn, const char *sql, const char *what)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : zb_pg_result_error(conn, res, what);
    PQclear(res);
    return rc;
}

static int connect_as(PGconn **out, const char *conninfo, const char *password_file, const char *dbname,
                      int replication);

int zb_pg_connect(PGconn **out, const char *conninfo, const char *password_file)
{
    return zb_pg_connect_db(out, conninfo, password_file, NULL);
}

int zb_pg_connect_db(PGconn **out, const char *conninfo, const char *password_file, const char *dbname)
{
    return connect_as(out, conninfo, password_file, dbname, 0);
}

int zb_pg_connect_replication(PGconn **out, const char *conninfo, const char *password_file)
{
    return connect_as(out, conninfo, password_file, NULL, 1);
}

/* replication: a logical replication connection (replication=database),
 * which also runs SQL, as the follower's stream needs. */
static int connect_as(PGconn **out, const char *conninfo, const char *password_file, const char *dbname,
                      int replication)
{
    *out = NULL;
    if (!conninfo)
        conninfo = getenv("DATABASE_URL");
    if (!password_file)
        password_file = getenv(ZB_PG_ENV_PASSWORD_FILE);
    char *password = NULL;
    size_t password_len = 0;
    if (password_file && zb_fs_read_secret(&password, &password_len, password_file) < 0)
        return zb_error_context("PostgreSQL password");
    /* Keywords after "dbname" override what its connection string says;
     * application_name comes before it, so the string may set its own. */
    const char *keys[8], *values[8];
    int n = 0;
    keys[n] = "application_name", values[n++] = "zakpos-backup";
    /* PGPASSWORD was taken out of the environment at start; before "dbname",
     * so a password in the connection string still wins, as with libpq's own */
    const char *env_password = zb_secret_env_get("PGPASSWORD");
    if (env_password)
        keys[n] = "password", values[n++] = env_password;
    keys[n] = "dbname", values[n++] = conninfo ? conninfo : "";
    if (dbname)
        keys[n] = "dbname", values[n++] = dbname;
    if (password)
        keys[n] = "password", values[n++] = password;
    if (replication)
        keys[n] = "replication", values[n++] = "database";
    keys[n] = NULL, values[n] = NULL;
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    zb_fs_secret_free(password, password_len);
    int rc = 0;
    if (!conn)
        return zb_error_set(ZB_ENOMEM, "out of memory for a PostgreSQL connection");
    if (PQstatus(conn) != CONNECTION_OK) {
        rc = connect_error(conn);
        goto done;
    }
    int version = PQserverVersion(conn);
    if (version < ZB_PG_MIN_VERSION) {
        char where[512];
        rc = zb_error_set(ZB_EPG, "PostgreSQL %d.%d at %s is not supported (12 or later is)", version / 10000,
                          version % 10000, zb_pg_describe(conn, where, sizeof(where)));
        goto done;
    }
    if (version >= 180000)
        zb_log_warn("PostgreSQL %d is newer than the versions this build was tested with (12 to 17)", version / 10000);
    rc = zb_pg_exec(conn, session_settings, "cannot set up the session");
    /* An SQL_ASCII database's text is bytes that need not be UTF-8 (names,
     * bodies, rows): a session in SQL_ASCII passes them both ways as they
     * are, where one in UTF8 would refuse those that are not UTF-8. */
    if (rc == 0 && zb_pg_is_sql_ascii(conn))
        rc = zb_pg_exec(conn, "SET client_encoding = 'SQL_ASCII'", "cannot set up the session");
done:
    if (rc < 0)
        PQfinish(conn);
    else
        *out = conn;
    return rc;
}

char *zb_pg_conninfo_dbname(const char *conninfo)
{
    if (!conninfo)
        conninfo = getenv("DATABASE_URL");
    if (!conninfo)
        return NULL;
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    PQfreemem(err);
    char *name = NULL;
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, "dbname") == 0 && o->val && *o->val)
            name = zb_strdup(o->val);
    PQconninfoFree(opts);
    return name;
}

int zb_pg_jobs(int requested)
{
    int jobs = requested > 0 ? requested : (int)sysconf(_SC_NPROCESSORS_ONLN);
    return jobs < 1 ? 1 : jobs > ZB_PG_MAX_JOBS ? ZB_PG_MAX_JOBS : jobs;
}

int zb_pg_jobs_for(int requested, size_t work_items)
{
    int jobs = zb_pg_jobs(requested);
    if ((size_t)jobs > work_items)
        jobs = work_items ? (int)work_items : 1;
    return jobs;
}

int zb_pg_terminate_sessions(PGconn *maintenance, const char *db)
{
    const char *params[1] = {db};
    PGresult *res = PQexecParams(maintenance,
                                 "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity "
                                 "WHERE datname = $1 AND pid <> pg_catalog.pg_backend_pid()",
                                 1, NULL, params, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : zb_pg_result_error(maintenance, res, "cannot end sessions");
    PQclear(res);
    return rc;
}

int zb_pg_drop_database(PGconn *maintenance, const char *name)
{
    char *q = PQescapeIdentifier(maintenance, name, strlen(name));
    zb_buf sql = ZB_BUF_INIT;
    int rc = q ? zb_buf_printf(&sql, "DROP DATABASE IF EXISTS %s", q)
               : zb_pg_result_error(maintenance, NULL, "cannot quote a name");
    if (rc == 0)
        rc = zb_pg_terminate_sessions(maintenance, name);
    if (rc == 0)
        rc = zb_pg_exec(maintenance, sql.data, "cannot drop a database");
    zb_buf_free(&sql);
    PQfreemem(q);
    return rc;
}

int zb_pg_drop_database_at(const char *conninfo, const char *password_file, const char *name)
{
    PGconn *maintenance = NULL;
    int rc = zb_pg_connect_db(&maintenance, conninfo, password_file, ZB_PG_MAINTENANCE_DB);
    if (rc == 0)
        rc = zb_pg_drop_database(maintenance, name);
    PQfinish(maintenance);
    return rc;
}

int zb_pg_query_rows(PGconn *conn, const char *sql, const char *what, zb_pg_row_fn row, void *payload)
{
    if (!PQsendQuery(conn, sql))
        return zb_pg_result_error(conn, NULL, what);
    int rc = PQsetSingleRowMode(conn) ? 0 : zb_pg_result_error(conn, NULL, what);
    PGresult *res;
    /* every result is read, also after an error, so the connection is ready for the next query */
    while ((res = PQgetResult(conn)) != NULL) {
        ExecStatusType st = PQresultStatus(res);
        if (rc == 0 && st == PGRES_SINGLE_TUPLE)
            rc = row(res, payload);
        else if (rc == 0 && st != PGRES_TUPLES_OK)
            rc = zb_pg_result_error(conn, res, what);
        PQclear(res);
    }
    return rc;
}

int zb_pg_query(PGresult **out, PGconn *conn, const char *sql, const char *what)
{
    *out = PQexec(conn, sql);
    if (PQresultStatus(*out) == PGRES_TUPLES_OK)
        return 0;
    int rc = zb_pg_result_error(conn, *out, what);
    PQclear(*out);
    *out = NULL;
    return rc;
}

void zb_pg_await_result(PGconn *conn)
{
    int cancelled = 0;
    while (PQisBusy(conn)) {
        if (!cancelled && zb_interrupted()) {
            PGcancel *cancel = PQgetCancel(conn);
            char why[256];
            if (cancel)
                PQcancel(cancel, why, sizeof(why));
            PQfreeCancel(cancel);
            cancelled = 1;
        }
        /* a short poll: the signal handler only sets a flag */
        struct pollfd ready = {PQsocket(conn), POLLIN, 0};
        if ((poll(&ready, 1, 100) < 0 && errno != EINTR) || !PQconsumeInput(conn))
            return; /* PQgetResult reports the connection's failure */
    }
}
