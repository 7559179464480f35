/* Offsite copies inside other commands: `backup` copies the archive it
 * published to the configured remotes and applies their retention, and
 * verify, restore, show and drill read an ARCHIVE given as remote:NAME/ARCHIVE
 * (or remote:NAME/latest) from a temporary download. */
#ifndef ZB_REMOTE_COPY_H
#define ZB_REMOTE_COPY_H

#include "zakpos_backup/config/config.h"
#include "zakpos_backup/remote/remote.h"

#include <stddef.h>

/* Opens the remote `name` of the configuration; ZB_ECONFIG naming the
 * configured remotes if there is no such one. */
int zb_remote_open_configured(zb_remote **out, const zb_config *config, const char *name);

typedef struct zb_remote_plan zb_remote_plan;

/* The remotes a backup copies to: those named (each must be configured),
 * else every [remote NAME] of the configuration; none with `none` (config
 * may then be NULL). The plan points into config, which outlives it. */
int zb_remote_plan_new(zb_remote_plan **out, const zb_config *config, const char *const *names, size_t count, int none);
/* Copies the archive to each remote of the plan, then applies that
 * remote's retention (unless prune = no). Every remote is tried; the first
 * failure is returned. */
int zb_remote_plan_copy(zb_remote_plan *p, const char *archive_path);
void zb_remote_plan_free(zb_remote_plan *p);

typedef struct zb_remote_fetched zb_remote_fetched;

/* Whether a command's argument names an archive on a remote:
 * remote:NAME/ARCHIVE. Which commands read such arguments is a property of
 * the command table (command/table.c). */
int zb_remote_is_archive_spec(const char *arg);
/* Downloads remote:NAME/ARCHIVE (or remote:NAME/latest) of the
 * configuration into a private temporary folder ($TMPDIR, else /var/tmp),
 * made on the first download into *f; *local is the file's path, owned by *f. */
int zb_remote_fetch_archive(zb_remote_fetched **f, const zb_config *config, const char *spec, const char **local);
/* What f downloaded last (remote:NAME/ARCHIVE, latest resolved) and the
 * seconds all its downloads took; NULL and 0 when nothing was (f NULL). */
const char *zb_remote_fetched_from(const zb_remote_fetched *f);
double zb_remote_fetched_seconds(const zb_remote_fetched *f);
/* Removes the downloaded files. NULL is fine. */
void zb_remote_fetched_free(zb_remote_fetched *f);

#endif
