/* The `recover` command: the whole host back from one archive, in order:
 * fetch and check the archive, stop the stack's containers, the cluster
 * globals and the database, the volumes, the host paths, start the stack,
 * smoke checks, a report with the recovery time by phase. `recover --plan`
 * says what it would do and what blocks it. See its --help text. */
#ifndef ZB_COMMAND_RECOVER_H
#define ZB_COMMAND_RECOVER_H

#include "zakpos_backup/archive/keys.h"
#include "zakpos_backup/config/context.h"

#include <stddef.h>

/* What one recovery does; the argv parser fills it, and so may anything
 * that builds a command from the configuration. NULL fields take the
 * configuration's value. */
typedef struct zb_recover_request {
    zb_read_keys keys;
    const char *archive;      /* a path, or "latest" (NULL too); remote:NAME/... arrives downloaded */
    const char *fetched_from; /* remote:NAME/ARCHIVE when it was downloaded, else NULL */
    double fetch_seconds;     /* the download's time, the recovery's first phase */
    const char *repo;         /* for "latest" (default: repository.path) */
    const char *pg_conninfo;  /* the server to recover into (default: postgres.conninfo) */
    const char *pg_password_file;
    int pg_jobs;
    const char *docker_host;
    const char *const *paths; /* NAME=DIR: where a path source goes instead of [paths] */
    size_t path_count;
    int force;               /* replace existing volumes, folders and a non-empty database */
    int plan;                /* only say what would be done and what blocks it */
    const char *report_file; /* FILE.md and FILE.json; NULL: Markdown on stdout */
    int as_json;
} zb_recover_request;

/* Resolves the archive ("latest": the repository's newest, else the first
 * remote's), takes the key from the configuration when none is given, and
 * recovers; the command line and any other caller start here. */
int zb_recover_run(zb_context *ctx, const zb_recover_request *req);
/* The phases themselves, for a request whose archive is a local path. */
int zb_recover_phases(const zb_recover_request *req, const zb_config *config);

/* The command line: parses argv into a request and runs it. */
int zb_cmd_recover(zb_context *ctx, int argc, char **argv);

#endif
