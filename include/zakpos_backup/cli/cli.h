/* The command line: global options, the command table, help, dispatch, and the
 * mapping from the final error code to the process exit status. */
#ifndef ZB_CLI_CLI_H
#define ZB_CLI_CLI_H

int zb_cli_main(int argc, char **argv);

#endif
