#include "zakpos_backup/command/healthcheck.h"
#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/config/config.h"
#include "zakpos_backup/repo/repo.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const char help[] =
    "usage: zakpos-backup healthcheck [--repo DIR] [--max-age DURATION]\n"
    "\n"
    "Exit 0 when the newest archive in the repository is younger than the\n"
    "maximum age (an archive is published only by a backup that succeeded),\n"
    "1 otherwise; one line on stdout either way. For Docker's HEALTHCHECK and\n"
    "for monitoring. Defaults come from the configuration: repository.path and\n"
    "daemon.healthcheck_max_age (26h).\n"
    "\n"
    "  --repo DIR          the repository\n"
    "  --max-age DURATION  e.g. 26h, 90m, 2d\n";

enum { OPT_MAX_AGE = ZB_OPT_COMMAND_BASE };

int zb_cmd_healthcheck(int argc, char **argv)
{
    static const struct option options[] = {
        {"repo", required_argument, NULL, ZB_OPT_REPO},
        {"max-age", required_argument, NULL, OPT_MAX_AGE},
        {"help", no_argument, NULL, ZB_OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *repo = NULL, *max_age_text = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case ZB_OPT_REPO: repo = optarg; break;
        case OPT_MAX_AGE: max_age_text = optarg; break;
        case ZB_OPT_HELP: fputs(help, stdout); return 0;
        default: return zb_cli_bad_option("healthcheck", argv);
        }
    }
    if (optind < argc)
        return zb_cli_usage_error("healthcheck", "unexpected argument '%s'", argv[optind]);
    zb_config config;
    int rc = zb_config_load(&config, zb_cli_config_file());
    if (rc < 0)
        return rc;
    int max_age = config.healthcheck_max_age_seconds;
    if (max_age_text && (rc = zb_config_parse_duration(&max_age, max_age_text, "--max-age")) < 0) {
        zb_config_free(&config);
        return zb_error_set(ZB_EUSAGE, "%s", zb_error_message());
    }
    zb_repo_list list;
    rc = zb_repo_scan(&list, repo ? repo : config.repo);
    if (rc == 0) {
        char limit[32];
        zb_format_duration(limit, sizeof(limit), max_age);
        if (list.count == 0) {
            printf("unhealthy: no archive in %s\n", repo ? repo : config.repo);
            rc = zb_error_set(ZB_EFAIL, "no successful backup in %s", repo ? repo : config.repo);
        } else {
            const zb_repo_archive *newest = &list.items[list.count - 1];
            double age = difftime(time(NULL), newest->created);
            char age_text[32];
            zb_format_duration(age_text, sizeof(age_text), age < 0 ? 0 : age);
            if (age <= max_age) {
                printf("healthy: last backup %s ago (%s; limit %s)\n", age_text, newest->name, limit);
            } else {
                printf("unhealthy: last backup %s ago (%s; limit %s)\n", age_text, newest->name, limit);
                rc = zb_error_set(ZB_EFAIL, "the last successful backup is %s old (limit %s)", age_text, limit);
            }
        }
        zb_repo_list_free(&list);
    }
    zb_config_free(&config);
    return rc;
}
