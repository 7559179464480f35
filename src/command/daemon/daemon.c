#include "zakpos_backup/command/daemon.h"
#include "zakpos_backup/command/daemon_follower.h"
#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/config/settings.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/secret.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/progress.h"
#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/common/timezone.h"
#include "zakpos_backup/config/config.h"
#include "zakpos_backup/schedule/cron.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char help[] =
    "usage: zakpos-backup [--config FILE] daemon [--lock-wait DURATION]\n"
    "\n"
    "Runs the configured jobs ([job NAME]: schedule, action) on their cron\n"
    "schedules until SIGTERM or SIGINT, each run as `zakpos-backup run JOB` in a\n"
    "child process. A run that would start while the job's previous run is\n"
    "still going is skipped and logged. daemon.random_delay adds up to that\n"
    "much random delay before each run; daemon.timezone (or TZ) sets the zone\n"
    "the schedules and retention buckets are read in. SIGHUP reloads the\n"
    "configuration, all or nothing: a file with any error changes nothing (the\n"
    "time zone included). A run whose repository another run holds waits for it\n"
    "up to --lock-wait DURATION (default daemon.lock_wait, 1h). On SIGTERM the\n"
    "running jobs are asked to stop (they remove partial archives and restart\n"
    "the containers they stopped) and the daemon exits 0.\n"
    "\n"
    "With follow.enabled = yes the daemon also keeps `zakpos-backup follow` running\n"
    "(restarted 1s, 2s, 4s ... up to 60s after it exits, each exit logged; on\n"
    "SIGHUP restarted to read the new configuration; on SIGTERM given 30s to\n"
    "publish what it holds, then killed) and every 5s reads its replication slot,\n"
    "even while the follower is down: the lag goes to the metrics textfile and to\n"
    "daemon.state_dir for healthcheck, and past follow.slot_max_wal_size or\n"
    "follow.slot_max_age the slot is dropped (logged, sent to the webhook) and the\n"
    "next follower starts a new chain.\n";

typedef struct scheduled {
    char name[128];
    zb_cron cron;
    time_t next;
    pid_t running; /* child pid, or 0 */
} scheduled;

typedef struct schedule {
    scheduled jobs[ZB_CONFIG_MAX_JOBS];
    size_t count;
    int random_delay;
} schedule;

/* All or nothing: the new zone is taken only with the schedule computed in
 * it; any error leaves the zone and the schedule the daemon had. */
static int load(schedule *s, zb_config *kept, const zb_context *ctx, const schedule *previous)
{
    zb_config c;
    int rc = zb_context_config_fresh(&c, ctx);
    if (rc < 0)
        return rc;
    char *zone_before = zb_time_zone_save();
    if ((rc = zb_config_use_timezone(&c)) < 0) {
        zb_config_free(&c);
        zb_time_zone_restore(zone_before);
        return rc;
    }
    schedule fresh;
    memset(&fresh, 0, sizeof(fresh));
    fresh.random_delay = c.random_delay_seconds;
    time_t now = time(NULL);
    for (size_t i = 0; rc == 0 && i < c.job_count; i++) {
        scheduled *j = &fresh.jobs[fresh.count++];
        snprintf(j->name, sizeof(j->name), "%s", c.jobs[i].name);
        rc = zb_cron_parse(&j->cron, c.jobs[i].schedule);
        if (rc == 0)
            rc = zb_cron_next(&j->next, &j->cron, now);
        for (size_t k = 0; previous && k < previous->count; k++) /* a reload keeps runs in progress */
            if (strcmp(previous->jobs[k].name, j->name) == 0)
                j->running = previous->jobs[k].running;
        if (rc < 0)
            zb_error_context("job %s", j->name);
    }
    if (rc == 0) {
        *s = fresh;
        free(zone_before);
        /* the follower service reads it as long as it is current */
        zb_config_free(kept);
        *kept = c;
    } else {
        zb_config_free(&c);
        zb_time_zone_restore(zone_before);
    }
    return rc;
}

/* In UTC and in the zone the schedule is read in, with its offset. */
static void log_next(const scheduled *j)
{
    char when[40], local[64];
    struct tm tm;
    zb_time_format_iso(when, sizeof(when), j->next);
    localtime_r(&j->next, &tm);
    strftime(local, sizeof(local), "%Y-%m-%d %H:%M %z", &tm);
    zb_log_info("job %s: next run at %s (%s %s)", j->name, when, local, zb_time_zone_name());
}

/* A run is this program again: `run JOB`, with the same config and logs. */
static pid_t start_run(const scheduled *j, const char *self, const char *config_file, int random_delay,
                       const char *lock_wait)
{
    const char *args[] = {"run", j->name, lock_wait ? "--lock-wait" : NULL, lock_wait, NULL};
    return zb_daemon_spawn(self, config_file, args, random_delay);
}

static void reap(schedule *s, zb_follower_service *follower)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (zb_follower_service_reaped(follower, pid, status))
            continue;
        for (size_t i = 0; i < s->count; i++) {
            if (s->jobs[i].running != pid)
                continue;
            s->jobs[i].running = 0;
            int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            if (code == 0)
                zb_log_info("job %s succeeded", s->jobs[i].name);
            else
                zb_log_error("job %s failed with exit status %d", s->jobs[i].name, code);
        }
    }
}

static void stop_runs(schedule *s, int sig)
{
    for (size_t i = 0; i < s->count; i++)
        if (s->jobs[i].running) {
            zb_log_info("stopping the running job %s", s->jobs[i].name);
            kill(s->jobs[i].running, sig);
        }
    for (size_t i = 0; i < s->count; i++)
        if (s->jobs[i].running) {
            int status;
            waitpid(s->jobs[i].running, &status, 0);
            s->jobs[i].running = 0;
        }
}

int zb_cmd_daemon(zb_context *ctx, int argc, char **argv)
{
    static const struct option local[] = {{"help", no_argument, NULL, ZB_OPT_HELP}, {NULL, 0, NULL, 0}};
    struct option options[64];
    if (zb_settings_options(options, ZB_ARRAY_LEN(options), "daemon", local) < 0)
        return zb_error_code();
    zb_daemon_request req = {argv[0], NULL};
    int opt, seconds = 0;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt == ZB_OPT_HELP) {
            fputs(help, stdout);
            return 0;
        }
        if (opt == ZB_SETTING_OPT(ZB_SET_LOCK_WAIT)) {
            int rc = zb_cli_parse_duration(&seconds, optarg, "--lock-wait");
            if (rc < 0)
                return rc;
            req.lock_wait = optarg;
            continue;
        }
        return zb_cli_bad_option("daemon", argv);
    }
    if (optind != argc)
        return zb_cli_usage_error("daemon", "unexpected argument '%s'", argv[optind]);
    return zb_daemon_run(ctx, &req);
}

int zb_daemon_run(zb_context *ctx, const zb_daemon_request *req)
{
    const char *lock_wait = req->lock_wait;
    const char *config_file = ctx->config_file; /* handed to each run, which reads it itself */
    schedule s;
    zb_config config;
    memset(&config, 0, sizeof(config));
    int rc = load(&s, &config, ctx, NULL);
    if (rc != 0)
        return rc;
    if (s.count == 0 && !config.follow_enabled) {
        zb_config_free(&config);
        return zb_error_set(ZB_ECONFIG, "the configuration has no jobs to run");
    }
    zb_follower_service follower;
    zb_follower_service_init(&follower, req->self, config_file);
    follower.config = &config;
    zb_progress_enable(0);
    srand((unsigned)(time(NULL) ^ getpid()));
    zb_log_info("daemon started with %zu job%s%s", s.count, s.count == 1 ? "" : "s",
                config.follow_enabled ? " and the follower" : "");
    for (size_t i = 0; i < s.count; i++)
        log_next(&s.jobs[i]);
    while (!zb_interrupted()) {
        reap(&s, &follower);
        if (zb_reload_requested()) {
            schedule fresh;
            if (load(&fresh, &config, ctx, &s) == 0) {
                s = fresh;
                zb_follower_service_reload(&follower, &config);
                zb_log_info("configuration reloaded: %zu job%s", s.count, s.count == 1 ? "" : "s");
                for (size_t i = 0; i < s.count; i++)
                    log_next(&s.jobs[i]);
            } else {
                zb_log_error("the configuration was not reloaded: %s", zb_error_message());
                for (size_t i = 0; i < s.count; i++) /* the schedule, and its zone, as they were */
                    log_next(&s.jobs[i]);
            }
        }
        time_t now = time(NULL);
        for (size_t i = 0; i < s.count; i++) {
            scheduled *j = &s.jobs[i];
            if (j->next > now)
                continue;
            if (j->running) {
                zb_log_warn("job %s: its previous run is still going; this run is skipped", j->name);
            } else if ((j->running = start_run(j, req->self, config_file, s.random_delay, lock_wait)) < 0) {
                j->running = 0;
                zb_log_error("job %s: cannot start a run: %s", j->name, strerror(errno));
            } else {
                zb_log_info("job %s started (pid %d)", j->name, (int)j->running);
            }
            if (zb_cron_next(&j->next, &j->cron, now) < 0)
                j->next = now + 86400L * 366 * 8; /* never again (checked at load) */
            log_next(j);
        }
        zb_follower_service_tick(&follower);
        sleep(1); /* a signal ends it early */
    }
    int sig = zb_interrupted();
    zb_log_info("signal %d: stopping", sig);
    zb_follower_service_stop(&follower);
    stop_runs(&s, SIGTERM);
    zb_config_free(&config);
    zb_log_info("daemon stopped");
    return 0;
}
