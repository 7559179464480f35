#include "zakpos_backup/command/recover.h"
#include "zakpos_backup/archive/reader.h"
#include "zakpos_backup/archive/writer.h"
#include "zakpos_backup/command/drill.h"
#include "zakpos_backup/command/recover_parts.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fault.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/progress.h"
#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/remote/copy.h"
#include "zakpos_backup/repo/repo.h"
#include "zakpos_backup/restore/plan.h"
#include "zakpos_backup/source/pg/conn.h"
#include "zakpos_backup/source/pg/globals.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SMOKE_OUTPUT_MAX 4096

typedef struct recovery {
    const zb_recover_request *req;
    const zb_config *config;
    zb_recover_journal journal;
    zb_docker *docker;
    json_t *globals;
    char *globals_source; /* the database source globals.json came with */
    zb_pg_globals_result roles;
    double roles_seconds;
    char *db_name;
    json_t *report;
} recovery;

static const char *pg_conninfo(const recovery *rv)
{
    return rv->req->pg_conninfo ? rv->req->pg_conninfo : rv->config->pg_conninfo;
}

static const char *pg_password_file(const recovery *rv)
{
    const char *f = rv->req->pg_password_file ? rv->req->pg_password_file : rv->config->pg_password_file;
    return f && *f ? f : NULL;
}

static int open_docker(recovery *rv)
{
    if (rv->docker)
        return 0;
    const char *host = rv->req->docker_host ? rv->req->docker_host : rv->config->docker_host;
    return zb_docker_open(&rv->docker, host && *host ? host : NULL);
}

/* ------------------------------------------------------------ the globals */

/* Adds to names (a JSON array of strings) those of more it lacks. */
static void add_names(json_t *names, json_t *more)
{
    size_t i, k;
    json_t *x, *y;
    json_array_foreach (more, i, x) {
        int known = 0;
        json_array_foreach (names, k, y)
            known |= json_equal(x, y);
        if (!known)
            json_array_append(names, x);
    }
}

/* The tablespaces are made as soon as globals.json is read, before the
 * table of contents: the relations are created in them while the archive
 * streams (restore wraps each in default_tablespace, which must name one the
 * server has by then). A recovery that fails drops those it made. */
static void create_tablespaces(recovery *rv)
{
    const char *done = zb_recover_journal_part(&rv->journal, ZB_SOURCE_PG, rv->globals_source);
    if (json_array_size(json_object_get(rv->globals, "tablespaces")) == 0 || (done && strcmp(done, "done") == 0))
        return;
    double started = zb_time_monotonic();
    PGconn *conn = NULL;
    if (zb_pg_connect_db(&conn, pg_conninfo(rv), pg_password_file(rv), ZB_PG_MAINTENANCE_DB) < 0 ||
        zb_pg_globals_create_tablespaces(&rv->roles, conn, rv->globals) < 0) {
        zb_log_warn("tablespaces not created before the database: %s", zb_error_message());
        zb_error_clear();
    }
    PQfinish(conn);
    rv->roles_seconds += zb_time_monotonic() - started;
}

static void drop_created_tablespaces(recovery *rv)
{
    if (json_array_size(rv->roles.tablespaces) == 0)
        return;
    PGconn *conn = NULL;
    if (zb_pg_connect_db(&conn, pg_conninfo(rv), pg_password_file(rv), ZB_PG_MAINTENANCE_DB) == 0)
        zb_pg_globals_drop_tablespaces(&rv->roles, conn);
    else {
        zb_log_warn("the tablespaces this recovery created are left: %s", zb_error_message());
        zb_error_clear();
    }
    PQfinish(conn);
}

/* globals.json comes before the database's table of contents: it is kept
 * until the whole archive is read; its tablespaces are made at once. */
static int take_globals(zb_archive_reader *r, struct archive_entry *e, const zb_entry_info *info, void *payload)
{
    recovery *rv = payload;
    int rc = zb_pg_globals_take(&rv->globals, r, e, info);
    if (rc <= 0)
        return rc;
    const char *db = json_string_value(json_object_get(rv->globals, "database"));
    if (!(rv->db_name = zb_strdup(db ? db : info->source_name)))
        return zb_error_set(ZB_ENOMEM, "out of memory");
    if (!(rv->globals_source = zb_strdup(info->source_name)))
        return zb_error_set(ZB_ENOMEM, "out of memory");
    create_tablespaces(rv);
    return 1;
}

/* The roles to create go to the journal before they are created: a
 * recovery killed in between finds them there, counts them as its own and
 * gives them their memberships, settings and comments. */
static int record_roles_to_create(recovery *rv, PGconn *conn)
{
    json_t *missing = json_array();
    int rc = missing ? zb_pg_globals_missing(missing, conn, rv->globals) : zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0)
        add_names(json_object_get(rv->journal.doc, "roles_created"), missing);
    json_decref(missing);
    return rc < 0 ? rc : zb_recover_journal_save(&rv->journal);
}

/* Called once the whole archive is proven intact, before the database is
 * finished (its owners and grants wait for this): nothing is created on
 * the server from an archive that turns out truncated or altered. */
static int create_roles(void *payload)
{
    recovery *rv = payload;
    if (!rv->globals)
        return 0;
    const char *done = zb_recover_journal_part(&rv->journal, ZB_SOURCE_PG, rv->globals_source);
    if (done && strcmp(done, "done") == 0)
        return 0;
    double started = zb_time_monotonic();
    PGconn *conn = NULL;
    zb_progress_phase("creating the roles", 0);
    int rc = zb_pg_connect_db(&conn, pg_conninfo(rv), pg_password_file(rv), ZB_PG_MAINTENANCE_DB);
    if (rc == 0)
        rc = record_roles_to_create(rv, conn);
    if (rc == 0)
        rc = zb_pg_globals_apply(&rv->roles, conn, rv->globals, json_object_get(rv->journal.doc, "roles_created"));
    PQfinish(conn);
    rv->roles_seconds += zb_time_monotonic() - started;
    return rc;
}

/* ------------------------------------------------------------ the targets */

static const char *path_target(const recovery *rv, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < rv->req->path_count; i++)
        if (strncmp(rv->req->paths[i], name, n) == 0 && rv->req->paths[i][n] == '=')
            return rv->req->paths[i] + n + 1;
    for (size_t i = 0; i < rv->config->path_count; i++)
        if (strcmp(rv->config->paths[i].name, name) == 0)
            return rv->config->paths[i].dir;
    return NULL;
}

/* A part an interrupted recovery began is replaced: what is there is its
 * own unfinished (or unrecorded) work, not the user's. */
static int begin_part(recovery *rv, const char *kind, const char *name, int *force)
{
    const char *state = zb_recover_journal_part(&rv->journal, kind, name);
    *force = rv->req->force || (state && strcmp(state, "started") == 0);
    return zb_recover_journal_set_part(&rv->journal, kind, name, "started");
}

static int add_pg(recovery *rv, zb_restore_plan *plan, const char *name)
{
    int force = 0;
    int rc = begin_part(rv, ZB_SOURCE_PG, name, &force);
    zb_pg_restore_options pg = {0};
    pg.conninfo = pg_conninfo(rv);
    pg.password_file = pg_password_file(rv);
    pg.target_db = rv->db_name ? rv->db_name : name;
    pg.jobs = rv->req->pg_jobs > 0 ? rv->req->pg_jobs : rv->config->pg_jobs;
    pg.force = force;
    pg.roles_at_finish = 1;
    return rc < 0 ? rc : zb_restore_plan_add_pg(plan, name, &pg);
}

static int add_volume(recovery *rv, zb_restore_plan *plan, const char *name)
{
    int force = 0;
    int rc = open_docker(rv);
    if (rc == 0)
        rc = begin_part(rv, ZB_SOURCE_VOLUME, name, &force);
    zb_volume_restore_options opts = {0};
    opts.force = force;
    return rc < 0 ? rc : zb_restore_plan_add_volume(plan, rv->docker, name, name, &opts);
}

static int add_path(recovery *rv, zb_restore_plan *plan, const char *name)
{
    const char *target = path_target(rv, name);
    if (!target) {
        zb_error_set(ZB_ENOTFOUND,
                     "the archive's path %s has no location here: the configuration's [paths] does not name it", name);
        return zb_error_hint("add '%s = DIR' to [paths], or give --path %s=DIR", name, name);
    }
    int force = 0;
    int rc = begin_part(rv, ZB_SOURCE_PATH, name, &force);
    return rc < 0 ? rc : zb_restore_plan_add_path(plan, name, target, force);
}

/* Every source goes back where it came from, except what an interrupted
 * recovery already finished (read, and so verified, but not written again). */
static int select_source(zb_restore_plan *plan, const char *kind, const char *name, void *payload)
{
    recovery *rv = payload;
    const char *state = zb_recover_journal_part(&rv->journal, kind, name);
    if (state && strcmp(state, "done") == 0) {
        zb_log_info("%s %s: restored by the earlier recovery, kept", kind, name);
        return 0;
    }
    if (strcmp(kind, ZB_SOURCE_PG) == 0)
        return add_pg(rv, plan, name);
    if (strcmp(kind, ZB_SOURCE_VOLUME) == 0)
        return add_volume(rv, plan, name);
    return add_path(rv, plan, name);
}

static void record_finished(recovery *rv, zb_restore_plan *plan, json_t *parts)
{
    for (size_t i = 0; i < zb_restore_plan_count(plan); i++) {
        zb_restore_target_info t = zb_restore_plan_target(plan, i);
        if (t.finished && zb_recover_journal_set_part(&rv->journal, t.kind, t.name, "done") < 0) {
            zb_log_warn("%s", zb_error_message());
            zb_error_clear();
        }
        json_array_append_new(parts, json_pack("{s:s, s:s, s:s, s:f, s:s}", "kind", t.kind, "name", t.name, "target",
                                               t.target, "restore_seconds", t.load_seconds + t.finish_seconds, "result",
                                               t.finished ? "restored" : "not restored"));
    }
}

/* Settings a role has in the recovered database need the database; they
 * are given in a session in that database, as pg_restore --create does: an
 * SQL_ASCII database's settings may hold bytes that are not UTF-8, which
 * its own session (in SQL_ASCII) passes as they are and the maintenance
 * database's UTF8 would refuse. */
static void database_role_settings(recovery *rv)
{
    if (!rv->globals || !rv->db_name)
        return;
    PGconn *conn = NULL;
    if (zb_pg_connect_db(&conn, pg_conninfo(rv), pg_password_file(rv), rv->db_name) == 0)
        zb_pg_globals_apply_database(&rv->roles, conn, rv->globals, rv->db_name);
    else {
        zb_log_warn("per-database role settings not restored: %s", zb_error_message());
        zb_error_clear();
    }
    PQfinish(conn);
}

/* A run killed while it filled the database under a temporary name left
 * that database behind: those of the runs the journal records are dropped,
 * then this run is recorded. A failure is a warning: it only leaves garbage. */
static void drop_abandoned(recovery *rv)
{
    json_t *pids = json_object_get(rv->journal.doc, "pids");
    if (!json_is_array(pids)) {
        pids = json_array();
        json_object_set_new(rv->journal.doc, "pids", pids);
    }
    PGconn *conn = NULL;
    int rc = json_array_size(pids) > 0
                 ? zb_pg_connect_db(&conn, pg_conninfo(rv), pg_password_file(rv), ZB_PG_MAINTENANCE_DB)
                 : 0;
    size_t i;
    json_t *pid;
    json_array_foreach (pids, i, pid)
        if (rc >= 0 && json_integer_value(pid) != (json_int_t)getpid())
            rc = zb_pg_restore_drop_abandoned(conn, (long)json_integer_value(pid));
    PQfinish(conn);
    json_array_append_new(pids, json_integer(getpid()));
    if (rc < 0 || zb_recover_journal_save(&rv->journal) < 0) {
        zb_log_warn("%s", zb_error_message());
        zb_error_clear();
    }
}

static int database_finished(zb_restore_plan *plan)
{
    for (size_t i = 0; plan && i < zb_restore_plan_count(plan); i++) {
        zb_restore_target_info t = zb_restore_plan_target(plan, i);
        if (t.finished && strcmp(t.kind, ZB_SOURCE_PG) == 0)
            return 1;
    }
    return 0;
}

static int restore_all(recovery *rv, const char *archive, json_t *parts)
{
    drop_abandoned(rv);
    zb_archive_reader *r = NULL;
    zb_restore_plan *plan = NULL;
    int rc = zb_restore_plan_new(&plan);
    if (rc == 0) {
        zb_restore_plan_on_entry(plan, take_globals, rv);
        zb_restore_plan_on_verified(plan, create_roles, rv);
        zb_restore_plan_on_unselected(plan, select_source, rv);
        rc = zb_archive_reader_open(&r, archive, &rv->req->keys);
    }
    struct stat st;
    if (rc == 0) {
        zb_progress_begin("recover", stat(archive, &st) == 0 ? (uint64_t)st.st_size : 0);
        rc = zb_restore_plan_run(plan, r);
        zb_progress_end();
    }
    if (plan)
        record_finished(rv, plan, parts);
    if (rc == 0)
        database_role_settings(rv);
    else if (!database_finished(plan))
        drop_created_tablespaces(rv);
    zb_restore_plan_free(plan);
    zb_archive_reader_free(r);
    return rc;
}

/* ------------------------------------------------------- the smoke check */

static int run_smoke(const recovery *rv, json_t *report)
{
    const char *command = rv->config->recover_smoke_command;
    json_t *smoke = json_object();
    json_object_set_new(report, "smoke", smoke);
    if (!command || !*command) {
        json_object_set_new(smoke, "result", json_string("none configured"));
        return 0;
    }
    json_object_set_new(smoke, "command", json_string(command));
    zb_log_info("smoke check: %s", command);
    FILE *p = popen(command, "r");
    if (!p)
        return zb_error_set(ZB_EFAIL, "cannot run the smoke check '%s'", command);
    char output[SMOKE_OUTPUT_MAX + 1];
    size_t got = 0, n;
    char sink[4096];
    while ((n = fread(got < SMOKE_OUTPUT_MAX ? output + got : sink, 1,
                      got < SMOKE_OUTPUT_MAX ? SMOKE_OUTPUT_MAX - got : sizeof(sink), p)) > 0)
        got += got < SMOKE_OUTPUT_MAX ? n : 0;
    output[got] = '\0';
    int status = pclose(p);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    json_object_set_new(smoke, "exit_status", json_integer(code));
    json_object_set_new(smoke, "output", json_string(output));
    json_object_set_new(smoke, "result", json_string(code == 0 ? "pass" : "fail"));
    if (code != 0)
        return zb_error_set(ZB_EVERIFY, "the smoke check '%s' failed with exit status %d", command, code);
    return 0;
}

/* ------------------------------------------------------------- the phases */

static void add_roles(json_t *report, const recovery *rv)
{
    json_t *created = json_array();
    size_t i;
    json_t *x;
    /* roles an interrupted recovery created count as created, not kept */
    json_array_foreach (json_object_get(rv->journal.doc, "roles_created"), i, x)
        json_array_append(created, x);
    json_t *kept = json_array();
    json_array_foreach (rv->roles.kept, i, x) {
        size_t k;
        json_t *y;
        int ours = 0;
        json_array_foreach (created, k, y)
            ours |= json_equal(x, y);
        if (!ours)
            json_array_append(kept, x);
    }
    json_object_set_new(report, "roles",
                        json_pack("{s:o, s:o, s:O?, s:O?, s:O?}", "created", created, "kept", kept, "without_password",
                                  rv->roles.without_password, "tablespaces_created", rv->roles.tablespaces, "problems",
                                  rv->roles.problems));
}

static void phase_time(json_t *report, const char *phase, double seconds)
{
    json_object_set_new(json_object_get(report, "seconds"), phase, json_real(seconds));
}

/* A configuration with Docker off ([docker] enabled = no) and no Compose
 * project has no stack to stop: a host with only a database recovers
 * without Docker. */
static int has_stack(const zb_config *c)
{
    return (c->volumes_enabled && c->volumes && c->volumes[strspn(c->volumes, " ")]) ||
           (c->recover_compose_project && *c->recover_compose_project);
}

static int phases(recovery *rv, const char *archive, json_t *report)
{
    double t = zb_time_monotonic();
    json_t *stack = NULL, *parts = json_array(), *containers = json_array();
    json_object_set_new(report, "parts", parts);
    json_object_set_new(report, "containers", containers);
    /* 2: the stack stops (what an interrupted recovery stopped stays so) */
    int rc = has_stack(rv->config) ? open_docker(rv) : 0;
    if (rc == 0 && rv->docker)
        rc = zb_recover_stack_find(&stack, rv->docker, rv->config);
    if (rc == 0 && rv->docker)
        rc = zb_recover_stack_stop(&rv->journal, rv->docker, stack);
    json_decref(stack);
    phase_time(report, "stop", zb_time_monotonic() - t);
    ZB_FAULT_POINT("recover-restore", archive);
    /* 3-5: roles, database, volumes, paths in one verified pass */
    t = zb_time_monotonic();
    if (rc == 0)
        rc = restore_all(rv, archive, parts);
    phase_time(report, "restore", zb_time_monotonic() - t);
    phase_time(report, "roles", rv->roles_seconds);
    add_roles(report, rv);
    if (rc < 0)
        return rc;
    ZB_FAULT_POINT("recover-start", archive);
    /* 6: the stack runs again and answers */
    t = zb_time_monotonic();
    /* containers an earlier run stopped are started even by a host without a stack now */
    if (!rv->docker && json_array_size(json_object_get(rv->journal.doc, "containers")) > 0)
        rc = open_docker(rv);
    if (rc == 0)
        rc = zb_recover_stack_start(&rv->journal, rv->docker, rv->config->recover_health_timeout_seconds, containers);
    phase_time(report, "start", zb_time_monotonic() - t);
    t = zb_time_monotonic();
    ZB_FAULT_POINT("recover-smoke", archive);
    if (rc == 0)
        rc = run_smoke(rv, report);
    phase_time(report, "smoke", zb_time_monotonic() - t);
    return rc;
}

/* A failed recovery leaves the stack running as it found it; its journal
 * stays, and the next recovery stops it again and finishes the work. */
static void put_stack_back(recovery *rv)
{
    if (!rv->docker || json_array_size(json_object_get(rv->journal.doc, "containers")) == 0)
        return;
    zb_error_saved failure;
    zb_error_save(&failure);
    json_t *ignored = json_array();
    if (zb_recover_stack_start(&rv->journal, rv->docker, rv->config->recover_health_timeout_seconds, ignored) < 0)
        zb_log_warn("cannot start the stopped containers again: %s", zb_error_message());
    json_decref(ignored);
    zb_error_raise(&failure);
}

static json_t *new_report(const recovery *rv, const char *archive)
{
    char now[32], host[256] = "";
    zb_time_format_iso(now, sizeof(now), time(NULL));
    gethostname(host, sizeof(host) - 1);
    const char *slash = strrchr(archive, '/');
    json_t *report = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:{s:f}}", "command", "recover", "archive",
                               slash ? slash + 1 : archive, "host", host, "started", now, "fetched_from",
                               rv->req->fetched_from, "seconds", "fetch", rv->req->fetch_seconds);
    return report;
}

static void finish_report(json_t *report, double started, int rc, const recovery *rv)
{
    json_t *s = json_object_get(report, "seconds");
    double total = json_real_value(json_object_get(s, "fetch")) + zb_time_monotonic() - started;
    json_object_set_new(s, "total", json_real(total));
    json_object_set_new(report, "rto_seconds", json_real(total));
    json_object_set_new(report, "result", json_string(rc == 0 ? "pass" : "fail"));
    if (rc < 0)
        json_object_set_new(report, "error", json_string(zb_error_message()));
    json_object_set_new(report, "resumed", json_boolean(json_is_true(json_object_get(rv->journal.doc, "resumed"))));
}

int zb_recover_phases(const zb_recover_request *req, const zb_config *config)
{
    if (req->plan)
        return zb_recover_plan(req, config, req->archive);
    recovery rv;
    memset(&rv, 0, sizeof(rv));
    rv.req = req;
    rv.config = config;
    double started = zb_time_monotonic();
    const char *slash = strrchr(req->archive, '/');
    int resumed = 0;
    /* 1: header and signature before anything is touched */
    zb_archive_reader *check = NULL;
    int rc = zb_archive_reader_open(&check, req->archive, &req->keys);
    zb_archive_reader_free(check);
    if (rc == 0)
        rc = zb_recover_journal_open(&rv.journal, slash ? slash + 1 : req->archive, &resumed);
    if (rc < 0) {
        zb_recover_journal_free(&rv.journal);
        return rc;
    }
    if (resumed)
        json_object_set_new(rv.journal.doc, "resumed", json_true());
    rv.report = new_report(&rv, req->archive);
    zb_log_info("recover: %s%s", req->archive, resumed ? " (finishing an interrupted recovery)" : "");
    rc = phases(&rv, req->archive, rv.report);
    if (rc < 0)
        put_stack_back(&rv);
    finish_report(rv.report, started, rc, &rv);
    zb_error_saved failure;
    zb_error_save(&failure);
    int written =
        zb_report_write(rv.report, req->report_file, req->as_json, zb_recover_write_markdown, rv.report, "recovery");
    /* complete only now: the journal goes once the report says so */
    if (rc == 0 && written == 0)
        written = zb_recover_journal_finish(&rv.journal);
    if (rc < 0 && written < 0)
        zb_log_error("%s", zb_error_message());
    if (rc < 0)
        zb_error_raise(&failure);
    else
        rc = written;
    json_decref(rv.report);
    json_decref(rv.globals);
    zb_pg_globals_result_free(&rv.roles);
    free(rv.db_name);
    free(rv.globals_source);
    zb_docker_close(rv.docker);
    zb_recover_journal_free(&rv.journal);
    return rc;
}
