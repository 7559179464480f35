/* The `drill` command: a disaster-recovery rehearsal; see its --help text. */
#ifndef ZB_COMMAND_DRILL_H
#define ZB_COMMAND_DRILL_H

#include <jansson.h>
#include <stdio.h>

/* Runs the command; returns 0 or a negative zb error code (message set). */
int zb_cmd_drill(int argc, char **argv);

/* The drill report as Markdown (report.c). */
void zb_drill_write_markdown(FILE *out, json_t *report);

/* Reports shared by drill and recover (report.c): file NULL: Markdown (or
 * the JSON with as_json) on stdout; else FILE.md and FILE.json (a FILE
 * ending in either names that one), its folder made if missing. */
typedef void (*zb_report_markdown_fn)(FILE *out, json_t *report);
int zb_report_write(json_t *report, const char *file, int as_json, zb_report_markdown_fn markdown, const char *what);
/* A Markdown table cell ("| value "), '|' and newlines escaped. */
void zb_report_cell(FILE *out, const char *value);
const char *zb_report_duration(char *buf, size_t size, double seconds);

#endif
