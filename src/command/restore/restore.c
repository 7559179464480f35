#include "zakpos_backup/command/restore.h"
#include "zakpos_backup/archive/reader.h"
#include "zakpos_backup/archive/writer.h"
#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/config/settings.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/progress.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/repo/index.h"
#include "zakpos_backup/restore/plan.h"
#include "zakpos_backup/source/pg/pitr/decode.h"
#include "zakpos_backup/source/pg/pitr/start.h"
#include "zakpos_backup/source/docker/client.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char help[] =
    "usage: zakpos-backup restore (--key FILE | --passphrase-file FILE) ARCHIVE\n"
    "           [--pg-target CONNINFO] [--volume NAME[=NEWNAME]...] [--path NAME=TARGETDIR...]\n"
    "           [--force] [--volume-options-from-archive [--allow-host-bind]] [--volume-api | --volume-agent]\n"
    "           [--until TIMESTAMP | --until-lsn LSN]\n"
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
    "  --volume NAME[=NEWNAME]  restore Docker volume NAME (into NEWNAME): a new volume is\n"
    "                           a plain local one with the recorded labels (Compose's\n"
    "                           only under the archived name); an existing volume needs\n"
    "                           --force: the archive is restored into a stage volume and\n"
    "                           swapped in only once verified (its users stopped for the\n"
    "                           swap; the old content is kept until the new one is in place)\n"
    "  --volume-options-from-archive  create new volumes with the archive's driver and\n"
    "                           driver options instead of a plain local volume\n"
    "  --allow-host-bind        with the above: also options that bind a host path\n"
    "                           (type=none, o=bind, device=), which then receives the\n"
    "                           archive's content; only on the command line, logged\n"
    "  --volume-api             write volumes through the Docker API even where their\n"
    "                           folder is reachable (by default it is written directly)\n"
    "  --volume-agent           write volumes through the volume agent (zb-volume-agent in\n"
    "                           a helper container, every attribute kept) even where\n"
    "                           their folder is reachable; the default where it is not\n"
    "  --pg-source NAME         which database of the archive (if it holds several)\n"
    "  --pg-password-file FILE  the database password, read from FILE (a Docker secret)\n"
    "  --jobs N                 parallel connections for data and indexes (default: cores)\n"
    "  --table SCHEMA.NAME      restore only this table (repeatable; with what it needs)\n"
    "  --schema NAME            restore only the tables and views of this schema\n"
    "  --no-owner               do not restore object owners\n"
    "  --no-acl                 do not restore privileges (GRANT/REVOKE)\n"
    "  --pg-locale NAME         create the database with this libc locale (LC_COLLATE\n"
    "                           and LC_CTYPE) instead of the source's\n"
    "  --pg-icu-locale NAME     create the database with the ICU provider and this\n"
    "                           locale instead of the source's (PostgreSQL 15 or newer)\n"
    "  --until TIMESTAMP        point-in-time recovery (with --pg-target): after the\n"
    "                           archive (the base snapshot of a `follow` chain), apply the\n"
    "                           chain's changes committed up to this UTC time, e.g.\n"
    "                           2026-12-07T14:03:00Z (fractions of a second allowed),\n"
    "                           then set the sequences; all in the temporary database\n"
    "                           before it takes the target's name, and each table's\n"
    "                           row count checked against the stream (exit 14)\n"
    "  --until-lsn LSN          the same, up to the transactions whose commit LSN is at\n"
    "                           most LSN (e.g. 0/16B3748)\n"
    "  --force                  replace the content of a non-empty target\n"
    "  --key FILE / --passphrase-file FILE   as for verify\n" ZB_READ_KEYS_HELP
    "\n"
    "Entries are never written outside their target: absolute names, '..'\n"
    "and writes through symbolic links are refused (exit 8).\n";

enum {
    OPT_PATH = ZB_OPT_COMMAND_BASE,
    OPT_PG_TARGET,
    OPT_PG_SOURCE,
    OPT_TABLE,
    OPT_SCHEMA,
    OPT_NO_OWNER,
    OPT_NO_ACL,
    OPT_PG_LOCALE,
    OPT_PG_ICU_LOCALE,
    OPT_VOLUME,
    OPT_VOLUME_API,
    OPT_VOLUME_AGENT,
    OPT_UNTIL,
    OPT_UNTIL_LSN,
};

static int parse(zb_restore_request *req, int argc, char **argv)
{
    static const struct option local[] = {
        {"path", required_argument, NULL, OPT_PATH},
        {"pg-target", required_argument, NULL, OPT_PG_TARGET},
        {"volume", required_argument, NULL, OPT_VOLUME},
        {"volume-api", no_argument, NULL, OPT_VOLUME_API},
        {"volume-agent", no_argument, NULL, OPT_VOLUME_AGENT},
        {"pg-source", required_argument, NULL, OPT_PG_SOURCE},
        {"table", required_argument, NULL, OPT_TABLE},
        {"schema", required_argument, NULL, OPT_SCHEMA},
        {"no-owner", no_argument, NULL, OPT_NO_OWNER},
        {"no-acl", no_argument, NULL, OPT_NO_ACL},
        {"pg-locale", required_argument, NULL, OPT_PG_LOCALE},
        {"pg-icu-locale", required_argument, NULL, OPT_PG_ICU_LOCALE},
        {"until", required_argument, NULL, OPT_UNTIL},
        {"until-lsn", required_argument, NULL, OPT_UNTIL_LSN},
        {"help", no_argument, NULL, ZB_OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    struct option options[64];
    if (zb_settings_options(options, ZB_ARRAY_LEN(options), "restore", local) < 0)
        return zb_error_code();
    int opt, rc = 0;
    while (rc == 0 && (opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case ZB_SETTING_OPT(ZB_SET_KEY_FILE): req->keys.key_file = optarg; break;
        case ZB_SETTING_OPT(ZB_SET_PASSPHRASE_FILE): req->keys.passphrase_file = optarg; break;
        case OPT_PATH: rc = zb_strv_push(&req->paths, optarg); break;
        case ZB_SETTING_OPT(ZB_SET_FORCE): req->force = 1; break;
        case OPT_VOLUME: rc = zb_strv_push(&req->volumes, optarg); break;
        case ZB_SETTING_OPT(ZB_SET_VOLUME_OPTIONS_FROM_ARCHIVE): req->volume.options_from_archive = 1; break;
        case ZB_SETTING_OPT(ZB_SET_ALLOW_HOST_BIND): req->volume.allow_host_bind = 1; break;
        case OPT_VOLUME_API: req->volume.api = 1; break;
        case OPT_VOLUME_AGENT: req->volume.agent = 1; break;
        case OPT_PG_TARGET: req->pg_selected = 1, req->pg.conninfo = optarg; break;
        case OPT_PG_SOURCE: req->pg_source = optarg; break;
        case ZB_SETTING_OPT(ZB_SET_PG_PASSWORD_FILE): req->pg.password_file = optarg; break;
        case ZB_SETTING_OPT(ZB_SET_PG_JOBS): rc = zb_cli_parse_int(&req->pg.jobs, optarg, "--jobs", 1, 64); break;
        case OPT_TABLE: rc = zb_strv_push(&req->pg_tables, optarg); break;
        case OPT_SCHEMA: rc = zb_strv_push(&req->pg_schemas, optarg); break;
        case OPT_NO_OWNER: req->pg.no_owner = 1; break;
        case OPT_NO_ACL: req->pg.no_acl = 1; break;
        case OPT_PG_LOCALE: req->pg.locale = optarg; break;
        case OPT_PG_ICU_LOCALE: req->pg.icu_locale = optarg; break;
        case OPT_UNTIL: req->pitr++, req->until.by_time = 1, rc = zb_pitr_parse_time(&req->until.until, optarg); break;
        case OPT_UNTIL_LSN:
            req->pitr++, req->until.by_lsn = 1, rc = zb_pgo_lsn_parse(&req->until.until_lsn, optarg);
            break;
        case ZB_OPT_HELP: fputs(help, stdout); return 1;
        default:
            if ((rc = zb_cli_read_keys_option(&req->keys, opt, optarg)) == 0)
                return zb_cli_bad_option("restore", argv);
            rc = rc < 0 ? rc : 0;
        }
    }
    if (rc < 0)
        return rc;
    if (optind == argc || (optind != argc - 1 && !req->pitr))
        return zb_cli_usage_error("restore",
                                  "give exactly one ARCHIVE (several only with --until or --until-lsn: the "
                                  "newest snapshot before the point is restored)");
    req->archive = argv[optind];
    req->archives = (const char *const *)argv + optind;
    req->archive_count = (size_t)(argc - optind);
    return 0;
}

/* What a request must hold, however it was made. */
static int check(zb_context *ctx, zb_restore_request *req)
{
    int rc = zb_cli_read_keys_configured(ctx, &req->keys);
    if (rc < 0)
        return rc;
    if (req->paths.count == 0 && !req->pg_selected && req->volumes.count == 0)
        return zb_cli_usage_error("restore",
                                  "nothing selected to restore: give --pg-target CONNINFO, --volume NAME "
                                  "or --path NAME=TARGETDIR");
    if (!req->pg_selected && (req->pg_source || req->pg_tables.count || req->pg_schemas.count))
        return zb_cli_usage_error("restore", "--pg-source, --table and --schema need --pg-target");
    if (!req->pg_selected && (req->pg.locale || req->pg.icu_locale))
        return zb_cli_usage_error("restore", "--pg-locale and --pg-icu-locale need --pg-target");
    if (req->pitr > 1)
        return zb_cli_usage_error("restore", "give one of --until and --until-lsn");
    if (req->pitr && !req->pg_selected)
        return zb_cli_usage_error("restore", "--until and --until-lsn need --pg-target");
    if (req->volume.allow_host_bind && !req->volume.options_from_archive)
        return zb_cli_usage_error("restore", "--allow-host-bind needs --volume-options-from-archive");
    if (req->volume.allow_host_bind)
        zb_log_warn(
            "--allow-host-bind: a restored volume may be created bound to a host folder, which then receives "
            "the archive's content");
    req->volume.force = req->force;
    req->pg.force = req->force;
    req->pg.tables = (const char *const *)req->pg_tables.items;
    req->pg.schemas = (const char *const *)req->pg_schemas.items;
    return 0;
}

static int add_path_targets(zb_restore_plan *plan, const zb_restore_request *req)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < req->paths.count; i++) {
        const char *spec = req->paths.items[i];
        const char *eq = strchr(spec, '=');
        if (!eq || eq == spec || !eq[1])
            return zb_cli_usage_error("restore", "--path takes NAME=TARGETDIR, not '%s'", spec);
        char *name = strndup(spec, (size_t)(eq - spec));
        rc = name ? zb_restore_plan_add_path(plan, name, eq + 1, req->force) : zb_error_set(ZB_ENOMEM, "out of memory");
        free(name);
    }
    return rc;
}

static int add_volume_targets(zb_restore_plan *plan, zb_docker **docker, zb_restore_request *req)
{
    if (req->volumes.count == 0)
        return 0;
    int rc = zb_docker_open(docker, NULL);
    for (size_t i = 0; rc == 0 && i < req->volumes.count; i++) {
        const char *spec = req->volumes.items[i];
        const char *eq = strchr(spec, '=');
        if (eq == spec || (eq && !eq[1]))
            return zb_cli_usage_error("restore", "--volume takes NAME or NAME=NEWNAME, not '%s'", spec);
        char *name = eq ? strndup(spec, (size_t)(eq - spec)) : zb_strdup(spec);
        rc = name ? zb_restore_plan_add_volume(plan, *docker, name, eq ? eq + 1 : spec, &req->volume)
                  : zb_error_set(ZB_ENOMEM, "out of memory");
        free(name);
    }
    return rc;
}

/* Point-in-time recovery: the restored database brought forward with the
 * chain's changes, which lie beside the archive (docs/FORMAT.md). It runs in
 * the restore's temporary database, before that takes the target's name:
 * a replay that fails (a damaged segment, a verification that finds a
 * difference) leaves the target as it was. */
typedef struct pitr_replay {
    zb_restore_request *req;
    zb_archive_reader *reader;
    int done;
    zb_pitr_replay_result result;
    const zb_pitr_start *start; /* the snapshot chosen before the point, or none chosen */
} pitr_replay;

static int replay_changes(const char *source_name, const char *database, void *payload)
{
    pitr_replay *h = payload;
    zb_restore_request *req = h->req;
    json_t *source = zb_archive_reader_manifest_source(h->reader, ZB_SOURCE_PG, source_name);
    json_t *base = json_object_get(json_object_get(source, "meta"), "pitr");
    const zb_pitr_start *start = h->start;
    if (start->archive) {
        int checked = zb_pitr_start_check(start, json_object_get(source, "meta"));
        if (checked < 0)
            return checked;
        base = start->base;
    }
    if (!base)
        return zb_error_set(ZB_ENOTFOUND,
                            "%s is not the base snapshot of a change stream, so it cannot be brought to a later point\n"
                            "hint: `zakpos-backup follow` writes such a snapshot and the changes after it",
                            req->archive);
    char *repo = NULL, *name = NULL;
    int rc = zb_repo_split_path(&repo, &name, req->archive);
    zb_pitr_replay_options o = {repo,
                                base,
                                &req->keys,
                                req->pg.conninfo,
                                req->pg.password_file,
                                database,
                                req->pg_tables.count ? (const char *const *)req->pg_tables.items : NULL,
                                req->until,
                                json_object_get(json_object_get(source, "summary"), "tables"),
                                start->snapshot,
                                json_string_value(json_object_get(start->position, "lsn")),
                                source_name};
    if (rc == 0)
        rc = zb_pitr_replay(&h->result, &o);
    h->done = rc == 0;
    free(repo);
    free(name);
    return rc;
}

static void report_replay(zb_context *ctx, const pitr_replay *h, const zb_restore_target_info *t)
{
    const zb_pitr_replay_result *result = &h->result;
    char lsn[32], when[40] = "(none)";
    zb_pgo_lsn_format(lsn, sizeof(lsn), result->last_lsn);
    if (result->last_commit)
        zb_pgo_time_format(when, sizeof(when), result->last_commit);
    if (!result->reached_target && result->chain_end[0])
        zb_log_warn(
            "%s is recovered to the last consistent point of its chain, before the point asked for: %s; "
            "restore that chain's base snapshot for a later point",
            t->target, result->chain_end);
    else if (!result->reached_target)
        zb_log_warn("the change stream ends before the point asked for: %s is recovered to its last durable commit",
                    t->target);
    if (result->compared_with[0])
        zb_log_info("the replay passed snapshot %s and equalled it there (%u tables compared)", result->compared_with,
                    result->tables_compared);
    zb_log_info("replayed %llu transactions (%llu changes) from %u segments, up to LSN %s committed at %s",
                (unsigned long long)result->transactions, (unsigned long long)result->changes, result->segments, lsn,
                when);
    zb_context_print(ctx, "recovered pg %s to %s %s\n", t->name, lsn, when);
}

/* Several archives, or one: the newest snapshot before the point, as the
 * repository index records each one's position. */
static int choose_start(zb_pitr_start *start, zb_restore_request *req)
{
    int rc = zb_pitr_start_choose(start, req->archives, req->archive_count, req->pg_source, &req->until);
    if (rc == 0 && start->archive) {
        req->archive = start->archive;
        zb_log_info("starting from %s (%s), then the changes of chain %s", start->archive,
                    start->snapshot ? "a snapshot inside the chain" : "the chain's base",
                    json_string_value(json_object_get(start->base, "chain")));
    } else if (rc == 0 && req->archive_count > 1) {
        rc = zb_error_set(ZB_ENOTFOUND,
                          "the repository index records no snapshot position for any archive given\n"
                          "hint: give one archive, the chain's base");
    }
    return rc;
}

void zb_restore_request_free(zb_restore_request *req)
{
    zb_strv_free(&req->paths);
    zb_strv_free(&req->volumes);
    zb_strv_free(&req->pg_tables);
    zb_strv_free(&req->pg_schemas);
}

int zb_cmd_restore(zb_context *ctx, int argc, char **argv)
{
    zb_restore_request req;
    memset(&req, 0, sizeof(req));
    int rc = parse(&req, argc, argv);
    if (rc == 0) {
        req.archive = zb_context_archive(ctx, req.archive);
        rc = zb_restore_run(ctx, &req);
    }
    zb_restore_request_free(&req);
    return rc > 0 ? 0 : rc;
}

int zb_restore_run(zb_context *ctx, zb_restore_request *req)
{
    zb_restore_plan *plan = NULL;
    zb_docker *docker = NULL;
    zb_archive_reader *r = NULL;
    double started = zb_time_monotonic();
    zb_pitr_start start;
    memset(&start, 0, sizeof(start));
    pitr_replay replay = {req, NULL, 0, {0}, &start};
    int rc = check(ctx, req);
    if (rc == 0 && req->pitr && req->archive_count)
        rc = choose_start(&start, req);
    if (rc != 0)
        goto done;
    if (req->pitr) {
        req->pg.before_publish = replay_changes;
        req->pg.before_publish_payload = &replay;
    }
    if ((rc = zb_restore_plan_new(&plan)) < 0 || (rc = add_path_targets(plan, req)) < 0 ||
        (rc = add_volume_targets(plan, &docker, req)) < 0 ||
        (req->pg_selected && (rc = zb_restore_plan_add_pg(plan, req->pg_source, &req->pg)) < 0))
        goto done;
    if ((rc = zb_archive_reader_open(&r, req->archive, &req->keys)) < 0)
        goto done;
    replay.reader = r;
    struct stat st;
    zb_progress_begin("restore", stat(req->archive, &st) == 0 ? (uint64_t)st.st_size : 0);
    rc = zb_restore_plan_run(plan, r);
    zb_progress_end();
    if (rc < 0)
        goto done;
    for (size_t i = 0; i < zb_restore_plan_count(plan); i++) {
        zb_restore_target_info t = zb_restore_plan_target(plan, i);
        zb_log_info("restored %s %s into %s", t.kind, t.name, t.target);
        zb_context_print(ctx, "restored %s %s %s\n", t.kind, t.name, t.target);
        if (req->pitr && strcmp(t.kind, ZB_SOURCE_PG) == 0 && replay.done)
            report_replay(ctx, &replay, &t);
    }
    char took[32];
    zb_format_duration(took, sizeof(took), zb_time_monotonic() - started);
    zb_log_info("restore complete in %s", took);
done:
    /* the hook's payload lives on this stack: the request may outlive it */
    req->pg.before_publish = NULL;
    req->pg.before_publish_payload = NULL;
    zb_progress_end();
    zb_restore_plan_free(plan);
    zb_archive_reader_free(r);
    zb_docker_close(docker);
    zb_pitr_start_clear(&start);
    return rc;
}
