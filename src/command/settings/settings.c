#include "zakpos_backup/command/settings.h"
#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/config/settings.h"

#include <stdio.h>
#include <string.h>

static const char help[] =
    "usage: zakpos-backup settings (--markdown | --man)\n"
    "\n"
    "Prints the configuration keys of the settings table as docs/CONFIG.md\n"
    "(--markdown) and the manual page (--man) list them, between their\n"
    "settings:begin and settings:end markers.\n";

int zb_cmd_settings(zb_context *ctx, int argc, char **argv)
{
    (void)ctx;
    if (argc == 2 && strcmp(argv[1], "--markdown") == 0)
        zb_settings_write_markdown(stdout);
    else if (argc == 2 && strcmp(argv[1], "--man") == 0)
        zb_settings_write_man(stdout);
    else if (argc == 2 && strcmp(argv[1], "--help") == 0)
        fputs(help, stdout);
    else
        return zb_cli_usage_error("settings", "give --markdown or --man");
    return 0;
}
