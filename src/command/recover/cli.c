#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/command/recover.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fault.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/config/settings.h"
#include "zakpos_backup/remote/copy.h"
#include "zakpos_backup/repo/repo.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: zakpos-backup recover [ARCHIVE | latest | remote:NAME/latest] [--plan]\n"
    "           [--key FILE | --passphrase-file FILE] [--repo DIR] [--pg-target CONNINFO]\n"
    "           [--pg-password-file FILE] [--jobs N] [--docker-host URL] [--path NAME=DIR...]\n"
    "           [--force] [--report FILE] [--json]\n"
    "\n"
    "Brings the whole host back from one archive (default: the newest of the\n"
    "repository; when the repository is empty or gone, the newest on the first\n"
    "configured remote), every source where it came from, in order:\n"
    "  1. the archive's header and signature are checked before anything is touched;\n"
    "  2. the stack's containers (those using the configured volumes, and the rest\n"
    "     of their Compose projects, but not the database server) are stopped;\n"
    "  3. once the whole archive proved intact, the cluster's roles and tablespaces\n"
    "     are created (roles that exist are kept as they are), then the database\n"
    "     takes its original name on the configured server ([postgres] conninfo);\n"
    "  4. each volume under its original name (created; an existing one needs --force\n"
    "     and is replaced by a verified swap);\n"
    "  5. each host path into the folder [paths] gives it (or --path NAME=DIR);\n"
    "  6. the containers start again, their health checks must pass, and\n"
    "     recover.smoke_command runs;\n"
    "  7. a report (like drill's) gives the recovery time by phase.\n"
    "Everything is published only once the archive verified. An interrupted\n"
    "recovery is recorded in the state folder (recover.json): the next recover\n"
    "of the same archive finishes it.\n"
    "\n"
    "  --plan                   a dry run: what would be created, replaced and\n"
    "                           started, and what blocks the recovery (exit 17)\n"
    "  --key FILE / --passphrase-file FILE   as for verify (default repository.key_file)\n" ZB_READ_KEYS_HELP
    "  --repo DIR               the repository for 'latest' (default: the configuration's)\n"
    "  --pg-target CONNINFO     the server to recover into (default: postgres.conninfo)\n"
    "  --pg-password-file FILE  its password, read from FILE\n"
    "  --jobs N                 parallel connections for the database\n"
    "  --docker-host URL        the Docker engine (default: [docker] host)\n"
    "  --path NAME=DIR          where path source NAME goes (repeatable; default [paths])\n"
    "  --force                  replace existing volumes and folders and a non-empty database\n"
    "  --report FILE            write the report as FILE.md and FILE.json\n"
    "  --json                   the JSON report on stdout instead of Markdown\n";

enum { OPT_PLAN = ZB_OPT_COMMAND_BASE, OPT_PATH, OPT_REPORT, OPT_PG_TARGET };

static int parse(zb_recover_request *req, zb_strv *paths, int argc, char **argv)
{
    /* the key group, --repo, --jobs, --pg-password-file, --docker-host and
     * --force come from the settings table */
    static const struct option local[] = {
        {"plan", no_argument, NULL, OPT_PLAN},
        {"pg-target", required_argument, NULL, OPT_PG_TARGET},
        {"path", required_argument, NULL, OPT_PATH},
        {"report", required_argument, NULL, OPT_REPORT},
        {"json", no_argument, NULL, ZB_OPT_JSON},
        {"help", no_argument, NULL, ZB_OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    struct option options[48];
    if (zb_settings_options(options, ZB_ARRAY_LEN(options), "recover", local) < 0)
        return zb_error_code();
    int opt, rc = 0;
    while (rc == 0 && (opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case OPT_PLAN: req->plan = 1; break;
        case ZB_SETTING_OPT(ZB_SET_REPO): req->repo = optarg; break;
        case OPT_PG_TARGET: req->pg_conninfo = optarg; break;
        case ZB_SETTING_OPT(ZB_SET_PG_PASSWORD_FILE): req->pg_password_file = optarg; break;
        case ZB_SETTING_OPT(ZB_SET_PG_JOBS): rc = zb_cli_parse_int(&req->pg_jobs, optarg, "--jobs", 1, 64); break;
        case ZB_SETTING_OPT(ZB_SET_DOCKER_HOST): req->docker_host = optarg; break;
        case OPT_PATH:
            if (!strchr(optarg, '=') || optarg[0] == '=' || strchr(optarg, '=')[1] == '\0')
                return zb_cli_usage_error("recover", "--path takes NAME=DIR, not '%s'", optarg);
            rc = zb_strv_push(paths, optarg);
            break;
        case ZB_SETTING_OPT(ZB_SET_FORCE): req->force = 1; break;
        case OPT_REPORT: req->report_file = optarg; break;
        case ZB_OPT_JSON: req->as_json = 1; break;
        case ZB_OPT_HELP: fputs(help, stdout); return 1;
        default:
            if ((rc = zb_cli_read_keys_option(&req->keys, opt, optarg)) == 0)
                return zb_cli_bad_option("recover", argv);
            rc = rc < 0 ? rc : 0;
        }
    }
    if (rc < 0)
        return rc;
    if (optind < argc - 1)
        return zb_cli_usage_error("recover", "give at most one ARCHIVE (or latest)");
    if (req->report_file && req->as_json)
        return zb_cli_usage_error("recover", "--report writes both formats; --json is for stdout");
    req->archive = optind < argc ? argv[optind] : NULL;
    req->paths = paths->items;
    req->path_count = paths->count;
    return 0;
}

/* "latest": the repository's newest; a host that lost its repository
 * (empty, or no folder at all) takes the newest on the first remote. */
static int resolve_latest(char **archive, zb_remote_fetched **fetched, const zb_recover_request *req,
                          const zb_config *c)
{
    const char *repo = req->repo ? req->repo : c->repo;
    int rc = zb_repo_latest(archive, repo);
    if (rc == 0 || c->remote_count == 0 || (rc != ZB_ENOTFOUND && rc != ZB_EIO))
        return rc < 0 ? zb_error_context("recover of the newest archive in %s", repo) : 0;
    zb_log_info("%s; taking the newest archive on remote %s", zb_error_message(), c->remotes[0].name);
    zb_error_clear();
    char spec[256];
    snprintf(spec, sizeof(spec), "remote:%s/latest", c->remotes[0].name);
    const char *local = NULL;
    if ((rc = zb_remote_fetch_archive(fetched, c, spec, &local)) < 0)
        return rc;
    *archive = zb_strdup(local);
    return *archive ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
}

int zb_cmd_recover(zb_context *ctx, int argc, char **argv)
{
    zb_recover_request req;
    memset(&req, 0, sizeof(req));
    zb_strv paths = {0};
    int rc = parse(&req, &paths, argc, argv);
    if (rc == 0) {
        req.archive = zb_context_archive(ctx, req.archive);
        rc = zb_recover_run(ctx, &req);
    }
    zb_strv_free(&paths);
    return rc > 0 ? 0 : rc;
}

int zb_recover_run(zb_context *ctx, const zb_recover_request *given)
{
    zb_recover_request req = *given;
    const zb_config *c = NULL;
    char *archive = NULL;
    zb_remote_fetched *fetched = NULL;
    int rc = zb_context_config(&c, ctx);
    if (rc < 0)
        goto done;
    if (!req.keys.key_file && !req.keys.passphrase_file && c->key_file && *c->key_file)
        req.keys.key_file = c->key_file;
    if ((rc = zb_cli_read_keys_configured(ctx, &req.keys)) < 0)
        goto done;
    if (!req.archive || strcmp(req.archive, "latest") == 0)
        rc = resolve_latest(&archive, &fetched, &req, c);
    else if (!(archive = zb_strdup(req.archive)))
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc < 0)
        goto done;
    req.archive = archive;
    ZB_FAULT_POINT("recover-fetched", archive);
    /* downloaded here (the newest on a remote) or by the command table */
    req.fetched_from = fetched ? zb_remote_fetched_from(fetched) : ctx->download.from;
    req.fetch_seconds = fetched ? zb_remote_fetched_seconds(fetched) : ctx->download.seconds;
    rc = zb_recover_phases(&req, c);
    if (rc < 0)
        zb_error_context("recover failed");
done:
    zb_remote_fetched_free(fetched);
    free(archive);
    return rc;
}
