/* `settings` (not listed in --help): prints the settings table's key lists
 * as docs/CONFIG.md (--markdown) and the manual page (--man) hold them, so a
 * test can tell when the committed documents and the table disagree. */
#ifndef ZB_COMMAND_SETTINGS_H
#define ZB_COMMAND_SETTINGS_H

#include "zakpos_backup/config/context.h"

/* Which document's list to print. */
typedef enum zb_settings_format {
    ZB_SETTINGS_MARKDOWN, /* docs/CONFIG.md */
    ZB_SETTINGS_MAN,      /* docs/man/zakpos-backup.1 */
} zb_settings_format;

typedef struct zb_settings_request {
    zb_settings_format format;
} zb_settings_request;

/* Prints the list on stdout (even in quiet mode: it is the whole output). */
int zb_settings_run(zb_context *ctx, const zb_settings_request *req);

/* The command line into a request, then zb_settings_run. */
int zb_cmd_settings(zb_context *ctx, int argc, char **argv);

#endif
