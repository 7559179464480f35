#include "zakpos_backup/command/run.h"
#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/config/settings.h"
#include "zakpos_backup/command/backup.h"
#include "zakpos_backup/command/prune.h"
#include "zakpos_backup/command/verify.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/parse.h"
#include "zakpos_backup/common/place.h"
#include "zakpos_backup/common/progress.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/config/config.h"
#include "zakpos_backup/notify/metrics.h"
#include "zakpos_backup/notify/webhook.h"
#include "zakpos_backup/remote/sync.h"
#include "zakpos_backup/repo/repo.h"

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

void zb_run_backup_free(zb_run_backup *b)
{
    zb_backup_request_free(&b->req);
    free(b->recipient_words);
    free(b->volume_words);
    for (size_t i = 0; i < ZB_CONFIG_MAX_PATHS; i++)
        zb_buf_free(&b->path_specs[i]);
}

int zb_run_backup_request(zb_run_backup *b, const zb_config *c, int lock_wait)
{
    zb_backup_request *req = &b->req;
    memset(b, 0, sizeof(*b));
    zb_backup_request_init(req);
    req->repo = c->repo;
    req->lock_wait = lock_wait;
    req->name = c->archive_name;
    int rc = zb_strv_push_words(&req->recipients, &b->recipient_words, c->recipients);
    if (rc == 0 && c->signing_key_file && *c->signing_key_file && c->recipients && *c->recipients)
        req->write.keys.signing_key_file = c->signing_key_file;
    if (c->passphrase_file && *c->passphrase_file)
        req->write.keys.passphrase_file = c->passphrase_file;
    req->write.zstd_level = c->zstd_level;
    if (c->pg_enabled && c->pg_conninfo && *c->pg_conninfo) {
        req->pg_selected = 1;
        req->pg.conninfo = c->pg_conninfo;
        if (c->pg_password_file && *c->pg_password_file)
            req->pg.password_file = c->pg_password_file;
        if (c->pg_jobs > 0)
            req->pg.jobs = c->pg_jobs;
        req->pg.with_role_passwords = c->pg_with_role_passwords;
    }
    if (rc == 0 && c->volumes_enabled)
        rc = zb_strv_push_words(&req->volumes, &b->volume_words, c->volumes);
    for (size_t i = 0; rc == 0 && i < c->path_count; i++) {
        rc = zb_buf_printf(&b->path_specs[i], "%s=%s", c->paths[i].name, c->paths[i].dir);
        if (rc == 0)
            rc = zb_strv_push(&req->paths, b->path_specs[i].data);
    }
    return rc;
}

void zb_run_prune_request(zb_prune_request *req, const zb_config *c, int lock_wait)
{
    memset(req, 0, sizeof(*req));
    req->repo = c->repo;
    req->policy = c->keep;
    req->lock_wait = lock_wait;
}

int zb_run_verify_request(zb_verify_request *req, char **latest, const zb_config *c, int by_restore)
{
    memset(req, 0, sizeof(*req));
    int rc = zb_repo_latest(latest, c->repo);
    req->by_restore = by_restore;
    if (rc == 0 && c->key_file && *c->key_file)
        req->ro.keys.key_file = c->key_file;
    else if (rc == 0 && c->passphrase_file && *c->passphrase_file)
        req->ro.keys.passphrase_file = c->passphrase_file;
    else if (rc == 0) {
        rc = zb_error_set(ZB_ECONFIG,
                          "a verify job needs repository.key_file (the secret key) or repository.passphrase_file");
        zb_error_hint(
            "the backup host needs only the public key to back up; verifying reads the archive, which needs the secret");
    }
    req->ro.archive = *latest;
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
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:f}", "tool", "zakpos-backup", "job", job->name, "host",
                             host, "time", when, "status", rc == 0 ? "success" : "failure", "exit_status",
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

static int run_backup(zb_context *ctx, const zb_config *c, const zb_config_job *job, int lock_wait)
{
    zb_run_backup b;
    int rc = zb_run_backup_request(&b, c, lock_wait);
    if (rc == 0)
        rc = zb_backup_run(ctx, &b.req);
    zb_run_backup_free(&b);
    zb_prune_request prune;
    zb_run_prune_request(&prune, c, lock_wait);
    if (rc == 0 && job->prune)
        rc = zb_prune_run(ctx, &prune);
    return rc;
}

/* The job's action with requests built from the configuration; the
 * commands' results (an archive's path, prune's lines) are not printed: a
 * cron job prints nothing on success, unless verbose. */
static int run_job(zb_context *ctx, const zb_config *c, const zb_config_job *job, int lock_wait)
{
    static const char *const actions[] = {"backup", "prune", "verify", "verify-restore"};
    int action = -1, rc = 0;
    if (zb_parse_enum(&action, job->action, actions, ZB_ARRAY_LEN(actions)) < 0)
        return zb_error_set(ZB_ECONFIG, "job %s: unknown action %s", job->name, job->action);
    if (action == 0)
        return run_backup(ctx, c, job, lock_wait);
    if (action == 1) {
        zb_prune_request prune;
        zb_run_prune_request(&prune, c, lock_wait);
        return zb_prune_run(ctx, &prune);
    }
    zb_verify_request verify;
    char *latest = NULL;
    if ((rc = zb_run_verify_request(&verify, &latest, c, action == 3)) == 0)
        rc = zb_verify_run(ctx, &verify);
    free(latest);
    return rc;
}

int zb_cmd_run(zb_context *ctx, int argc, char **argv)
{
    static const struct option local[] = {
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, ZB_OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    struct option options[64];
    if (zb_settings_options(options, ZB_ARRAY_LEN(options), "run", local) < 0)
        return zb_error_code();
    zb_run_request req = {NULL, -1, zb_log_threshold >= ZB_LOG_DETAIL};
    int opt, rc = 0;
    while ((opt = getopt_long(argc, argv, "v", options, NULL)) != -1) {
        switch (opt) {
        case 'v': req.verbose = 1; break;
        case ZB_SETTING_OPT(ZB_SET_LOCK_WAIT):
            if ((rc = zb_cli_parse_duration(&req.lock_wait, optarg, "--lock-wait")) < 0)
                return rc;
            break;
        case ZB_OPT_HELP: fputs(help, stdout); return 0;
        default: return zb_cli_bad_option("run", argv);
        }
    }
    if (optind != argc - 1)
        return zb_cli_usage_error("run", "give exactly one JOB");
    req.job = argv[optind];
    return zb_run_job(ctx, &req);
}

int zb_run_job(zb_context *ctx, const zb_run_request *req)
{
    const char *name = req->job;
    int verbose = req->verbose, lock_wait = req->lock_wait;
    const zb_config *c = NULL;
    int rc = zb_context_config(&c, ctx);
    if (rc < 0)
        return rc;
    if (lock_wait < 0)
        lock_wait = c->lock_wait_seconds;
    const zb_config_job *job = NULL;
    for (size_t i = 0; i < c->job_count; i++)
        if (strcmp(c->jobs[i].name, name) == 0)
            job = &c->jobs[i];
    if (!job) {
        zb_buf names = ZB_BUF_INIT;
        for (size_t i = 0; i < c->job_count; i++)
            zb_buf_printf(&names, "%s%s", i ? ", " : "", c->jobs[i].name);
        rc = zb_error_set(ZB_ECONFIG, "no job named '%s' in the configuration", name);
        zb_error_hint("the jobs are: %s", names.data ? names.data : "none");
        zb_buf_free(&names);
        return rc;
    }
    /* the sources keep their state and reach Docker where the job's
     * configuration says (the environment, when set, is in it already) */
    if ((rc = zb_place_set_docker_host(c->docker_host)) < 0 || (rc = zb_place_set_state_dir(c->state_dir)) < 0)
        return rc;
    ctx->quiet = !verbose;
    if (verbose)
        zb_log_threshold = zb_log_threshold > ZB_LOG_INFO ? zb_log_threshold : ZB_LOG_INFO;
    else
        zb_log_threshold = zb_log_threshold < ZB_LOG_WARN ? zb_log_threshold : ZB_LOG_WARN;
    zb_progress_enable(0);
    double started = zb_time_monotonic();
    rc = zb_config_use_timezone(c);
    if (rc == 0)
        rc = run_job(ctx, c, job, lock_wait);
    zb_error_saved failure;
    if (rc < 0)
        zb_error_save(&failure);
    double took = zb_time_monotonic() - started;
    long long bytes = rc == 0 && strcmp(job->action, "backup") == 0 ? newest_archive_bytes(c->repo) : -1;
    zb_metrics_run record = {job->name, job->action, c->repo, rc == 0, took, bytes};
    zb_metrics_remote remotes[ZB_CONFIG_MAX_REMOTES];
    const char *remote_names[ZB_CONFIG_MAX_REMOTES];
    long long pending[ZB_CONFIG_MAX_REMOTES];
    size_t remote_count = zb_remote_pending_noted(remote_names, pending, ZB_CONFIG_MAX_REMOTES);
    for (size_t i = 0; i < remote_count; i++)
        remotes[i] = (zb_metrics_remote){remote_names[i], pending[i]};
    if (zb_metrics_record(c->metrics_file, c->state_dir, &record, remotes, remote_count) < 0)
        zb_log_error("cannot write the metrics file: %s", zb_error_message());
    if (c->webhook_url && *c->webhook_url && (rc < 0 || c->webhook_on_success))
        notify(c, job, rc, rc < 0 ? &failure : NULL, took, bytes);
    if (rc < 0) {
        zb_error_raise(&failure);
        zb_error_context("job %s", job->name);
    } else if (verbose) {
        zb_log_info("job %s done in %.1f s", job->name, took);
    }
    return rc;
}
