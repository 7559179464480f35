#include "zakpos_backup/source/pg/restore_state.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/source/pg/conn.h"
#include "zakpos_backup/source/pg/database.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int database_exists(zb_pg_restore *p, const char *name, int *exists)
{
    const char *params[1] = {name};
    PGresult *res = PQexecParams(p->maintenance, "SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", 1, NULL,
                                 params, NULL, NULL, 0);
    int rc =
        PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : zb_pg_result_error(p->maintenance, res, "cannot list databases");
    *exists = rc == 0 && PQntuples(res) > 0;
    PQclear(res);
    return rc;
}

/* Objects a user made in a database: tables, views, sequences, functions, types. */
static const char user_objects_sql[] =
    "SELECT (SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')) + "
    "(SELECT count(*) FROM pg_catalog.pg_proc f JOIN pg_catalog.pg_namespace n ON n.oid = f.pronamespace "
    "WHERE n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e "
    "WHERE e.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND e.objid = f.oid AND e.deptype = 'e'))";

int zb_pg_restore_check_target(zb_pg_restore *p)
{
    int rc = database_exists(p, p->target, &p->target_exists);
    if (rc < 0 || !p->target_exists)
        return rc;
    PGconn *conn = NULL;
    if ((rc = zb_pg_connect_db(&conn, p->opts.conninfo, p->opts.password_file, p->target)) < 0)
        return rc;
    PGresult *res = PQexec(conn, user_objects_sql);
    long long objects = PQresultStatus(res) == PGRES_TUPLES_OK ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : -1;
    if (objects < 0)
        rc = zb_pg_result_error(conn, res, "cannot look into the target database");
    PQclear(res);
    PQfinish(conn);
    if (rc == 0 && objects > 0 && !p->opts.force) {
        rc = zb_error_set(ZB_EEXIST,
                          "target database \"%s\" exists and is not empty (%lld objects); nothing was changed",
                          p->target, objects);
        zb_error_hint("restore into a new database (dbname=NAME in --pg-target), or pass --force to replace it");
    }
    return rc;
}

static char *quoted_ident(PGconn *conn, const char *name)
{
    char *q = PQescapeIdentifier(conn, name, strlen(name));
    char *copy = q ? zb_strdup(q) : NULL;
    PQfreemem(q);
    return copy;
}

#define TEMP_PREFIX "zbrestore_"

int zb_pg_restore_create_temp(zb_pg_restore *p)
{
    snprintf(p->temp, sizeof(p->temp), TEMP_PREFIX "%ld_%d", (long)time(NULL), (int)getpid());
    zb_pg_database_locale locale = {p->opts.locale, p->opts.icu_locale};
    int rc = zb_pg_database_create(p->maintenance, p->temp, json_object_get(p->catalog, "database"), p->plan->encoding,
                                   &locale);
    if (rc == 0) {
        p->temp_created = 1;
        zb_log_detail("loading into temporary database %s (becomes \"%s\" once verified)", p->temp, p->target);
    }
    return rc;
}

static int rename_database(zb_pg_restore *p, const char *from, const char *to)
{
    char *a = quoted_ident(p->maintenance, from), *b = quoted_ident(p->maintenance, to);
    zb_buf sql = ZB_BUF_INIT;
    int rc =
        a && b ? zb_buf_printf(&sql, "ALTER DATABASE %s RENAME TO %s", a, b) : zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0)
        rc = zb_pg_exec(p->maintenance, sql.data, "cannot rename a database");
    zb_buf_free(&sql);
    free(a);
    free(b);
    return rc;
}

/* The filled database takes the target's name; a replaced target is kept
 * aside until the swap succeeded, then dropped. */
int zb_pg_restore_publish(zb_pg_restore *p)
{
    if (!p->target_exists)
        return rename_database(p, p->temp, p->target);
    char aside[64];
    snprintf(aside, sizeof(aside), "zbreplaced_%ld_%d", (long)time(NULL), (int)getpid());
    int rc = zb_pg_terminate_sessions(p->maintenance, p->target);
    if (rc == 0)
        rc = rename_database(p, p->target, aside);
    if (rc < 0)
        return rc;
    if (rename_database(p, p->temp, p->target) < 0) {
        zb_error_saved why;
        zb_error_save(&why);
        rename_database(p, aside, p->target);
        return zb_error_raise(&why);
    }
    if (zb_pg_drop_database(p->maintenance, aside) < 0)
        zb_log_warn("the replaced database was kept as \"%s\": %s", aside, zb_error_message());
    return 0;
}

int zb_pg_restore_drop_abandoned(PGconn *maintenance, long pid)
{
    char pattern[64];
    snprintf(pattern, sizeof(pattern), "^" TEMP_PREFIX "[0-9]+_%ld$", pid);
    const char *params[1] = {pattern};
    PGresult *res = PQexecParams(maintenance, "SELECT datname FROM pg_catalog.pg_database WHERE datname ~ $1", 1, NULL,
                                 params, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : zb_pg_result_error(maintenance, res, "cannot list databases");
    int dropped = 0;
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        if ((rc = zb_pg_drop_database(maintenance, PQgetvalue(res, i, 0))) == 0) {
            zb_log_info("dropped database %s, which an interrupted restore was filling", PQgetvalue(res, i, 0));
            dropped++;
        }
    }
    PQclear(res);
    return rc < 0 ? rc : dropped;
}

/* A tablespace the target lacks: each statement sets default_tablespace
 * only where the target has it, so the relations the source had in it are
 * made in the default one; said once, before the restore starts. */
void zb_pg_restore_note_missing_tablespaces(const zb_pg_restore *p)
{
    zb_buf missing = ZB_BUF_INIT;
    size_t count = 0;
    for (size_t i = 0; i < p->plan->tablespace_count; i++) {
        const char *params[1] = {p->plan->tablespaces[i]};
        PGresult *res = PQexecParams(p->maintenance, "SELECT FROM pg_catalog.pg_tablespace WHERE spcname = $1", 1, NULL,
                                     params, NULL, NULL, 0);
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 0)
            zb_buf_printf(&missing, "%s%s", count++ ? ", " : "", params[0]);
        PQclear(res);
    }
    if (count > 0)
        zb_log_warn(
            "the target server has no tablespace %s: the relations the archive has in %s are made in the "
            "default tablespace (create %s and restore again to keep them in place)",
            missing.data ? missing.data : "", count == 1 ? "it" : "them", count == 1 ? "it" : "them");
    zb_buf_free(&missing);
}

/* An older server may lack syntax, privileges or extension versions the
 * source used: the restore still tries (many schemas restore fine) but says
 * so first, so a failure that follows has its likely cause beside it. */
void zb_pg_restore_warn_if_older(const zb_pg_restore *p)
{
    int source = p->plan->server_version;
    int target = PQserverVersion(p->maintenance);
    if (source >= 100000 && target > 0 && target / 10000 < source / 10000)
        zb_log_warn(
            "the archive comes from PostgreSQL %d and the target server runs PostgreSQL %d: restoring into an "
            "older major version can fail; a server of version %d or newer is the safe target",
            source / 10000, target / 10000, source / 10000);
}
