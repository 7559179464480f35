/* The `prune` command: see its --help text. */
#ifndef ZB_COMMAND_PRUNE_H
#define ZB_COMMAND_PRUNE_H

/* Runs the command; returns 0 or a negative zb error code (message set). */
int zb_cmd_prune(int argc, char **argv);

#endif
