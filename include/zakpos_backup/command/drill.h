/* The `drill` command: a disaster-recovery rehearsal; see its --help text. */
#ifndef ZB_COMMAND_DRILL_H
#define ZB_COMMAND_DRILL_H

#include "zakpos_backup/command/drill_pitr.h"
#include "zakpos_backup/restore/rehearse.h"
#include "zakpos_backup/config/context.h"

#include <jansson.h>
#include <stdio.h>

/* One smoke check as it ran in the restored database. */
typedef struct zb_drill_check {
    const char *name, *sql, *expect; /* the configuration's */
    char *got;                       /* the query's result as text, or NULL */
    char *error;                     /* why it could not run, or NULL */
    int passed;
    int timed;
    double seconds;
} zb_drill_check;

/* What a drill found: the rehearsal, the smoke checks, the recovery time. */
typedef struct zb_drill_report {
    const zb_rehearsal *rehearsal;
    zb_drill_check *checks;
    size_t check_count;
    int checks_ran; /* the rehearsal got as far as the checks */
    double checks_seconds;
    double rto_seconds;        /* fetch, read and decrypt, restore */
    double total_seconds;      /* the whole drill, checks included */
    const char *fetched_from;  /* a remote the archive came from, or NULL */
    const zb_drill_pitr *pitr; /* drill --until, or NULL */
} zb_drill_report;

/* A drill: the rehearsal's options (keys, scratch targets), the archive
 * (NULL or "latest": the repository's newest) and where the report goes. */
typedef struct zb_drill_request {
    zb_rehearse_options ro;
    const char *archive;
    const char *repo;        /* NULL: repository.path */
    const char *report_file; /* NULL: stdout */
    int as_json;
    /* --until or --until-lsn (pitr.wanted): archives are every ARCHIVE
     * given (none: the repository's), the start chosen among them */
    zb_drill_pitr pitr;
    const char *const *archives;
    size_t archive_count;
} zb_drill_request;

/* Rehearses the restore, runs the smoke checks and writes the report. */
int zb_drill_run(zb_context *ctx, const zb_drill_request *req);

/* Runs the command; returns 0 or a negative zb error code (message set). */
int zb_cmd_drill(zb_context *ctx, int argc, char **argv);

/* The drill report as Markdown (report.c). */
void zb_drill_write_markdown(FILE *out, const zb_drill_report *report);

/* Reports shared by drill and recover (report.c): file NULL: Markdown (or
 * the JSON with as_json) on stdout; else FILE.md and FILE.json (a FILE
 * ending in either names that one), its folder made if missing. */
typedef void (*zb_report_markdown_fn)(FILE *out, const void *report);
/* report is the JSON; markdown_of what the Markdown writer reads (the same
 * JSON, or the struct it was made from). */
int zb_report_write(json_t *report, const char *file, int as_json, zb_report_markdown_fn markdown,
                    const void *markdown_of, const char *what);
/* A Markdown table cell ("| value "), '|' and newlines escaped. */
void zb_report_cell(FILE *out, const char *value);
const char *zb_report_duration(char *buf, size_t size, double seconds);

#endif
