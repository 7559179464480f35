/* The `drill` command: a disaster-recovery rehearsal; see its --help text. */
#ifndef ZB_COMMAND_DRILL_H
#define ZB_COMMAND_DRILL_H

#include <jansson.h>
#include <stdio.h>

/* Runs the command; returns 0 or a negative zb error code (message set). */
int zb_cmd_drill(int argc, char **argv);

/* The drill report as Markdown (report.c). */
void zb_drill_write_markdown(FILE *out, json_t *report);

#endif
