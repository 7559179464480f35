#include "zakpos_backup/common/progress.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/timeutil.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Workers add bytes while the ticker draws: one lock keeps the line whole. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    int enabled;
    int active;
    const char *label;
    char phase[64];
    uint64_t total;
    uint64_t done;
    double started;
    double last_draw;
    pthread_t ticker;
    int ticking;
    int stop;
} bar;

void zb_progress_enable(int enabled) { bar.enabled = enabled && isatty(STDERR_FILENO) && !zb_log_is_json(); }

/* The line itself; called with the lock held. */
static void draw(double now)
{
    char done[32], total[32], rate[32], eta[32] = "?", took[32];
    double elapsed = now - bar.started;
    double per_second = elapsed > 0 ? (double)bar.done / elapsed : 0;
    zb_format_bytes(done, sizeof(done), bar.done);
    zb_format_bytes(rate, sizeof(rate), (uint64_t)per_second);
    zb_format_duration(took, sizeof(took), elapsed);
    if (bar.total > 0) {
        uint64_t shown = bar.done < bar.total ? bar.done : bar.total;
        int width = 24, filled = (int)((double)width * (double)shown / (double)bar.total);
        char line[32];
        for (int i = 0; i < width; i++)
            line[i] = i < filled ? '#' : '.';
        line[width] = '\0';
        zb_format_bytes(total, sizeof(total), bar.total);
        if (per_second > 0) /* the rate so far over what is left, in the bar's own unit */
            zb_format_duration(eta, sizeof(eta), (double)(bar.total - shown) / per_second);
        fprintf(stderr, "\r%s: %s [%s] %3d%% %s of %s, %s/s, ETA %s\033[K", bar.label, bar.phase, line,
                (int)(100.0 * (double)shown / (double)bar.total), done, total, rate, eta);
    } else if (bar.done > 0) {
        fprintf(stderr, "\r%s: %s %s, %s/s, %s\033[K", bar.label, bar.phase, done, rate, took);
    } else {
        fprintf(stderr, "\r%s: %s, %s\033[K", bar.label, bar.phase, took);
    }
    fflush(stderr);
    bar.last_draw = now;
}

/* Redraws once a second, so a phase that moves no bytes still shows that it
 * goes on and for how long. */
static void *tick(void *unused)
{
    (void)unused;
    for (;;) {
        usleep(100 * 1000);
        pthread_mutex_lock(&lock);
        int stop = bar.stop;
        double now = zb_time_monotonic();
        if (!stop && bar.active && now - bar.last_draw >= 1.0)
            draw(now);
        pthread_mutex_unlock(&lock);
        if (stop)
            return NULL;
    }
}

static void start_phase(const char *phase, uint64_t total_bytes)
{
    snprintf(bar.phase, sizeof(bar.phase), "%s", phase);
    bar.total = total_bytes;
    bar.done = 0;
    bar.started = zb_time_monotonic();
    draw(bar.started);
}

void zb_progress_begin(const char *label, uint64_t total_bytes)
{
    if (!bar.enabled)
        return;
    pthread_mutex_lock(&lock);
    bar.active = 1;
    bar.label = label;
    bar.stop = 0;
    start_phase("reading", total_bytes);
    pthread_mutex_unlock(&lock);
    if (!bar.ticking && pthread_create(&bar.ticker, NULL, tick, NULL) == 0)
        bar.ticking = 1;
}

void zb_progress_phase(const char *phase, uint64_t total_bytes)
{
    pthread_mutex_lock(&lock);
    if (bar.active)
        start_phase(phase, total_bytes);
    pthread_mutex_unlock(&lock);
}

void zb_progress_rename(const char *phase)
{
    pthread_mutex_lock(&lock);
    if (bar.active && strcmp(bar.phase, phase) != 0) {
        snprintf(bar.phase, sizeof(bar.phase), "%s", phase);
        draw(zb_time_monotonic());
    }
    pthread_mutex_unlock(&lock);
}

void zb_progress_add(uint64_t bytes)
{
    if (!bar.active)
        return;
    pthread_mutex_lock(&lock);
    bar.done += bytes;
    double now = zb_time_monotonic();
    if (bar.active && now - bar.last_draw >= 0.2)
        draw(now);
    pthread_mutex_unlock(&lock);
}

void zb_progress_end(void)
{
    if (!bar.active && !bar.ticking)
        return;
    pthread_mutex_lock(&lock);
    bar.stop = 1;
    if (bar.active) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
    bar.active = 0;
    pthread_mutex_unlock(&lock);
    if (bar.ticking) {
        pthread_join(bar.ticker, NULL);
        bar.ticking = 0;
    }
}
