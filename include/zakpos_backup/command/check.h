/* The `check` command: see its --help text. */
#ifndef ZB_COMMAND_CHECK_H
#define ZB_COMMAND_CHECK_H

/* Runs the command; returns 0 or a negative zb error code (message set). */
int zb_cmd_check(int argc, char **argv);

#endif
