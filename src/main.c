#include "zakpos_backup/command/table.h"

int main(int argc, char **argv) { return zb_command_main(argc, argv); }
