/* The command table and the program's entry: global options, the table of
 * commands (name, summary, run function, what the command reads), help,
 * dispatch, and the mapping from the final error code to the exit status.
 * A new command is a folder src/command/<name>/ and one entry here. */
#ifndef ZB_COMMAND_TABLE_H
#define ZB_COMMAND_TABLE_H

int zb_command_main(int argc, char **argv);

#endif
