#include "zakpos_backup/cli/cli.h"
#include <stdio.h>
int zb_cli_main(int argc, char **argv) { (void)argc; (void)argv; puts("zakpos-backup"); return 0; }
