/* The `verify` command: see its --help text and docs/USER_GUIDE.md. */
#ifndef ZB_COMMAND_VERIFY_H
#define ZB_COMMAND_VERIFY_H

/* Runs the command; returns 0 or a negative zb error code (message set). */
int zb_cmd_verify(int argc, char **argv);

#endif
