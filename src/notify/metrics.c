#include "zakpos_backup/notify/metrics.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/json.h"
#include "zakpos_backup/repo/repo.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

/* a recorder holds the lock for one read, change and write: milliseconds */
#define METRICS_LOCK_WAIT_SECONDS 60

int zb_metrics_label_value(zb_buf *b, const char *text)
{
    int rc = zb_buf_puts(b, "\"");
    for (const char *p = text; rc == 0 && *p; p++) {
        if (*p == '\\')
            rc = zb_buf_puts(b, "\\\\");
        else if (*p == '"')
            rc = zb_buf_puts(b, "\\\"");
        else if (*p == '\n')
            rc = zb_buf_puts(b, "\\n");
        else
            rc = zb_buf_append(b, p, 1);
    }
    return rc == 0 ? zb_buf_puts(b, "\"") : rc;
}

/* The state: {"jobs": {NAME: {...}}, "remotes": {NAME: pending}}. Files of
 * earlier versions held the jobs at the top level. */
static json_t *state_load(const char *path)
{
    json_t *state = json_load_file(path, 0, NULL);
    if (!json_is_object(state)) {
        json_decref(state);
        state = json_object();
    }
    if (!json_is_object(json_object_get(state, "jobs"))) {
        json_t *fresh = json_object();
        json_object_set_new(fresh, "jobs", state);
        state = fresh;
    }
    if (!json_is_object(json_object_get(state, "remotes")))
        json_object_set_new(state, "remotes", json_object());
    if (!json_is_object(json_object_get(state, "repositories")))
        json_object_set_new(state, "repositories", json_object());
    if (!json_is_object(json_object_get(state, "slots")))
        json_object_set_new(state, "slots", json_object());
    return state;
}

static void state_record(json_t *state, const zb_metrics_run *run, const zb_metrics_remote *remotes,
                         size_t remote_count)
{
    json_t *jobs = json_object_get(state, "jobs");
    json_t *j = json_object_get(jobs, run->job);
    if (!j) {
        j = json_object();
        json_object_set_new(jobs, run->job, j);
    }
    if (run->action)
        json_object_set_new(j, "action", json_string(run->action));
    json_object_set_new(j, "last_run", json_integer((json_int_t)time(NULL)));
    json_object_set_new(j, "last_ok", json_boolean(run->ok));
    json_object_set_new(j, "duration", json_real(run->seconds));
    if (run->ok) {
        json_object_set_new(j, "last_success", json_integer((json_int_t)time(NULL)));
        if (run->bytes >= 0)
            json_object_set_new(j, "bytes", json_integer(run->bytes));
    } else {
        json_object_set_new(j, "failures", json_integer(json_integer_value(json_object_get(j, "failures")) + 1));
    }
    json_t *pending = json_object_get(state, "remotes");
    for (size_t i = 0; i < remote_count; i++)
        json_object_set_new(pending, remotes[i].name, json_integer(remotes[i].pending));
    struct statvfs fs;
    if (run->repo && statvfs(run->repo, &fs) == 0) {
        json_t *space = json_pack("{s:I, s:I}", "free", (json_int_t)((double)fs.f_bavail * (double)fs.f_frsize), "size",
                                  (json_int_t)((double)fs.f_blocks * (double)fs.f_frsize));
        json_object_set_new(json_object_get(state, "repositories"), run->repo, space);
    }
}

static const struct {
    const char *name, *key, *help, *type;
} job_series[] = {
    {"zakpos_backup_last_success_timestamp_seconds", "last_success", "when the job last succeeded", "gauge"},
    {"zakpos_backup_last_run_timestamp_seconds", "last_run", "when the job last ran", "gauge"},
    {"zakpos_backup_last_run_success", "last_ok", "1 if the job's last run succeeded", "gauge"},
    {"zakpos_backup_last_duration_seconds", "duration", "how long the job's last run took", "gauge"},
    {"zakpos_backup_last_archive_bytes", "bytes", "size of the last archive the job wrote", "gauge"},
    {"zakpos_backup_failures_total", "failures", "failed runs of the job", "counter"},
};

static int write_sample(zb_buf *m, const char *series, const char *label, const char *value_of, double value)
{
    int rc = zb_buf_printf(m, "%s{%s=", series, label);
    if (rc == 0)
        rc = zb_metrics_label_value(m, value_of);
    return rc == 0 ? zb_buf_printf(m, "} %.17g\n", value) : rc;
}

static int write_head(zb_buf *m, const char *series, const char *help)
{
    return zb_buf_printf(m, "# HELP %s %s\n# TYPE %s gauge\n", series, help, series);
}

/* zakpos_backup_job_info{job, action} 1: lets alert rules tell backup jobs
 * from verification jobs (`* on(job) group_left(action)`). */
static int render_job_info(zb_buf *m, json_t *jobs)
{
    static const char series[] = "zakpos_backup_job_info";
    int rc = write_head(m, series, "the job's action, as a label");
    const char *name;
    json_t *v;
    json_object_foreach (jobs, name, v) {
        const char *action = json_string_value(json_object_get(v, "action"));
        if (rc < 0 || !action) /* runs recorded before the action was */
            continue;
        rc = zb_buf_printf(m, "%s{job=", series);
        if (rc == 0)
            rc = zb_metrics_label_value(m, name);
        if (rc == 0)
            rc = zb_buf_puts(m, ",action=");
        if (rc == 0)
            rc = zb_metrics_label_value(m, action);
        if (rc == 0)
            rc = zb_buf_puts(m, "} 1\n");
    }
    return rc;
}

/* One gauge per field of an object's entries, labelled with the entry's
 * name: the repositories' space, the slots' lag. */
typedef struct keyed_series {
    const char *series, *key, *help;
} keyed_series;

static int render_keyed(zb_buf *m, json_t *objects, const keyed_series *series, size_t count, const char *label)
{
    int rc = 0;
    for (size_t s = 0; rc == 0 && json_object_size(objects) && s < count; s++) {
        rc = write_head(m, series[s].series, series[s].help);
        const char *name;
        json_t *v;
        json_object_foreach (objects, name, v) {
            if (rc == 0)
                rc = write_sample(m, series[s].series, label, name,
                                  json_number_value(json_object_get(v, series[s].key)));
        }
    }
    return rc;
}

static const keyed_series repository_series[] = {
    {"zakpos_backup_repository_free_bytes", "free", "bytes free for the repository's archives"},
    {"zakpos_backup_repository_size_bytes", "size", "size of the file system holding the repository"},
};

static const keyed_series slot_series[] = {
    {"zakpos_backup_follow_lag_bytes", "lag_bytes", "WAL bytes past the slot's confirmed position"},
    {"zakpos_backup_follow_lag_seconds", "lag_seconds",
     "age of the slot's oldest unconfirmed change, as the daemon saw it"},
    {"zakpos_backup_follow_confirmed_lsn", "confirmed_lsn", "the slot's last confirmed LSN, as a number"},
    {"zakpos_backup_follow_retained_wal_bytes", "retained_bytes", "WAL the server keeps for the slot"},
    {"zakpos_backup_follow_slot_exists", "exists", "1 while the follower's slot exists"},
};

static int render(zb_buf *m, json_t *state)
{
    int rc = 0;
    json_t *jobs = json_object_get(state, "jobs");
    for (size_t s = 0; rc == 0 && s < ZB_ARRAY_LEN(job_series); s++) {
        rc = zb_buf_printf(m, "# HELP %s %s\n# TYPE %s %s\n", job_series[s].name, job_series[s].help,
                           job_series[s].name, job_series[s].type);
        const char *name;
        json_t *v;
        json_object_foreach (jobs, name, v) {
            json_t *x = json_object_get(v, job_series[s].key);
            double value = json_is_boolean(x) ? (json_is_true(x) ? 1 : 0) : x ? json_number_value(x) : 0;
            if (rc == 0 && (x || strcmp(job_series[s].key, "failures") == 0))
                rc = write_sample(m, job_series[s].name, "job", name, value);
        }
    }
    if (rc == 0)
        rc = render_job_info(m, jobs);
    if (rc == 0)
        rc = render_keyed(m, json_object_get(state, "repositories"), repository_series, ZB_ARRAY_LEN(repository_series),
                          "repository");
    if (rc == 0)
        rc = render_keyed(m, json_object_get(state, "slots"), slot_series, ZB_ARRAY_LEN(slot_series), "slot");
    json_t *remotes = json_object_get(state, "remotes");
    if (rc == 0 && json_object_size(remotes)) {
        static const char series[] = "zakpos_backup_remote_pending_archives";
        rc = write_head(m, series, "archives the remote's retention would keep that it lacks");
        const char *name;
        json_t *v;
        json_object_foreach (remotes, name, v) {
            if (rc == 0)
                rc = write_sample(m, series, "remote", name, (double)json_integer_value(v));
        }
    }
    return rc;
}

static void state_record_slot(json_t *state, const zb_metrics_slot *slot)
{
    json_object_set_new(json_object_get(state, "slots"), slot->slot,
                        json_pack("{s:f, s:f, s:f, s:f, s:i}", "lag_bytes", slot->lag_bytes, "lag_seconds",
                                  slot->lag_seconds, "confirmed_lsn", slot->confirmed_lsn, "retained_bytes",
                                  slot->retained_bytes, "exists", slot->exists));
}

/* The state file read, changed by one recorder, written; then the textfile
 * rendered from it. The daemon's slot watcher and each `run` child record
 * alike: all of it under state_dir/metrics.lock, so that no recorder writes
 * back a state read before another's change (which would be lost), and the
 * textfile is rendered from the newest state. */
static int record(const char *metrics_file, const char *state_dir, const zb_metrics_run *run,
                  const zb_metrics_remote *remotes, size_t remote_count, const zb_metrics_slot *slot)
{
    if (!metrics_file || !*metrics_file)
        return 0;
    char state_path[PATH_MAX], lock_path[PATH_MAX];
    if (snprintf(state_path, sizeof(state_path), "%s/metrics.json", state_dir) >= (int)sizeof(state_path) ||
        snprintf(lock_path, sizeof(lock_path), "%s/metrics.lock", state_dir) >= (int)sizeof(lock_path))
        return zb_error_set(ZB_ECONFIG, "state folder path too long: %s", state_dir);
    zb_repo_lock *lock = NULL;
    int rc = zb_fs_mkdir_p(state_dir, 0700);
    if (rc == 0)
        rc = zb_repo_lock_take_file(&lock, lock_path, "the metrics state", METRICS_LOCK_WAIT_SECONDS);
    if (rc < 0)
        return rc;
    json_t *state = state_load(state_path);
    if (run)
        state_record(state, run, remotes, remote_count);
    if (slot)
        state_record_slot(state, slot);
    rc = zb_json_write_file(state_path, state, JSON_INDENT(1) | JSON_SORT_KEYS, 0600);
    zb_buf m = ZB_BUF_INIT;
    if (rc == 0 && (rc = render(&m, state)) == 0)
        rc = zb_fs_write_file_atomic(metrics_file, m.data, m.len, 0644);
    zb_buf_free(&m);
    json_decref(state);
    zb_repo_lock_release(lock);
    return rc;
}

int zb_metrics_record(const char *metrics_file, const char *state_dir, const zb_metrics_run *run,
                      const zb_metrics_remote *remotes, size_t remote_count)
{
    return record(metrics_file, state_dir, run, remotes, remote_count, NULL);
}

int zb_metrics_record_slot(const char *metrics_file, const char *state_dir, const zb_metrics_slot *slot)
{
    return record(metrics_file, state_dir, NULL, NULL, 0, slot);
}
