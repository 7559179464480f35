#include "zakpos_backup/command/latest.h"
#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/config/settings.h"
#include "zakpos_backup/repo/repo.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static const char help[] =
    "usage: zakpos-backup latest --repo DIR\n"
    "\n"
    "Prints the path of the newest archive in the repository (by the UTC time\n"
    "in its name), for scripts: zakpos-backup verify --key K \"$(zakpos-backup latest --repo R)\".\n"
    "Exit 13 when the repository holds no archive.\n";

int zb_cmd_latest(zb_context *ctx, int argc, char **argv)
{
    static const struct option local[] = {
        {"help", no_argument, NULL, ZB_OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    struct option options[64];
    if (zb_settings_options(options, ZB_ARRAY_LEN(options), "latest", local) < 0)
        return zb_error_code();
    zb_latest_request req = {0};
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case ZB_SETTING_OPT(ZB_SET_REPO): req.repo = optarg; break;
        case ZB_OPT_HELP: fputs(help, stdout); return 0;
        default: return zb_cli_bad_option("latest", argv);
        }
    }
    if (optind < argc)
        return zb_cli_usage_error("latest", "unexpected argument '%s'", argv[optind]);
    return zb_latest_run(ctx, &req);
}

int zb_latest_run(zb_context *ctx, const zb_latest_request *req)
{
    if (!req->repo)
        return zb_cli_usage_error("latest", "--repo DIR is required");
    char *path = NULL;
    int rc = zb_repo_latest(&path, req->repo);
    if (rc == 0)
        zb_context_print(ctx, "%s\n", path);
    free(path);
    return rc;
}
