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

int zb_settings_run(zb_context *ctx, const zb_settings_request *req)
{
    (void)ctx; /* the table is compiled in: no configuration is read */
    if (req->format == ZB_SETTINGS_MAN)
        zb_settings_write_man(stdout);
    else
        zb_settings_write_markdown(stdout);
    return 0;
}

int zb_cmd_settings(zb_context *ctx, int argc, char **argv)
{
    zb_settings_request req = {ZB_SETTINGS_MARKDOWN};
    if (argc == 2 && strcmp(argv[1], "--markdown") == 0)
        req.format = ZB_SETTINGS_MARKDOWN;
    else if (argc == 2 && strcmp(argv[1], "--man") == 0)
        req.format = ZB_SETTINGS_MAN;
    else if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        fputs(help, stdout);
        return 0;
    } else
        return zb_cli_usage_error("settings", "give --markdown or --man");
    return zb_settings_run(ctx, &req);
}
