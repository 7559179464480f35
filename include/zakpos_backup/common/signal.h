/* SIGINT/SIGTERM only set a flag; long loops check it and return ZB_EINTR so
 * the ordinary cleanup path removes partial output and restarts containers. */
#ifndef ZB_COMMON_SIGNAL_H
#define ZB_COMMON_SIGNAL_H

void zb_signal_install(void);
/* Nonzero once SIGINT or SIGTERM arrived; the value is the signal number.
 * While held (below), 0 until the cleanup budget is spent. */
int zb_interrupted(void);
/* Work that must run to its end after a stop signal (the follower's
 * publication of the transactions it holds: cut off, they would be lost for
 * good once the server recycles their WAL) holds the signal; the signal is
 * seen again on release, or once zb_cleanup_seconds_left() reaches 0, which
 * bounds how long a stop can take. Pairs nest. */
void zb_signal_hold(void);
void zb_signal_release(void);
/* Returns ZB_EINTR with a message when interrupted, 0 otherwise. */
int zb_check_interrupt(void);
/* After a signal, the cleanup (containers started again, temporary objects
 * removed) gets this many seconds in all; work stops within
 * ZB_STOP_SECONDS. Both are documented, and the Compose service's
 * stop_grace_period is larger than their sum. */
#define ZB_STOP_SECONDS    2
#define ZB_CLEANUP_SECONDS 20
/* Seconds of the cleanup budget left (ZB_CLEANUP_SECONDS before any signal;
 * never below 0). */
double zb_cleanup_seconds_left(void);
/* Nonzero (and cleared) once SIGHUP arrived: the daemon reloads its config. */
int zb_reload_requested(void);
void zb_signal_reset_for_tests(void);

#endif
