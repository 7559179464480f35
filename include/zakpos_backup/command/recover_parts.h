/* The pieces of `recover`: its journal (what an interrupted recovery did,
 * so the next one finishes it), the stack's containers, the dry run, and
 * the report. One file each under src/command/recover/. */
#ifndef ZB_COMMAND_RECOVER_PARTS_H
#define ZB_COMMAND_RECOVER_PARTS_H

#include "zakpos_backup/command/recover.h"
#include "zakpos_backup/source/docker/client.h"

#include <jansson.h>
#include <stdio.h>

#define ZB_RECOVER_JOURNAL_NAME "recover.json"

/* The journal: <state folder>/recover.json, written (atomically) before each
 * step that changes something and after each that completed. Its
 * existence says a recovery is unfinished. */
typedef struct zb_recover_journal {
    char *path;
    json_t
        *doc; /* {"archive", "parts": {"KIND/NAME": "started"|"done"}, "containers": [...], "roles_created": [...]} */
} zb_recover_journal;

/* Loads the journal of an unfinished recovery of the same archive, else
 * starts one; an unfinished recovery of another archive is an error. */
int zb_recover_journal_open(zb_recover_journal *j, const char *archive_name, int *resumed);
int zb_recover_journal_save(zb_recover_journal *j);
/* NULL, "started" or "done". */
const char *zb_recover_journal_part(const zb_recover_journal *j, const char *kind, const char *name);
int zb_recover_journal_set_part(zb_recover_journal *j, const char *kind, const char *name, const char *state);
/* The recovery is complete: the journal goes. */
int zb_recover_journal_finish(zb_recover_journal *j);
void zb_recover_journal_free(zb_recover_journal *j);

/* The stack: running containers that use a volume of docker.volumes, and
 * the other containers of their Compose projects (recover.compose_project
 * adds one), but not the database server's (it mounts zakpos_postgres_data):
 * the recovery needs it running. A new reference in *out: [{id, name}]. */
int zb_recover_stack_find(json_t **out, zb_docker *d, const zb_config *c);
/* Stops them, each written to the journal before it is stopped. */
int zb_recover_stack_stop(zb_recover_journal *j, zb_docker *d, json_t *containers);
/* Starts every container the journal holds, waits for each to run and for
 * its health check to pass (timeout in seconds), and removes it from the
 * journal. report gets [{name, health, seconds}]. */
int zb_recover_stack_start(zb_recover_journal *j, zb_docker *d, int timeout, json_t *report);

/* The dry run. */
int zb_recover_plan(const zb_recover_request *req, const zb_config *c, const char *archive);

/* Compose file volumes: the keys under the top-level `volumes:` and their
 * `name:` values, for the dry run (a new reference: {key: name}). */
int zb_recover_compose_volumes(json_t **out, const char *compose_file);

/* The report as Markdown (beside the drill's, through its helpers). */
void zb_recover_write_markdown(FILE *out, const void *report);

#endif
