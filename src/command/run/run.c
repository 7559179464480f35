#include "zakpos_backup/command/run.h"
#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/command/backup.h"
#include "zakpos_backup/command/prune.h"
#include "zakpos_backup/command/verify.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/progress.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/config/config.h"
#include "zakpos_backup/notify/metrics.h"
#include "zakpos_backup/notify/webhook.h"
#include "zakpos_backup/remote/sync.h"
#include "zakpos_backup/repo/repo.h"

#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char help[] =
    "usage: zakpos-backup [--config FILE] run JOB [--verbose] [--lock-wait DURATION]\n"
    "\n"
    "Runs one job of the configuration ([job NAME] sections; the defaults have\n"
    "'nightly': backup then prune) once, as system cron or a systemd timer\n"
    "would. Silent on success unless --verbose; on failure one line on stderr\n"
    "and the exit status of the failure (see --help). Writes the metrics\n"
    "textfile (daemon.metrics_file) when one is configured.\n"
    "\n"
    "Actions: backup (with prune afterwards when the job says so), prune,\n"
    "verify (of the newest archive; needs repository.key_file or\n"
    "repository.passphrase_file) and verify-restore (verify --restore of the\n"
    "newest archive: restored into scratch targets on the configured servers,\n"
    "compared, removed; the result goes into the repository index).\n"
    "\n"
    "A job whose repository another run holds waits for it, saying whom it waits\n"
    "for, up to --lock-wait DURATION (default daemon.lock_wait, 1h), then fails\n"
    "with exit 12. Retention buckets use daemon.timezone, as the daemon does.\n";

#define MAX_ARGS 256

typedef struct argv_builder {
    char *items[MAX_ARGS + 1];
    int count;
} argv_builder;

static int arg(argv_builder *a, const char *value)
{
    if (a->count == MAX_ARGS)
        return zb_error_set(ZB_ECONFIG, "the job has too many sources");
    if (!(a->items[a->count] = zb_strdup(value)))
        return zb_error_set(ZB_ENOMEM, "out of memory");
    a->items[++a->count] = NULL;
    return 0;
}

static int arg2(argv_builder *a, const char *flag, const char *value)
{
    int rc = arg(a, flag);
    return rc < 0 ? rc : arg(a, value);
}

/* Each word of a space-separated list, after flag. */
static int args_each(argv_builder *a, const char *flag, const char *list)
{
    char *copy = zb_strdup(list ? list : "");
    if (!copy)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    int rc = 0;
    char *save = NULL;
    for (char *w = strtok_r(copy, " \t", &save); rc == 0 && w; w = strtok_r(NULL, " \t", &save))
        rc = arg2(a, flag, w);
    free(copy);
    return rc;
}

static void argv_free(argv_builder *a)
{
    for (int i = 0; i < a->count; i++)
        free(a->items[i]);
    a->count = 0;
}

/* How long the job waits for a busy repository, as the commands read it. */
static int lock_wait_arg(argv_builder *a, int lock_wait)
{
    char text[32];
    snprintf(text, sizeof(text), "%ds", lock_wait);
    return arg2(a, "--lock-wait", text);
}

static int backup_args(argv_builder *a, const zb_config *c, int lock_wait)
{
    char text[32];
    int rc = arg(a, "backup");
    if (rc == 0)
        rc = arg2(a, "--repo", c->repo);
    if (rc == 0)
        rc = lock_wait_arg(a, lock_wait);
    if (rc == 0)
        rc = arg2(a, "--name", c->archive_name);
    if (rc == 0)
        rc = args_each(a, "--recipient", c->recipients);
    if (rc == 0 && c->signing_key_file && *c->signing_key_file && c->recipients && *c->recipients)
        rc = arg2(a, "--signing-key", c->signing_key_file);
    if (rc == 0 && c->passphrase_file && *c->passphrase_file)
        rc = arg2(a, "--passphrase-file", c->passphrase_file);
    snprintf(text, sizeof(text), "%d", c->zstd_level);
    if (rc == 0)
        rc = arg2(a, "--zstd-level", text);
    if (rc == 0 && c->pg_enabled && c->pg_conninfo && *c->pg_conninfo) {
        rc = arg2(a, "--pg", c->pg_conninfo);
        if (rc == 0 && c->pg_password_file && *c->pg_password_file)
            rc = arg2(a, "--pg-password-file", c->pg_password_file);
        snprintf(text, sizeof(text), "%d", c->pg_jobs);
        if (rc == 0 && c->pg_jobs > 0)
            rc = arg2(a, "--jobs", text);
        if (rc == 0 && c->pg_with_role_passwords)
            rc = arg(a, "--with-role-passwords");
    }
    if (rc == 0 && c->volumes_enabled)
        rc = args_each(a, "--volume", c->volumes);
    for (size_t i = 0; rc == 0 && i < c->path_count; i++) {
        zb_buf spec = ZB_BUF_INIT;
        rc = zb_buf_printf(&spec, "%s=%s", c->paths[i].name, c->paths[i].dir);
        if (rc == 0)
            rc = arg2(a, "--path", spec.data);
        zb_buf_free(&spec);
    }
    return rc;
}

static int prune_args(argv_builder *a, const zb_config *c, int lock_wait)
{
    static const char *const flags[ZB_KEEP_WITHIN] = {"--keep-last", "--keep-hourly", "--keep-daily", "--keep-weekly",
                                                     "--keep-monthly", "--keep-yearly"};
    int rc = arg(a, "prune");
    if (rc == 0)
        rc = arg2(a, "--repo", c->repo);
    if (rc == 0)
        rc = lock_wait_arg(a, lock_wait);
    for (int r = 0; rc == 0 && r < ZB_KEEP_WITHIN; r++) {
        char n[32];
        snprintf(n, sizeof(n), "%d", c->keep.count[r]); /* -1: no limit, as prune reads it */
        if (c->keep.count[r] != 0)
            rc = arg2(a, flags[r], n);
    }
    if (rc == 0 && c->keep.within_set)
        rc = arg2(a, "--keep-within", c->keep.within_text);
    return rc;
}

/* verify of the newest archive, with the repository's key or passphrase;
 * by_restore: restored into scratch targets and compared (verify --restore). */
static int verify_args(argv_builder *a, const zb_config *c, int by_restore)
{
    char *latest = NULL;
    int rc = zb_repo_latest(&latest, c->repo);
    if (rc == 0)
        rc = arg(a, "verify");
    if (rc == 0 && by_restore)
        rc = arg(a, "--restore");
    if (rc == 0 && c->key_file && *c->key_file)
        rc = arg2(a, "--key", c->key_file);
    else if (rc == 0 && c->passphrase_file && *c->passphrase_file)
        rc = arg2(a, "--passphrase-file", c->passphrase_file);
    else if (rc == 0) {
        rc = zb_error_set(ZB_ECONFIG, "a verify job needs repository.key_file (the secret key) or repository.passphrase_file");
        zb_error_hint("the backup host needs only the public key to back up; verifying reads the archive, which needs the secret");
    }
    if (rc == 0)
        rc = arg(a, latest);
    free(latest);
    return rc;
}

/* Runs a command with its stdout silenced (a backup prints the archive's
 * path; a cron job prints nothing on success). */
static int quietly(int (*command)(int, char **), argv_builder *a, int verbose)
{
    int saved = -1, null_fd = -1;
    fflush(stdout);
    if (!verbose && (null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) >= 0) {
        saved = dup(STDOUT_FILENO);
        dup2(null_fd, STDOUT_FILENO);
        close(null_fd);
    }
    optind = 1;
    int rc = command(a->count, a->items);
    fflush(stdout);
    if (saved >= 0) {
        dup2(saved, STDOUT_FILENO);
        close(saved);
    }
    return rc;
}

static long long newest_archive_bytes(const char *repo)
{
    char *path = NULL;
    struct stat st;
    long long bytes = zb_repo_latest(&path, repo) == 0 && path && stat(path, &st) == 0 ? (long long)st.st_size : -1;
    free(path);
    return bytes;
}

/* The webhook's JSON: what ran, how it ended, and the error's own words. */
static void notify(const zb_config *c, const zb_config_job *job, int rc, const zb_error_saved *failure, double took,
                   long long bytes)
{
    char host[256] = "", when[32];
    gethostname(host, sizeof(host) - 1);
    zb_time_format_iso(when, sizeof(when), time(NULL));
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:f}", "tool", "zakpos-backup", "job", job->name, "host", host,
                             "time", when, "status", rc == 0 ? "success" : "failure", "exit_status",
                             rc == 0 ? 0 : zb_error_exit_status(rc), "duration_seconds", took);
    if (failure) {
        json_object_set_new(body, "error", json_string(failure->message));
        if (failure->hint[0])
            json_object_set_new(body, "hint", json_string(failure->hint));
    }
    if (bytes >= 0)
        json_object_set_new(body, "archive_bytes", json_integer(bytes));
    if (zb_webhook_post(c->webhook_url, body, 3) < 0)
        zb_log_error("%s", zb_error_message());
    json_decref(body);
}

static int run_job(const zb_config *c, const zb_config_job *job, int verbose, int lock_wait)
{
    argv_builder a = {{NULL}, 0};
    int rc = 0;
    if (strcmp(job->action, "backup") == 0) {
        if ((rc = backup_args(&a, c, lock_wait)) == 0)
            rc = quietly(zb_cmd_backup, &a, verbose);
        argv_free(&a);
        if (rc == 0 && job->prune && (rc = prune_args(&a, c, lock_wait)) == 0)
            rc = quietly(zb_cmd_prune, &a, verbose);
    } else if (strcmp(job->action, "prune") == 0) {
        if ((rc = prune_args(&a, c, lock_wait)) == 0)
            rc = quietly(zb_cmd_prune, &a, verbose);
    } else if (strcmp(job->action, "verify") == 0 || strcmp(job->action, "verify-restore") == 0) {
        if ((rc = verify_args(&a, c, strcmp(job->action, "verify-restore") == 0)) == 0)
            rc = quietly(zb_cmd_verify, &a, verbose);
    } else {
        rc = zb_error_set(ZB_ECONFIG, "job %s: unknown action %s", job->name, job->action);
    }
    argv_free(&a);
    return rc;
}

int zb_cmd_run(int argc, char **argv)
{
    static const struct option options[] = {
        {"verbose", no_argument, NULL, 'v'},
        {"lock-wait", required_argument, NULL, ZB_OPT_LOCK_WAIT},
        {"help", no_argument, NULL, ZB_OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    int opt, verbose = zb_log_threshold >= ZB_LOG_DETAIL, lock_wait = -1, rc = 0;
    while ((opt = getopt_long(argc, argv, "v", options, NULL)) != -1) {
        switch (opt) {
        case 'v': verbose = 1; break;
        case ZB_OPT_LOCK_WAIT:
            if ((rc = zb_cli_parse_duration(&lock_wait, optarg, "--lock-wait")) < 0)
                return rc;
            break;
        case ZB_OPT_HELP: fputs(help, stdout); return 0;
        default: return zb_cli_bad_option("run", argv);
        }
    }
    if (optind != argc - 1)
        return zb_cli_usage_error("run", "give exactly one JOB");
    const char *name = argv[optind];
    zb_config c;
    if ((rc = zb_config_load(&c, zb_cli_config_file())) < 0)
        return rc;
    if (lock_wait < 0)
        lock_wait = c.lock_wait_seconds;
    const zb_config_job *job = NULL;
    for (size_t i = 0; i < c.job_count; i++)
        if (strcmp(c.jobs[i].name, name) == 0)
            job = &c.jobs[i];
    if (!job) {
        zb_buf names = ZB_BUF_INIT;
        for (size_t i = 0; i < c.job_count; i++)
            zb_buf_printf(&names, "%s%s", i ? ", " : "", c.jobs[i].name);
        rc = zb_error_set(ZB_ECONFIG, "no job named '%s' in the configuration", name);
        zb_error_hint("the jobs are: %s", names.data ? names.data : "none");
        zb_buf_free(&names);
        zb_config_free(&c);
        return rc;
    }
    /* settings the sources read from the environment */
    if (c.docker_host && *c.docker_host)
        setenv("DOCKER_HOST", c.docker_host, 0);
    if (c.state_dir && *c.state_dir)
        setenv("ZAKPOS_BACKUP_STATE_DIR", c.state_dir, 0);
    if (verbose)
        zb_log_threshold = zb_log_threshold > ZB_LOG_INFO ? zb_log_threshold : ZB_LOG_INFO;
    else
        zb_log_threshold = zb_log_threshold < ZB_LOG_WARN ? zb_log_threshold : ZB_LOG_WARN;
    zb_progress_enable(0);
    double started = zb_time_monotonic();
    rc = zb_config_use_timezone(&c);
    if (rc == 0)
        rc = run_job(&c, job, verbose, lock_wait);
    zb_error_saved failure;
    if (rc < 0)
        zb_error_save(&failure);
    double took = zb_time_monotonic() - started;
    long long bytes = rc == 0 && strcmp(job->action, "backup") == 0 ? newest_archive_bytes(c.repo) : -1;
    zb_metrics_run record = {job->name, job->action, c.repo, rc == 0, took, bytes};
    zb_metrics_remote remotes[ZB_CONFIG_MAX_REMOTES];
    const char *remote_names[ZB_CONFIG_MAX_REMOTES];
    long long pending[ZB_CONFIG_MAX_REMOTES];
    size_t remote_count = zb_remote_pending_noted(remote_names, pending, ZB_CONFIG_MAX_REMOTES);
    for (size_t i = 0; i < remote_count; i++)
        remotes[i] = (zb_metrics_remote){remote_names[i], pending[i]};
    if (zb_metrics_record(c.metrics_file, c.state_dir, &record, remotes, remote_count) < 0)
        zb_log_error("cannot write the metrics file: %s", zb_error_message());
    if (c.webhook_url && *c.webhook_url && (rc < 0 || c.webhook_on_success))
        notify(&c, job, rc, rc < 0 ? &failure : NULL, took, bytes);
    if (rc < 0) {
        zb_error_raise(&failure);
        zb_error_context("job %s", job->name);
    } else if (verbose) {
        zb_log_info("job %s done in %.1f s", job->name, took);
    }
    zb_config_free(&c);
    return rc;
}
