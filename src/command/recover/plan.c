#include "zakpos_backup/archive/reader.h"
#include "zakpos_backup/archive/writer.h"
#include "zakpos_backup/command/recover_parts.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/source/docker/helper.h"
#include "zakpos_backup/source/pg/conn.h"
#include "zakpos_backup/source/pg/globals.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define COMPOSE_PROJECT_LABEL "com.docker.compose.project"
#define COMPOSE_VOLUME_LABEL  "com.docker.compose.volume"
#define COMPOSE_FILE_MAX      (4u << 20)

typedef struct dry_run {
    const zb_recover_request *req;
    const zb_config *c;
    json_t *blocked; /* one message per problem */
    zb_docker *docker;
} dry_run;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static void block(dry_run *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void block(dry_run *d, const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    json_array_append_new(d->blocked, json_string(message));
    say("blocked: %s", message);
}

/* --------------------------------------------------- the compose file */

/* "  key:" at the first indentation under a top-level "volumes:", and a
 * "name:" below it: enough of YAML for the volumes a stack declares. */
int zb_recover_compose_volumes(json_t **out, const char *compose_file)
{
    char *text = NULL;
    int rc = zb_fs_read_text(&text, compose_file, COMPOSE_FILE_MAX);
    if (rc < 0)
        return zb_error_context("recover.compose_file");
    json_t *volumes = json_object();
    int in_volumes = 0;
    size_t key_indent = 0;
    char key[256] = "";
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        size_t indent = strspn(line, " ");
        char *body = line + indent;
        if (!*body || *body == '#' || *body == '\r')
            continue;
        if (indent == 0) {
            in_volumes = strncmp(body, "volumes:", 8) == 0;
            key_indent = 0;
            continue;
        }
        if (!in_volumes)
            continue;
        size_t len = strcspn(body, ":");
        if (!key_indent || indent == key_indent) {
            key_indent = indent;
            snprintf(key, sizeof(key), "%.*s", (int)len, body);
            json_object_set_new(volumes, key, json_null());
        } else if (indent > key_indent && len == 4 && strncmp(body, "name", 4) == 0 && body[4] == ':') {
            char *value = body + 5 + strspn(body + 5, " \"'");
            value[strcspn(value, "\"' \r#")] = '\0';
            json_object_set_new(volumes, key, json_string(value));
        }
    }
    free(text);
    *out = volumes;
    return 0;
}

/* What declares the stack's volumes: the compose file, else the volumes
 * Docker labels with the stack's Compose project; NULL when neither is known. */
static json_t *declared_volumes(dry_run *d, const char *project, const char **how)
{
    json_t *declared = NULL;
    const char *file = d->c->recover_compose_file;
    if (file && *file) {
        *how = file;
        if (zb_recover_compose_volumes(&declared, file) < 0)
            block(d, "%s", zb_error_message());
        zb_error_clear();
        return declared;
    }
    if (!project || !d->docker)
        return NULL;
    zb_buf filter = ZB_BUF_INIT;
    json_t *listing = NULL;
    zb_buf_printf(&filter, "%s=%s", COMPOSE_PROJECT_LABEL, project);
    if (filter.data && zb_docker_list_filtered(d->docker, "/volumes?filters=", "label", filter.data, &listing) == 0 &&
        json_array_size(json_object_get(listing, "Volumes")) > 0) {
        declared = json_object();
        size_t i;
        json_t *v;
        json_array_foreach (json_object_get(listing, "Volumes"), i, v) {
            const char *key = json_string_value(json_object_get(json_object_get(v, "Labels"), COMPOSE_VOLUME_LABEL));
            json_object_set_new(declared, key ? key : json_string_value(json_object_get(v, "Name")),
                                json_string(json_string_value(json_object_get(v, "Name"))));
        }
        *how = "the Docker labels of Compose project";
    }
    zb_error_clear();
    zb_buf_free(&filter);
    json_decref(listing);
    return declared;
}

static int is_declared(json_t *declared, const char *name, json_t *meta)
{
    const char *key = json_string_value(json_object_get(json_object_get(meta, "labels"), COMPOSE_VOLUME_LABEL));
    const char *k;
    json_t *v;
    json_object_foreach (declared, k, v) {
        if (strcmp(k, name) == 0 || (key && strcmp(k, key) == 0) ||
            (json_string_value(v) && strcmp(json_string_value(v), name) == 0))
            return 1;
    }
    return 0;
}

/* ------------------------------------------------------------ the parts */

static void plan_roles(dry_run *d, PGconn *conn, json_t *globals)
{
    json_t *blocked = json_array(), *existing = json_array();
    size_t i;
    json_t *x;
    if (zb_pg_globals_check(blocked, existing, conn, globals) < 0) {
        block(d, "%s", zb_error_message());
        zb_error_clear();
    }
    json_array_foreach (blocked, i, x)
        block(d, "%s", json_string_value(x));
    json_array_foreach (json_object_get(globals, "roles"), i, x) {
        const char *name = json_string_value(json_object_get(x, "name"));
        int kept = 0, refused = 0;
        size_t k;
        json_t *y;
        json_array_foreach (existing, k, y)
            kept |= strcmp(json_string_value(y), name) == 0;
        json_array_foreach (blocked, k, y)
            refused |= strstr(json_string_value(y), name) != NULL;
        if (kept)
            say("keep role %s (it exists; left as it is)", name);
        else if (!refused)
            say("create role %s%s", name,
                json_object_get(x, "password") || !json_is_true(json_object_get(x, "login")) ? ""
                                                                                             : " (without a password)");
    }
    json_decref(blocked);
    json_decref(existing);
}

/* Objects of the database outside the system schemas: a new stack's empty
 * database has none. -1: no such database; -2: it cannot be read (error set). */
static long long database_objects(PGconn *server, const zb_recover_request *req, const zb_config *c, const char *db)
{
    const char *params[1] = {db};
    PGresult *res =
        PQexecParams(server, "SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", 1, NULL, params, NULL, NULL, 0);
    int exists = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0;
    PQclear(res);
    if (!exists)
        return -1;
    PGconn *conn = NULL;
    long long n = -2;
    const char *password_file = req->pg_password_file ? req->pg_password_file : c->pg_password_file;
    if (zb_pg_connect_db(&conn, req->pg_conninfo ? req->pg_conninfo : c->pg_conninfo,
                         password_file && *password_file ? password_file : NULL, db) == 0 &&
        zb_pg_query(
            &res, conn,
            "SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast' "
            "AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')",
            "cannot count the database's objects") == 0) {
        n = atoll(PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    PQfinish(conn);
    return n;
}

static void plan_database(dry_run *d, const char *name, json_t *meta, json_t *globals)
{
    const char *conninfo = d->req->pg_conninfo ? d->req->pg_conninfo : d->c->pg_conninfo;
    const char *password_file = d->req->pg_password_file ? d->req->pg_password_file : d->c->pg_password_file;
    const char *db = json_string_value(json_object_get(globals, "database"));
    if (!db)
        db = json_string_value(json_object_get(meta, "database"));
    if (!db)
        db = name;
    PGconn *server = NULL;
    char where[512];
    if (zb_pg_connect_db(&server, conninfo, password_file && *password_file ? password_file : NULL,
                         ZB_PG_MAINTENANCE_DB) < 0) {
        block(d, "the database server cannot be reached: %s", zb_error_message());
        zb_error_clear();
        return;
    }
    zb_pg_describe(server, where, sizeof(where));
    if (globals)
        plan_roles(d, server, globals);
    else
        say("no cluster globals in the archive (written before they were): roles are not created");
    long long objects = database_objects(server, d->req, d->c, db);
    if (objects == -2)
        block(d, "database %s on %s cannot be read: %s", db, where, zb_error_message());
    else if (objects < 0)
        say("create database %s on %s", db, where);
    else if (objects == 0)
        say("restore database %s into the empty database of that name on %s", db, where);
    else if (d->req->force)
        say("replace database %s on %s (%lld objects; --force)", db, where, objects);
    else
        block(d, "the server is not empty: database %s on %s has %lld objects (--force replaces it)", db, where,
              objects);
    zb_error_clear();
    PQfinish(server);
}

static void plan_volume(dry_run *d, const char *name, json_t *meta)
{
    if (!d->docker) {
        block(d, "volume %s: Docker cannot be reached", name);
        return;
    }
    json_t *info = NULL;
    int rc = zb_volume_inspect(d->docker, name, &info);
    json_decref(info);
    if (rc == 0 && !d->req->force)
        block(d, "volume %s exists (--force replaces it, staged and verified first)", name);
    else if (rc == 0)
        say("replace volume %s (--force)", name);
    else if (rc == ZB_ENOTFOUND)
        say("create volume %s", name);
    else
        block(d, "volume %s: %s", name, zb_error_message());
    zb_error_clear();
    const char *project =
        d->c->recover_compose_project && *d->c->recover_compose_project
            ? d->c->recover_compose_project
            : json_string_value(json_object_get(json_object_get(meta, "labels"), COMPOSE_PROJECT_LABEL));
    const char *how = NULL;
    json_t *declared = declared_volumes(d, project, &how);
    if (!declared)
        say("volume %s: not checked against the stack's Compose file (set recover.compose_file)", name);
    else if (!is_declared(declared, name, meta))
        block(d, "volume %s is not declared by the stack (%s%s%s)", name, how,
              project && !d->c->recover_compose_file[0] ? " " : "",
              project && !d->c->recover_compose_file[0] ? project : "");
    json_decref(declared);
}

static void plan_path(dry_run *d, const char *name)
{
    const char *target = NULL;
    size_t n = strlen(name);
    for (size_t i = 0; i < d->req->path_count && !target; i++)
        if (strncmp(d->req->paths[i], name, n) == 0 && d->req->paths[i][n] == '=')
            target = d->req->paths[i] + n + 1;
    for (size_t i = 0; i < d->c->path_count && !target; i++)
        if (strcmp(d->c->paths[i].name, name) == 0)
            target = d->c->paths[i].dir;
    if (!target) {
        block(d, "path %s has no location: [paths] does not name it (or give --path %s=DIR)", name, name);
        return;
    }
    struct stat st;
    int empty = stat(target, &st) != 0 ? 1 : S_ISDIR(st.st_mode) ? zb_fs_dir_is_empty(target) : 0;
    zb_error_clear();
    if (empty == 1)
        say("restore path %s into %s", name, target);
    else if (d->req->force)
        say("replace path %s in %s (--force)", name, target);
    else
        block(d, "path %s: %s is not empty (--force replaces it)", name, target);
}

static void plan_stack(dry_run *d)
{
    json_t *stack = NULL;
    if (!d->docker || zb_recover_stack_find(&stack, d->docker, d->c) < 0) {
        zb_error_clear();
        return;
    }
    size_t i;
    json_t *x;
    json_array_foreach (stack, i, x)
        say("stop, then start again: container %s", json_string_value(json_object_get(x, "name")));
    json_decref(stack);
}

/* ------------------------------------------------------------ the reading */

/* The whole archive is read (and so verified), keeping globals.json. */
static int read_archive(zb_archive_reader **out, json_t **globals, const char *archive, const zb_read_keys *keys)
{
    struct archive_entry *e;
    zb_entry_info info;
    int rc = zb_archive_reader_open(out, archive, keys);
    while (rc == 0 && (rc = zb_archive_reader_next(*out, &e, &info)) > 0) {
        rc = zb_pg_globals_take(globals, *out, e, &info);
        rc = rc < 0 ? rc : 0;
    }
    return rc;
}

int zb_recover_plan(const zb_recover_request *req, const zb_config *c, const char *archive)
{
    dry_run d = {req, c, json_array(), NULL};
    zb_archive_reader *r = NULL;
    json_t *globals = NULL;
    say("recover plan for %s", archive);
    int rc = read_archive(&r, &globals, archive, &req->keys);
    if (rc == 0) {
        say("the archive is intact and from a trusted writer");
        const char *host = req->docker_host ? req->docker_host : c->docker_host;
        if (zb_docker_open(&d.docker, host && *host ? host : NULL) < 0) {
            zb_log_warn("%s", zb_error_message());
            zb_error_clear();
        }
        plan_stack(&d);
        size_t i;
        json_t *s;
        json_array_foreach (json_object_get(zb_archive_reader_manifest(r), "sources"), i, s) {
            const char *kind = json_string_value(json_object_get(s, "kind"));
            const char *name = json_string_value(json_object_get(s, "name"));
            json_t *meta = json_object_get(s, "meta");
            if (strcmp(kind, ZB_SOURCE_PG) == 0)
                plan_database(&d, name, meta, globals);
            else if (strcmp(kind, ZB_SOURCE_VOLUME) == 0)
                plan_volume(&d, name, meta);
            else
                plan_path(&d, name);
        }
        size_t n = json_array_size(d.blocked);
        if (n > 0) {
            rc = zb_error_set(ZB_EBLOCKED, "%zu problem%s block%s the recovery (listed above as 'blocked:')", n,
                              n == 1 ? "" : "s", n == 1 ? "s" : "");
        } else
            say("nothing blocks the recovery");
    }
    fflush(stdout);
    if (globals)
        json_decref(globals);
    zb_docker_close(d.docker);
    zb_archive_reader_free(r);
    json_decref(d.blocked);
    return rc;
}
