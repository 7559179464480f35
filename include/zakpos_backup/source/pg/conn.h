/* Connections to PostgreSQL for backup and restore: a libpq connection
 * string or URI (else DATABASE_URL, else libpq's PG* variables and
 * .pgpass), a password from a file (never argv), and the session settings
 * that make COPY output exact and portable. Errors quote the server. */
#ifndef ZB_SOURCE_PG_CONN_H
#define ZB_SOURCE_PG_CONN_H

#include <libpq-fe.h>
#include <stddef.h>

#define ZB_PG_ENV_PASSWORD_FILE "ZAKPOS_BACKUP_PG_PASSWORD_FILE"
#define ZB_PG_MIN_VERSION       120000
#define ZB_PG_MAX_JOBS          64
#define ZB_PG_MAINTENANCE_DB    "postgres"

/* Connections to use: requested, or the number of cores when <= 0, within
 * 1..ZB_PG_MAX_JOBS. */
int zb_pg_jobs(int requested);
/* The same, but no more than there are items to share out (at least 1). */
int zb_pg_jobs_for(int requested, size_t work_items);

/* conninfo NULL: DATABASE_URL, else libpq's defaults. password_file NULL:
 * ZAKPOS_BACKUP_PG_PASSWORD_FILE if set (PGPASSWORD and .pgpass work as
 * libpq has them). The session is set up for a backup or restore. */
/* Whether the connection's database is SQL_ASCII (its sessions then stay in
 * SQL_ASCII: see connect_as). */
int zb_pg_is_sql_ascii(PGconn *conn);
int zb_pg_connect(PGconn **out, const char *conninfo, const char *password_file);
/* The same server and credentials, another database (dbname not NULL). */
int zb_pg_connect_db(PGconn **out, const char *conninfo, const char *password_file, const char *dbname);
/* A logical replication connection (replication=database) to the same
 * database: for the follower's slot and stream. */
int zb_pg_connect_replication(PGconn **out, const char *conninfo, const char *password_file);
/* The database a connection string names explicitly (free()), or NULL. */
char *zb_pg_conninfo_dbname(const char *conninfo);
/* "host:port/dbname as user": names a connection in messages, no secrets. */
const char *zb_pg_describe(PGconn *conn, char *buf, size_t size);
/* Runs a statement that returns no rows; errors quote the server. */
int zb_pg_exec(PGconn *conn, const char *sql, const char *what);
/* Waits until the next result of a query sent with PQsendQuery is ready.
 * SIGINT or SIGTERM meanwhile cancels the statement on the server (a lock
 * wait may otherwise last its whole lock timeout); the caller then reads the
 * cancelled statement's result and reports the interruption. */
void zb_pg_await_result(PGconn *conn);
/* Runs a query that returns rows into *out (PQclear it); on failure *out is
 * NULL and the error quotes the server. */
int zb_pg_query(PGresult **out, PGconn *conn, const char *sql, const char *what);
/* A query's rows handed to row(result of one row, payload) one at a time as
 * they arrive (libpq's single-row mode), so a catalog of tens of thousands
 * of objects is never held whole as one result. A callback's error ends
 * it (the rest of the result is read and dropped). */
typedef int (*zb_pg_row_fn)(PGresult *row, void *payload);
int zb_pg_query_rows(PGconn *conn, const char *sql, const char *what, zb_pg_row_fn row, void *payload);
/* An error from a failed result: the server's message, detail and hint. */
int zb_pg_result_error(PGconn *conn, PGresult *res, const char *what);

/* Ends every other session on database db (from a maintenance connection). */
int zb_pg_terminate_sessions(PGconn *maintenance, const char *db);
/* Drops database name if it exists, ending its sessions first. */
int zb_pg_drop_database(PGconn *maintenance, const char *name);
/* The same through a new connection to the server's maintenance database. */
int zb_pg_drop_database_at(const char *conninfo, const char *password_file, const char *name);

#endif
