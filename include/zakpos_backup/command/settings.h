/* `settings` (not listed in --help): prints the settings table's key lists
 * as docs/CONFIG.md (--markdown) and the manual page (--man) hold them, so a
 * test can tell when the committed documents and the table disagree. */
#ifndef ZB_COMMAND_SETTINGS_H
#define ZB_COMMAND_SETTINGS_H

#include "zakpos_backup/config/context.h"

int zb_cmd_settings(zb_context *ctx, int argc, char **argv);

#endif
