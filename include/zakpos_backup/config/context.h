/* What every command is handed: the configuration, read once on first use
 * (a command that needs none never reads it, so a broken file cannot stop
 * keygen or show), and where the command's results go: stdout, or nowhere
 * in quiet mode (a cron job prints nothing on success). `run` hands the
 * configured state folder and Docker engine to the sources (common/place.h);
 * the other commands keep reading them from the environment, as documented. */
#ifndef ZB_CONFIG_CONTEXT_H
#define ZB_CONFIG_CONTEXT_H

#include "zakpos_backup/config/config.h"

/* An ARCHIVE argument given as remote:NAME/ARCHIVE: the command table
 * downloads it before a command flagged as reading one runs, and the
 * command takes the download's path from here (its argv is left as given). */
typedef struct zb_context_download {
    const char *spec;  /* the argument as given, or NULL: nothing downloaded */
    const char *local; /* the downloaded file (removed when the command ends) */
    const char *from;  /* remote:NAME/ARCHIVE with `latest` resolved */
    double seconds;    /* the download's time: a recovery's first phase */
} zb_context_download;

typedef struct zb_context {
    const char *config_file; /* the global --config FILE, or NULL: the default places */
    int quiet;               /* results are not printed */
    zb_config config;
    int config_loaded;
    zb_context_download download; /* borrowed from the command table */
} zb_context;

void zb_context_init(zb_context *ctx, const char *config_file);
/* The configuration, loaded the first time it is asked for; a failed load
 * is tried again (and fails again, with its file:line message) next time. */
int zb_context_config(const zb_config **out, zb_context *ctx);
/* The file read again into out, for the daemon's reload on SIGHUP: it keeps
 * the schedule it has unless all of the new one is good, so the context's
 * copy is left alone. The caller frees out. */
int zb_context_config_fresh(zb_config *out, const zb_context *ctx);
/* The file an ARCHIVE argument names: the download of arg when the command
 * table fetched it (remote:NAME/ARCHIVE), else arg itself. */
const char *zb_context_archive(const zb_context *ctx, const char *arg);
/* A command's result on stdout, unless quiet. */
void zb_context_print(const zb_context *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void zb_context_free(zb_context *ctx);

#endif
