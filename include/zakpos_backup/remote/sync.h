/* Closing the gaps between a repository and a remote: every archive the
 * remote's retention would keep but the remote lacks (a copy that failed, a
 * remote added later) is sent, and unfinished uploads old enough that no
 * other host can still be sending them are aborted. Run after every backup
 * and by `remote sync NAME`. */
#ifndef ZB_REMOTE_SYNC_H
#define ZB_REMOTE_SYNC_H

#include "zakpos_backup/remote/remote.h"
#include "zakpos_backup/repo/retention.h"

#include <stdio.h>

/* Sends the archives of repo that policy keeps among the repository's and
 * the remote's archives together and that the remote lacks; one line per
 * archive sent to report when given. *pending: how many it still lacks
 * (sends that failed). Every missing archive is tried; the first failure
 * is returned. */
int zb_remote_sync_missing(zb_remote *r, const zb_retention_policy *policy, const char *repo, FILE *report,
                           long long *pending);
/* Aborts the unfinished uploads that started more than the remote's
 * unfinished_max_age ago; one line per upload to report when given. */
int zb_remote_clean_unfinished(zb_remote *r, FILE *report);

/* What this process learnt of each remote's gap, for the metrics of
 * `run JOB` (which runs backup in the same process). */
void zb_remote_pending_note(const char *remote, long long pending);
/* The noted counts; returns how many (at most max). */
size_t zb_remote_pending_noted(const char **names, long long *pending, size_t max);

#endif
