#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/common/error.h"

#include <signal.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t interrupt_signal;
static volatile sig_atomic_t reload_signal;
static volatile sig_atomic_t hold_depth; /* written by the main thread only */
static struct timespec interrupt_time;   /* written once, before the flag */

static void on_terminate(int sig)
{
    if (!interrupt_signal)
        clock_gettime(CLOCK_MONOTONIC, &interrupt_time); /* async-signal-safe */
    interrupt_signal = sig;
}
static void on_hangup(int sig) { reload_signal = sig; }

void zb_signal_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: a blocking read returns EINTR so the flag is seen soon. */
    sa.sa_handler = on_terminate;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_hangup;
    sigaction(SIGHUP, &sa, NULL);
    /* A closed pipe or socket is reported as EPIPE by write(), not a kill. */
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

int zb_interrupted(void)
{
    if (interrupt_signal && hold_depth > 0 && zb_cleanup_seconds_left() > 0)
        return 0;
    return interrupt_signal;
}

void zb_signal_hold(void) { hold_depth++; }

void zb_signal_release(void)
{
    if (hold_depth > 0)
        hold_depth--;
}

int zb_check_interrupt(void)
{
    if (!zb_interrupted())
        return 0;
    return zb_error_set(ZB_EINTR, "interrupted by signal %d", (int)interrupt_signal);
}

double zb_cleanup_seconds_left(void)
{
    if (!interrupt_signal)
        return ZB_CLEANUP_SECONDS;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double age = (double)(now.tv_sec - interrupt_time.tv_sec) + (double)(now.tv_nsec - interrupt_time.tv_nsec) / 1e9;
    return age < ZB_CLEANUP_SECONDS ? ZB_CLEANUP_SECONDS - age : 0;
}

int zb_reload_requested(void)
{
    int was = reload_signal;
    reload_signal = 0;
    return was;
}

void zb_signal_reset_for_tests(void)
{
    interrupt_signal = 0;
    reload_signal = 0;
    hold_depth = 0;
}
