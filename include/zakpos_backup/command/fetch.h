/* The `fetch` command: see its --help text. */
#ifndef ZB_COMMAND_FETCH_H
#define ZB_COMMAND_FETCH_H

/* Runs the command; returns 0 or a negative zb error code (message set). */
int zb_cmd_fetch(int argc, char **argv);

#endif
