/* The `latest` command: see its --help text. */
#ifndef ZB_COMMAND_LATEST_H
#define ZB_COMMAND_LATEST_H

/* Runs the command; returns 0 or a negative zb error code (message set). */
int zb_cmd_latest(int argc, char **argv);

#endif
