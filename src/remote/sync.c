#include "zakpos_backup/remote/sync.h"
#include "zakpos_backup/archive/sign.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/config/config.h"
#include "zakpos_backup/repo/repo.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* An archive of the repository, the remote or both. */
typedef struct known_archive {
    const char *name;
    time_t created;
    const char *local_path; /* NULL: on the remote only */
    int on_remote;
    int remote_signed; /* the remote holds its detached signature */
} known_archive;

static int oldest_first(const void *a, const void *b)
{
    const known_archive *x = a, *y = b;
    return zb_repo_archive_order(x->name, x->created, y->name, y->created);
}

static known_archive *find_known(known_archive *all, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(all[i].name, name) == 0)
            return &all[i];
    return NULL;
}

/* The union of both listings, oldest first. */
static size_t merge(known_archive *all, const zb_repo_list *local, const zb_remote_list *remote)
{
    size_t n = 0;
    for (size_t i = 0; i < local->count; i++)
        all[n++] = (known_archive){local->items[i].name, local->items[i].created, local->items[i].path, 0, 0};
    for (size_t i = 0; i < remote->count; i++) {
        known_archive *k = find_known(all, n, remote->items[i].name);
        if (k) {
            k->on_remote = 1;
            k->remote_signed = remote->items[i].signed_detached;
        } else {
            all[n++] = (known_archive){remote->items[i].name, remote->items[i].created, NULL, 1,
                                       remote->items[i].signed_detached};
        }
    }
    qsort(all, n, sizeof(*all), oldest_first);
    return n;
}

static int send_missing(zb_remote *r, known_archive *all, const unsigned *keep, size_t n, FILE *report,
                        long long *pending)
{
    int first_rc = 0;
    zb_error_saved first;
    for (size_t i = 0; i < n; i++) { /* keep[] reads newest first */
        known_archive *a = &all[n - 1 - i];
        if (!keep[i] || (a->on_remote && a->remote_signed) || !a->local_path)
            continue;
        int rc = zb_check_interrupt();
        /* on the remote already: only a detached signature made since (`sign`) travels */
        if (rc == 0 && a->on_remote && (rc = zb_remote_upload_signature(r, a->local_path)) >= 0) {
            if (rc > 0 && report)
                fprintf(report, "sent         %s%s\n", a->name, ZB_DETACHED_SIGNATURE_SUFFIX);
            continue;
        }
        if (rc == 0)
            rc = zb_remote_upload(r, a->local_path);
        if (rc == ZB_EINTR)
            return rc;
        if (rc == 0) {
            if (report)
                fprintf(report, "sent         %s\n", a->name);
            continue;
        }
        (*pending)++;
        if (first_rc == 0) {
            first_rc = rc;
            zb_error_save(&first);
        } else {
            zb_log_last_error();
        }
    }
    return first_rc ? zb_error_raise(&first) : 0;
}

int zb_remote_sync_missing(zb_remote *r, const zb_retention_policy *policy, const char *repo, FILE *report,
                           long long *pending)
{
    *pending = 0;
    zb_repo_list local = {0};
    zb_remote_list remote = {0};
    known_archive *all = NULL;
    unsigned *keep = NULL;
    time_t *times = NULL;
    int rc = zb_remote_list_archives(&remote, r);
    if (rc == 0)
        rc = zb_repo_scan(&local, repo);
    size_t cap = local.count + remote.count + 1, n = 0;
    if (rc == 0 && (!(all = calloc(cap, sizeof(*all))) || !(keep = calloc(cap, sizeof(*keep))) ||
                    !(times = calloc(cap, sizeof(*times)))))
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0) {
        n = merge(all, &local, &remote);
        for (size_t i = 0; i < n; i++)
            times[i] = all[n - 1 - i].created;
        zb_retention_apply(keep, times, n, policy);
        rc = send_missing(r, all, keep, n, report, pending);
    }
    free(all);
    free(keep);
    free(times);
    zb_repo_list_free(&local);
    zb_remote_list_free(&remote);
    return rc;
}

int zb_remote_clean_unfinished(zb_remote *r, FILE *report)
{
    const zb_config_remote *conf = zb_remote_config(r);
    zb_remote_unfinished_list list;
    int rc = zb_remote_list_unfinished(&list, r);
    time_t now = time(NULL);
    for (size_t i = 0; rc == 0 && i < list.count; i++) {
        const zb_remote_unfinished *u = &list.items[i];
        char age[32];
        zb_format_duration(age, sizeof(age), u->started ? difftime(now, u->started) : 0);
        /* another host may still be sending a younger one (or one of unknown age) */
        if (!u->started || difftime(now, u->started) <= conf->unfinished_max_age) {
            zb_log_detail("remote %s: the upload of %s began %s ago; left alone", conf->name, u->name,
                          u->started ? age : "at an unknown time");
            continue;
        }
        if ((rc = zb_remote_abort_unfinished(r, u)) < 0)
            break;
        zb_log_info("remote %s: aborted the unfinished upload of %s (begun %s ago)", conf->name, u->name, age);
        if (report)
            fprintf(report, "aborted      %s  unfinished upload begun %s ago\n", u->name, age);
    }
    zb_remote_unfinished_list_free(&list);
    return rc;
}

/* ---- pending counts for the metrics ---- */

static struct {
    char *name;
    long long pending;
} noted[ZB_CONFIG_MAX_REMOTES];
static size_t noted_count;

void zb_remote_pending_note(const char *remote, long long pending)
{
    for (size_t i = 0; i < noted_count; i++)
        if (strcmp(noted[i].name, remote) == 0) {
            noted[i].pending = pending;
            return;
        }
    if (noted_count < ZB_CONFIG_MAX_REMOTES && (noted[noted_count].name = zb_strdup(remote)))
        noted[noted_count++].pending = pending;
}

size_t zb_remote_pending_noted(const char **names, long long *pending, size_t max)
{
    size_t n = noted_count < max ? noted_count : max;
    for (size_t i = 0; i < n; i++) {
        names[i] = noted[i].name;
        pending[i] = noted[i].pending;
    }
    return n;
}
