#include "zakpos_backup/command/healthcheck.h"
#include "zakpos_backup/command/daemon_follower.h"
#include "zakpos_backup/archive/header.h"
#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/config/settings.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/config/config.h"
#include "zakpos_backup/repo/repo.h"
#include "zakpos_backup/source/pg/pitr/chain.h"
#include "zakpos_backup/source/pg/pitr/watch.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char help[] =
    "usage: zakpos-backup healthcheck [--repo DIR] [--max-age DURATION]\n"
    "\n"
    "Exit 0 when the newest archive in the repository is younger than the\n"
    "maximum age (an archive is published only by a backup that succeeded),\n"
    "1 otherwise (no archive, too old, no repository); one line on stdout either\n"
    "way. Only archives whose header checks out and whose time is not in the\n"
    "future count: a file merely named like an archive does not. For Docker's\n"
    "HEALTHCHECK and for monitoring. Defaults come from the configuration:\n"
    "repository.path and daemon.healthcheck_max_age (26h). Takes no lock.\n"
    "With follow.enabled, also unhealthy when the follower's slot has changes\n"
    "unconfirmed for longer than follow.max_lag (5m), or when the daemon's slot\n"
    "watcher (every 5s) last looked more than 10s longer ago than that (its\n"
    "record in daemon.state_dir), or when a schema change needs a new chain\n"
    "that the follower cannot start (no replication slot free: the repository's\n"
    "pitr/SLOT.json says why and since when).\n"
    "\n"
    "  --repo DIR          the repository\n"
    "  --max-age DURATION  e.g. 26h, 90m, 2d\n"
    "  --slot NAME         the follower's slot (default follow.slot)\n"
    "  --max-lag DURATION  the follower's lag limit (default follow.max_lag)\n";

/* An archive named for a time this far ahead of the clock is not trusted:
 * the name is all that dates it, and a clock is seldom off by more. */
#define FUTURE_TOLERANCE_SECONDS 300

/* Seam: where the repository's trust is configured, an archive counts only
 * with a signature that checks out. Archives carry none yet: all pass. */
static int archive_signature_trusted(const zb_repo_archive *a, const zb_archive_header *h, char *why, size_t why_size)
{
    (void)a, (void)h, (void)why, (void)why_size;
    return 1;
}

/* Whether an archive counts as a backup that happened: its header must
 * parse (magic, version, protection, key slots), data must follow it, and
 * its signature must check out where trust is configured. */
static int archive_trusted(const zb_repo_archive *a, time_t now, char *why, size_t why_size)
{
    if (a->created > now + FUTURE_TOLERANCE_SECONDS)
        return snprintf(why, why_size, "dated in the future"), 0;
    zb_archive_header *h = malloc(sizeof(*h));
    int fd = open(a->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    int ok = 0;
    if (!h)
        snprintf(why, why_size, "out of memory");
    else if (fd < 0)
        snprintf(why, why_size, "cannot open it: %s", strerror(errno));
    else if (zb_archive_header_read(h, fd, a->name) < 0)
        snprintf(why, why_size, "%s", zb_error_message());
    else if (fstat(fd, &st) < 0 || (uint64_t)st.st_size <= h->raw_len)
        snprintf(why, why_size, "it holds a header and no data");
    else
        ok = archive_signature_trusted(a, h, why, why_size);
    if (fd >= 0)
        close(fd);
    free(h);
    zb_error_clear();
    return ok;
}

/* The newest archive that counts, or NULL; says why newer ones do not. */
static const zb_repo_archive *newest_trusted(const zb_repo_list *list)
{
    time_t now = time(NULL);
    for (size_t i = list->count; i-- > 0;) {
        char why[ZB_ERROR_MESSAGE_MAX];
        if (archive_trusted(&list->items[i], now, why, sizeof(why)))
            return &list->items[i];
        zb_log_warn("%s does not count as a backup: %s", list->items[i].name, why);
    }
    return NULL;
}

int zb_cmd_healthcheck(zb_context *ctx, int argc, char **argv)
{
    static const struct option local[] = {
        {"help", no_argument, NULL, ZB_OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    struct option options[64];
    if (zb_settings_options(options, ZB_ARRAY_LEN(options), "healthcheck", local) < 0)
        return zb_error_code();
    zb_healthcheck_request req = {NULL, -1, NULL, -1};
    int opt, rc;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case ZB_SETTING_OPT(ZB_SET_REPO): req.repo = optarg; break;
        case ZB_SETTING_OPT(ZB_SET_HEALTHCHECK_MAX_AGE):
            if ((rc = zb_cli_parse_duration(&req.max_age_seconds, optarg, "--max-age")) < 0)
                return rc;
            break;
        case ZB_SETTING_OPT(ZB_SET_FOLLOW_SLOT): req.slot = optarg; break;
        case ZB_SETTING_OPT(ZB_SET_FOLLOW_MAX_LAG):
            if ((rc = zb_cli_parse_duration(&req.max_lag_seconds, optarg, "--max-lag")) < 0)
                return rc;
            break;
        case ZB_OPT_HELP: fputs(help, stdout); return 0;
        default: return zb_cli_bad_option("healthcheck", argv);
        }
    }
    if (optind < argc)
        return zb_cli_usage_error("healthcheck", "unexpected argument '%s'", argv[optind]);
    return zb_healthcheck_run(ctx, &req);
}

/* A schema change needs a new chain the follower cannot start (the state
 * file says why since when, docs/FORMAT.md): ZB_EFAIL with the unhealthy
 * line printed, else 0. */
static int follower_switch(const char *repo, const char *slot)
{
    json_t *state = NULL;
    int rc = 0;
    json_t *blocked = zb_pitr_state_read(&state, repo, slot) == 0 ? json_object_get(state, "switch_blocked") : NULL;
    zb_error_clear(); /* no state file: no follower to judge here */
    if (blocked) {
        const char *reason = json_string_value(json_object_get(blocked, "reason")) ?: "?";
        const char *since = json_string_value(json_object_get(blocked, "since")) ?: "?";
        printf("unhealthy: the follower cannot start its new chain (since %s): %s\n", since, reason);
        rc = zb_error_set(ZB_EFAIL, "the follower cannot start its new chain (since %s): %s", since, reason);
    }
    json_decref(state);
    return rc;
}

/* The follower's lag as the daemon's slot watcher last saw it: 0 and the
 * healthy part of the line, or ZB_EFAIL with the unhealthy line printed. */
static int follower_lag(char *healthy, size_t healthy_size, const zb_config *c, const zb_healthcheck_request *req,
                        const char *repo)
{
    const char *slot = req->slot ? req->slot : c->follow_slot;
    if (follower_switch(repo, slot) < 0)
        return ZB_EFAIL;
    int max_lag = req->max_lag_seconds >= 0 ? req->max_lag_seconds : c->follow_max_lag_seconds;
    double observed = 0, lag = 0, now = (double)time(NULL);
    char limit[32], lag_text[32], seen_text[32];
    zb_format_duration(limit, sizeof(limit), max_lag);
    int rc = zb_pitr_watch_load(&observed, &lag, c->state_dir, slot);
    if (rc < 0)
        return rc;
    if (observed <= 0) {
        printf("unhealthy: the daemon never watched the follower's slot %s\n", slot);
        return zb_error_set(ZB_EFAIL, "no record of the follower's slot %s in %s", slot, c->state_dir);
    }
    zb_format_duration(lag_text, sizeof(lag_text), lag);
    zb_format_duration(seen_text, sizeof(seen_text), now > observed ? now - observed : 0);
    /* the watcher looks every few seconds: a record older than the limit
     * plus two looks means it stopped looking */
    if (now - observed > max_lag + 2 * ZB_FOLLOWER_WATCH_SECONDS) {
        printf("unhealthy: the follower's slot %s was last watched %s ago (limit %s)\n", slot, seen_text, limit);
        return zb_error_set(ZB_EFAIL, "the follower's slot %s was last watched %s ago (limit %s)", slot, seen_text,
                            limit);
    }
    if (lag > max_lag) {
        printf("unhealthy: the follower's slot %s is %s behind (limit %s)\n", slot, lag_text, limit);
        return zb_error_set(ZB_EFAIL, "the follower's slot %s is %s behind (limit %s)", slot, lag_text, limit);
    }
    snprintf(healthy, healthy_size, "; follower %s behind (limit %s)", lag_text, limit);
    return 0;
}

int zb_healthcheck_run(zb_context *ctx, const zb_healthcheck_request *req)
{
    const char *repo = req->repo;
    const zb_config *config = NULL;
    int rc = zb_context_config(&config, ctx);
    if (rc < 0)
        return rc;
    int max_age = req->max_age_seconds >= 0 ? req->max_age_seconds : config->healthcheck_max_age_seconds;
    zb_repo_list list;
    const char *where = repo ? repo : config->repo;
    rc = zb_repo_scan(&list, where);
    if (rc < 0) {
        /* unhealthy, as documented: the monitor asks one question */
        printf("unhealthy: %s\n", zb_error_message());
        rc = zb_error_set(ZB_EFAIL, "%s", zb_error_message());
    } else {
        char limit[32];
        zb_format_duration(limit, sizeof(limit), max_age);
        const zb_repo_archive *newest = newest_trusted(&list);
        if (!newest) {
            printf("unhealthy: no archive in %s\n", where);
            rc = zb_error_set(ZB_EFAIL, "no successful backup in %s", where);
        } else {
            double age = difftime(time(NULL), newest->created);
            char age_text[32];
            zb_format_duration(age_text, sizeof(age_text), age < 0 ? 0 : age);
            char follower[160] = "";
            if (age <= max_age && config->follow_enabled &&
                (rc = follower_lag(follower, sizeof(follower), config, req, where)) < 0) {
                /* said on stdout by follower_lag */
            } else if (age <= max_age) {
                printf("healthy: last backup %s ago (%s; limit %s)%s\n", age_text, newest->name, limit, follower);
            } else {
                printf("unhealthy: last backup %s ago (%s; limit %s)\n", age_text, newest->name, limit);
                rc = zb_error_set(ZB_EFAIL, "the last successful backup is %s old (limit %s)", age_text, limit);
            }
        }
        zb_repo_list_free(&list);
    }
    return rc;
}
