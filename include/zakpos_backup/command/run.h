/* `run JOB`: one job of the configuration, once, for system cron or a
 * systemd timer: silent on success (unless --verbose), one clear line and a
 * documented exit status on failure, and the metrics textfile updated. */
#ifndef ZB_COMMAND_RUN_H
#define ZB_COMMAND_RUN_H

#include "zakpos_backup/config/context.h"

int zb_cmd_run(zb_context *ctx, int argc, char **argv);

#endif
