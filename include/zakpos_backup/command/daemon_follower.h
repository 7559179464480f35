/* The daemon's follower service ([follow] enabled = yes): `follow` kept
 * running as a child process (restarted after it exits, backing off), and
 * the slot watcher, which reads the slot every few seconds even while the
 * follower is down, records the lag (metrics textfile, daemon.state_dir for
 * healthcheck) and drops the slot past follow.slot_max_wal_size or
 * follow.slot_max_age, logged and notified: the host's disk comes first. */
#ifndef ZB_COMMAND_DAEMON_FOLLOWER_H
#define ZB_COMMAND_DAEMON_FOLLOWER_H

#include "zakpos_backup/config/config.h"
#include "zakpos_backup/source/pg/pitr/watch.h"

#include <sys/types.h>

/* How long a stopping follower may take to publish what it holds before it
 * is killed (docs/DESIGN.md). */
#define ZB_FOLLOWER_STOP_SECONDS  30
#define ZB_FOLLOWER_WATCH_SECONDS 5

typedef struct zb_follower_service {
    const zb_config *config; /* the daemon's current configuration (borrowed) */
    const char *self, *config_file;
    pid_t pid;    /* the running follower, or 0 */
    int failures; /* exits in a row, for the backoff */
    double started, next_start, next_watch;
    zb_pitr_watch watch;
} zb_follower_service;

/* Starts `self [--config FILE] follow` in a child, as the daemon starts runs. */
pid_t zb_daemon_spawn(const char *self, const char *config_file, const char *const *args, int random_delay);

void zb_follower_service_init(zb_follower_service *s, const char *self, const char *config_file);
/* Once per daemon loop: watches the slot when due, starts the follower when
 * due (follow.enabled). */
void zb_follower_service_tick(zb_follower_service *s);
/* 1 if pid was the follower (its exit logged, its restart planned). */
int zb_follower_service_reaped(zb_follower_service *s, pid_t pid, int status);
/* SIGHUP: a new configuration (kept by the caller); the follower is
 * restarted to read it, or stopped when follow.enabled became no. */
void zb_follower_service_reload(zb_follower_service *s, const zb_config *config);
/* SIGTERM, then up to ZB_FOLLOWER_STOP_SECONDS, then SIGKILL. */
void zb_follower_service_stop(zb_follower_service *s);

#endif
