#include "zakpos_backup/cli/cli.h"

int main(int argc, char **argv) { return zb_cli_main(argc, argv); }
