/* `daemon`: the built-in scheduler. Runs the configured jobs on their cron
 * schedules, each run a child process (`run JOB`) so a crash cannot take the
 * scheduler down; never two runs of one job at once; SIGTERM/SIGINT end the
 * current runs cleanly (they remove partial archives and restart services)
 * and then the daemon; SIGHUP reloads the configuration. */
#ifndef ZB_COMMAND_DAEMON_H
#define ZB_COMMAND_DAEMON_H

#include "zakpos_backup/config/context.h"

int zb_cmd_daemon(zb_context *ctx, int argc, char **argv);

typedef struct zb_daemon_request {
    const char *self;      /* the program each run starts: `self run JOB` */
    const char *lock_wait; /* --lock-wait as given, handed to each run; NULL: daemon.lock_wait */
} zb_daemon_request;

/* Runs the configured jobs on their schedules until a signal stops it. */
int zb_daemon_run(zb_context *ctx, const zb_daemon_request *req);

#endif
