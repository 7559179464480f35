/* Offsite copies inside other commands: `backup` copies the archive it
 * published to the configured remotes and applies their retention, and
 * verify, restore, show and drill read an ARCHIVE given as remote:NAME/ARCHIVE
 * (or remote:NAME/latest) from a temporary download. */
#ifndef ZB_REMOTE_COPY_H
#define ZB_REMOTE_COPY_H

#include "zakpos_backup/config/config.h"
#include "zakpos_backup/remote/remote.h"

#include <stddef.h>

/* Loads the configuration (the global --config) into *config and opens its
 * remote `name`; ZB_ECONFIG naming the configured remotes if there is no
 * such one. The caller frees *config (zb_config_free) after the remote. */
int zb_remote_open_configured(zb_remote **out, zb_config *config, const char *name);

typedef struct zb_remote_plan zb_remote_plan;

/* The remotes a backup copies to: those named (each must be configured),
 * else every [remote NAME] of the configuration; none with `none`. Loads
 * the configuration, so a bad one fails before any work is done. */
int zb_remote_plan_new(zb_remote_plan **out, const char *const *names, size_t count, int none);
/* Copies the archive to each remote of the plan, then applies that
 * remote's retention (unless prune = no). Every remote is tried; the first
 * failure is returned. */
int zb_remote_plan_copy(zb_remote_plan *p, const char *archive_path);
void zb_remote_plan_free(zb_remote_plan *p);

typedef struct zb_remote_fetched zb_remote_fetched;

/* For verify, restore, show and drill: each argument remote:NAME/ARCHIVE is
 * downloaded to a private temporary folder ($TMPDIR, else /var/tmp) and
 * replaced in argv by the local file's path. */
int zb_remote_fetch_args(zb_remote_fetched **out, const char *command, int argc, char **argv);
/* What was downloaded last (remote:NAME/ARCHIVE) and the seconds all
 * downloads took; NULL and 0 when nothing was. */
const char *zb_remote_fetched_from(void);
double zb_remote_fetched_seconds(void);
/* Removes the downloaded files. NULL is fine. */
void zb_remote_fetched_free(zb_remote_fetched *f);

#endif
