/* A repository: a folder of archives named <name>-<UTC stamp>.zbk. This
 * module finds them (oldest first), resolves the newest, and holds the
 * one-run-at-a-time lock, an flock that the kernel drops when a run dies. */
#ifndef ZB_REPO_REPO_H
#define ZB_REPO_REPO_H

#include <stddef.h>
#include <time.h>

typedef struct zb_repo_archive {
    char *name;     /* file name, e.g. zakpos-20261124T020000Z.zbk */
    char *path;     /* repo/name */
    time_t created; /* from the name's UTC stamp */
} zb_repo_archive;

typedef struct zb_repo_list {
    zb_repo_archive *items;
    size_t count;
} zb_repo_list;

/* 1 if name is a finished archive's file name (not hidden, the archive
 * extension, a valid UTC stamp), with *created set from the stamp; 0 if not. */
int zb_repo_archive_name_time(time_t *created, const char *name);
/* Oldest first: by stamp, then NAME-STAMP before NAME-STAMP-2, -3...
 * (archives made within one second), then by name. */
int zb_repo_archive_order(const char *a_name, time_t a_created, const char *b_name, time_t b_created);
/* Archives in repo, oldest first; names without a valid stamp are skipped. */
int zb_repo_scan(zb_repo_list *out, const char *repo);
void zb_repo_list_free(zb_repo_list *list);
/* Path of the newest archive (free()), ZB_ENOTFOUND if there is none. */
int zb_repo_latest(char **path, const char *repo);

typedef struct zb_repo_lock zb_repo_lock;
/* Takes the repository's lock, waiting up to wait_seconds (0: not at all)
 * while another run holds it and saying once whom it waits for; then fails
 * with ZB_ELOCKED naming the holder. Only commands that change the
 * repository take it: list, healthcheck and prune --dry-run read without. */
int zb_repo_lock_take(zb_repo_lock **out, const char *repo, int wait_seconds);
/* The same lock on another file: a chain's (pitr/<chain>.lock), which its
 * follower holds while it writes and prune while it removes the chain;
 * `what` names it in messages ("chain X"). */
int zb_repo_lock_take_file(zb_repo_lock **out, const char *path, const char *what, int wait_seconds);
void zb_repo_lock_release(zb_repo_lock *lock);
/* Under the lock: removes the hidden temporary archives (".partial") of
 * runs that died, logging each; those of live writers are kept. */
int zb_repo_sweep_partials(const char *repo);

#endif
