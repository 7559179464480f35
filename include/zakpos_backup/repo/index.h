/* The repository index: a small JSON file beside the archives
 * (.zakpos-backup-index.json) with what `list` shows without a key and what
 * retention must know: each archive's sources and size (written when the
 * backup publishes it) and the last restore verification (when verify
 * --restore or drill proved it restorable, or found it was not). Writers
 * hold an flock on .zakpos-backup-index.lock for the read-modify-write, so
 * a backup and a verification finishing together both land. The archives
 * stay the truth: an index entry without its archive is ignored, an archive
 * without an entry is simply not known to be verified. */
#ifndef ZB_REPO_INDEX_H
#define ZB_REPO_INDEX_H

#include "zakpos_backup/repo/repo.h"

#include <jansson.h>
#include <stdint.h>

#define ZB_REPO_INDEX_NAME ".zakpos-backup-index.json"

/* The index ({"format":1,"archives":{NAME:{...}}}); empty when there is none. */
int zb_repo_index_load(json_t **out, const char *repo);
/* The record of one archive (borrowed from index), or NULL. */
json_t *zb_repo_index_archive(json_t *index, const char *archive_name);

/* Sets archives[archive_name][KEY] = VALUE for each KEY: VALUE of fields, in
 * one locked read-modify-write (the reference to fields is taken). */
int zb_repo_index_set(const char *repo, const char *archive_name, json_t *fields);
/* What list shows of an archive: its sources and its size in bytes (the
 * reference to sources is taken). */
int zb_repo_index_describe(const char *repo, const char *archive_name, json_t *sources, uint64_t bytes);
/* Drops the records of archives that are gone (removed by prune or by hand). */
int zb_repo_index_forget_missing(const char *repo);

/* A verification result as recorded: {"at", "result", "how", "seconds",
 * "differences", "error"?} plus "last_pass" kept from earlier passes. */
int zb_repo_index_record_verification(const char *repo, const char *archive_name, json_t *report, const char *how);
/* When the archive last passed a restore verification (ISO text), or NULL. */
const char *zb_repo_index_last_pass(json_t *index, const char *archive_name);
/* The newest archive of list that passed a restore verification, or NULL. */
const zb_repo_archive *zb_repo_index_newest_verified(json_t *index, const zb_repo_list *list);

/* The repository folder and file name of an archive path. */
int zb_repo_split_path(char **repo, char **name, const char *archive_path);

#endif
