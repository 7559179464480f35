#include "zakpos_backup/command/restore.h"
#include "zakpos_backup/archive/reader.h"
#include "zakpos_backup/archive/writer.h"
#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/progress.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/source/docker/volume.h"
#include "zakpos_backup/source/path/path.h"
#include "zakpos_backup/source/pg/pg.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char help[] =
    "usage: zakpos-backup restore (--key FILE | --passphrase-file FILE) ARCHIVE\n"
    "           [--pg-target CONNINFO] [--volume NAME[=NEWNAME]...] [--path NAME=TARGETDIR...]\n"
    "           [--force]\n"
    "\n"
    "Restores the selected sources. The archive is read once, start to end, and\n"
    "verified on the way; restored files are written into a staging folder\n"
    "beside each target and moved into place only after the whole archive\n"
    "proved intact, so a failed or interrupted restore leaves the target as it was.\n"
    "\n"
    "  --path NAME=TARGETDIR    restore path source NAME into TARGETDIR (repeatable);\n"
    "                           TARGETDIR must be absent or empty unless --force\n"
    "  --pg-target CONNINFO     restore the archive's database on this server; the\n"
    "                           dbname in CONNINFO names the target database (default:\n"
    "                           <source>_restored); it is created, and must be absent or\n"
    "                           empty unless --force. Data is loaded into a temporary\n"
    "                           database that takes the target's name once verified.\n"
    "  --volume NAME[=NEWNAME]  restore Docker volume NAME (into NEWNAME), created with\n"
    "                           the recorded driver, labels and options; an existing\n"
    "                           volume needs --force (its users are stopped meanwhile)\n"
    "  --pg-source NAME         which database of the archive (if it holds several)\n"
    "  --pg-password-file FILE  the database password, read from FILE (a Docker secret)\n"
    "  --jobs N                 parallel connections for data and indexes (default: cores)\n"
    "  --table SCHEMA.NAME      restore only this table (repeatable; with what it needs)\n"
    "  --schema NAME            restore only the tables and views of this schema\n"
    "  --no-owner               do not restore object owners\n"
    "  --no-acl                 do not restore privileges (GRANT/REVOKE)\n"
    "  --force                  replace the content of a non-empty target\n"
    "  --key FILE / --passphrase-file FILE   as for verify\n"
    "\n"
    "Entries are never written outside their target: absolute names, '..'\n"
    "and writes through symbolic links are refused (exit 8).\n";

/* One selected source and what restores it. The handlers let each source kind
 * plug in: entries of this source are passed to entry(), finish() runs once
 * the archive is verified. */
typedef struct restore_target {
    const char *kind;
    char *name;
    char *target;
    int seen;
    void *state;
    int (*entry)(void *state, zb_archive_reader *r, struct archive_entry *e, const zb_entry_info *info);
    int (*finish)(void *state, zb_archive_reader *r);
    void (*free)(void *state);
} restore_target;

typedef struct restore_request {
    zb_read_keys keys;
    const char *archive;
    zb_strv paths;
    zb_strv volumes;
    zb_docker *docker;
    const char *pg_source;
    int pg_selected;
    zb_strv pg_tables, pg_schemas;
    zb_pg_restore_options pg;
    int force;
    restore_target *targets;
    size_t target_count;
} restore_request;

enum {
    OPT_PATH = ZB_OPT_COMMAND_BASE,
    OPT_PG_TARGET,
    OPT_PG_SOURCE,
    OPT_JOBS,
    OPT_PG_PASSWORD_FILE,
    OPT_TABLE,
    OPT_SCHEMA,
    OPT_NO_OWNER,
    OPT_NO_ACL,
    OPT_VOLUME,
};

static int parse(restore_request *req, int argc, char **argv)
{
    static const struct option options[] = {
        {"key", required_argument, NULL, ZB_OPT_KEY},
        {"passphrase-file", required_argument, NULL, ZB_OPT_PASSPHRASE_FILE},
        {"path", required_argument, NULL, OPT_PATH},
        {"force", no_argument, NULL, ZB_OPT_FORCE},
        {"pg-target", required_argument, NULL, OPT_PG_TARGET},
        {"volume", required_argument, NULL, OPT_VOLUME},
        {"pg-source", required_argument, NULL, OPT_PG_SOURCE},
        {"jobs", required_argument, NULL, OPT_JOBS},
        {"pg-password-file", required_argument, NULL, OPT_PG_PASSWORD_FILE},
        {"table", required_argument, NULL, OPT_TABLE},
        {"schema", required_argument, NULL, OPT_SCHEMA},
        {"no-owner", no_argument, NULL, OPT_NO_OWNER},
        {"no-acl", no_argument, NULL, OPT_NO_ACL},
        {"help", no_argument, NULL, ZB_OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    int opt, rc = 0;
    while (rc == 0 && (opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case ZB_OPT_KEY: req->keys.key_file = optarg; break;
        case ZB_OPT_PASSPHRASE_FILE: req->keys.passphrase_file = optarg; break;
        case OPT_PATH: rc = zb_strv_push(&req->paths, optarg); break;
        case ZB_OPT_FORCE: req->force = 1; break;
        case OPT_VOLUME: rc = zb_strv_push(&req->volumes, optarg); break;
        case OPT_PG_TARGET: req->pg_selected = 1, req->pg.conninfo = optarg; break;
        case OPT_PG_SOURCE: req->pg_source = optarg; break;
        case OPT_PG_PASSWORD_FILE: req->pg.password_file = optarg; break;
        case OPT_JOBS: rc = zb_cli_parse_int(&req->pg.jobs, optarg, "--jobs", 1, 64); break;
        case OPT_TABLE: rc = zb_strv_push(&req->pg_tables, optarg); break;
        case OPT_SCHEMA: rc = zb_strv_push(&req->pg_schemas, optarg); break;
        case OPT_NO_OWNER: req->pg.no_owner = 1; break;
        case OPT_NO_ACL: req->pg.no_acl = 1; break;
        case ZB_OPT_HELP: fputs(help, stdout); return 1;
        default: return zb_cli_bad_option("restore", argv);
        }
    }
    if (rc < 0)
        return rc;
    if (optind != argc - 1)
        return zb_cli_usage_error("restore", "give exactly one ARCHIVE");
    req->archive = argv[optind];
    if (req->paths.count == 0 && !req->pg_selected && req->volumes.count == 0)
        return zb_cli_usage_error("restore", "nothing selected to restore: give --pg-target CONNINFO, --volume NAME "
                                             "or --path NAME=TARGETDIR");
    if (!req->pg_selected && (req->pg_source || req->pg_tables.count || req->pg_schemas.count))
        return zb_cli_usage_error("restore", "--pg-source, --table and --schema need --pg-target");
    req->pg.force = req->force;
    req->pg.tables = (const char *const *)req->pg_tables.items;
    req->pg.schemas = (const char *const *)req->pg_schemas.items;
    return 0;
}

static int path_entry(void *state, zb_archive_reader *r, struct archive_entry *e, const zb_entry_info *info)
{
    return zb_path_restore_entry(state, r, e, info);
}
static int path_finish(void *state, zb_archive_reader *r) { return zb_path_restore_finish(state, r); }
static void path_free(void *state) { zb_path_restore_free(state); }

static int add_path_targets(restore_request *req)
{
    for (size_t i = 0; i < req->paths.count; i++) {
        const char *spec = req->paths.items[i];
        const char *eq = strchr(spec, '=');
        if (!eq || eq == spec || !eq[1])
            return zb_cli_usage_error("restore", "--path takes NAME=TARGETDIR, not '%s'", spec);
        restore_target *t = &req->targets[req->target_count++];
        t->kind = ZB_SOURCE_PATH;
        t->name = strndup(spec, (size_t)(eq - spec));
        t->target = zb_strdup(eq + 1);
        if (!t->name || !t->target)
            return zb_error_set(ZB_ENOMEM, "out of memory");
        for (size_t j = 0; j + 1 < req->target_count; j++)
            if (strcmp(req->targets[j].kind, t->kind) == 0 && strcmp(req->targets[j].name, t->name) == 0)
                return zb_cli_usage_error("restore", "path %s is selected twice", t->name);
        t->entry = path_entry;
        t->finish = path_finish;
        t->free = path_free;
        zb_path_restore *p = NULL;
        int rc = zb_path_restore_begin(&p, t->name, t->target, req->force);
        if (rc < 0)
            return rc;
        t->state = p;
    }
    return 0;
}

static int volume_entry(void *state, zb_archive_reader *r, struct archive_entry *e, const zb_entry_info *info)
{
    return zb_volume_restore_entry(state, r, e, info);
}
static int volume_finish(void *state, zb_archive_reader *r) { return zb_volume_restore_finish(state, r); }
static void volume_free(void *state) { zb_volume_restore_free(state); }

static int add_volume_targets(restore_request *req)
{
    if (req->volumes.count == 0)
        return 0;
    int rc = zb_docker_open(&req->docker, NULL);
    for (size_t i = 0; rc == 0 && i < req->volumes.count; i++) {
        const char *spec = req->volumes.items[i];
        const char *eq = strchr(spec, '=');
        if (eq == spec || (eq && !eq[1]))
            return zb_cli_usage_error("restore", "--volume takes NAME or NAME=NEWNAME, not '%s'", spec);
        restore_target *t = &req->targets[req->target_count++];
        t->kind = ZB_SOURCE_VOLUME;
        t->name = eq ? strndup(spec, (size_t)(eq - spec)) : zb_strdup(spec);
        t->target = zb_strdup(eq ? eq + 1 : spec);
        if (!t->name || !t->target)
            return zb_error_set(ZB_ENOMEM, "out of memory");
        t->entry = volume_entry;
        t->finish = volume_finish;
        t->free = volume_free;
        zb_volume_restore *v = NULL;
        rc = zb_volume_restore_begin(&v, req->docker, t->name, t->target, req->force);
        t->state = v;
    }
    return rc;
}

static int pg_entry(void *state, zb_archive_reader *r, struct archive_entry *e, const zb_entry_info *info)
{
    return zb_pg_restore_entry(state, r, e, info);
}
static int pg_finish(void *state, zb_archive_reader *r) { return zb_pg_restore_finish(state, r); }
static void pg_free(void *state) { zb_pg_restore_free(state); }

/* The database target; without --pg-source its name is the archive's first
 * (and only) database source, filled in when its entries arrive. */
static int add_pg_target(restore_request *req)
{
    restore_target *t = &req->targets[req->target_count++];
    t->kind = ZB_SOURCE_PG;
    t->name = req->pg_source ? zb_strdup(req->pg_source) : NULL;
    t->entry = pg_entry;
    t->finish = pg_finish;
    t->free = pg_free;
    zb_pg_restore *p = NULL;
    int rc = zb_pg_restore_begin(&p, t->name, &req->pg);
    t->state = p;
    return rc;
}

static restore_target *find_target(restore_request *req, const char *kind, const char *name)
{
    for (size_t i = 0; i < req->target_count; i++) {
        restore_target *t = &req->targets[i];
        if (strcmp(t->kind, kind) != 0)
            continue;
        if (!t->name && strcmp(kind, ZB_SOURCE_PG) == 0 && (t->name = zb_strdup(name)) == NULL)
            return NULL;
        if (strcmp(t->name, name) == 0)
            return t;
    }
    return NULL;
}

static int read_and_dispatch(restore_request *req, zb_archive_reader *r)
{
    struct archive_entry *e;
    zb_entry_info info;
    int rc;
    while ((rc = zb_archive_reader_next(r, &e, &info)) > 0) {
        restore_target *t = find_target(req, info.source_kind, info.source_name);
        if (!t)
            continue; /* not selected: read (and so verified) but not restored */
        t->seen = 1;
        if ((rc = t->entry(t->state, r, e, &info)) < 0)
            return rc;
    }
    return rc;
}

/* A selected source the archive does not have: say which ones it has. */
static int report_missing(restore_target *t, zb_archive_reader *r)
{
    zb_buf names = ZB_BUF_INIT;
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(zb_archive_reader_manifest(r), "sources"), i, s)
        zb_buf_printf(&names, "%s%s %s", names.len ? ", " : "", json_string_value(json_object_get(s, "kind")),
                      json_string_value(json_object_get(s, "name")));
    zb_error_set(ZB_ENOTFOUND, "the archive has no %s source named '%s'; nothing was restored", t->kind,
                 t->name ? t->name : "(any)");
    zb_error_hint("the archive holds: %s", names.data ? names.data : "no sources");
    zb_buf_free(&names);
    return ZB_ENOTFOUND;
}

int zb_cmd_restore(int argc, char **argv)
{
    restore_request req;
    memset(&req, 0, sizeof(req));
    zb_archive_reader *r = NULL;
    double started = zb_time_monotonic();
    int rc = parse(&req, argc, argv);
    if (rc != 0)
        goto done;
    req.targets = calloc(req.paths.count + req.volumes.count + 1, sizeof(*req.targets));
    if (!req.targets) {
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = add_path_targets(&req)) < 0 || (rc = add_volume_targets(&req)) < 0 ||
        (req.pg_selected && (rc = add_pg_target(&req)) < 0))
        goto done;
    if ((rc = zb_archive_reader_open(&r, req.archive, &req.keys)) < 0)
        goto done;
    struct stat st;
    zb_progress_begin("restore", stat(req.archive, &st) == 0 ? (uint64_t)st.st_size : 0);
    rc = read_and_dispatch(&req, r);
    zb_progress_end();
    if (rc < 0)
        goto done;
    for (size_t i = 0; i < req.target_count; i++)
        if (!req.targets[i].seen &&
            (!req.targets[i].name || !zb_archive_reader_manifest_source(r, req.targets[i].kind, req.targets[i].name))) {
            rc = report_missing(&req.targets[i], r);
            goto done;
        }
    for (size_t i = 0; i < req.target_count; i++) {
        restore_target *t = &req.targets[i];
        if ((rc = t->finish(t->state, r)) < 0)
            goto done;
        const char *into = strcmp(t->kind, ZB_SOURCE_PG) == 0 ? zb_pg_restore_target(t->state) : t->target;
        zb_log_info("restored %s %s into %s", t->kind, t->name, into);
        printf("restored %s %s %s\n", t->kind, t->name, into);
    }
    char took[32];
    zb_format_duration(took, sizeof(took), zb_time_monotonic() - started);
    zb_log_info("restore complete in %s", took);
done:
    zb_progress_end();
    for (size_t i = 0; i < req.target_count; i++) {
        restore_target *t = &req.targets[i];
        if (t->free)
            t->free(t->state);
        free(t->name);
        free(t->target);
    }
    free(req.targets);
    zb_archive_reader_free(r);
    zb_strv_free(&req.paths);
    zb_strv_free(&req.volumes);
    zb_docker_close(req.docker);
    zb_strv_free(&req.pg_tables);
    zb_strv_free(&req.pg_schemas);
    return rc > 0 ? 0 : rc;
}
