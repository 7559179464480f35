/* The `remote` command (list, push, delete, prune on a configured remote):
 * see its --help text. */
#ifndef ZB_COMMAND_REMOTE_H
#define ZB_COMMAND_REMOTE_H

/* Runs the command; returns 0 or a negative zb error code (message set). */
int zb_cmd_remote(int argc, char **argv);

#endif
