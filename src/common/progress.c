#include "zakpos_backup/common/progress.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/timeutil.h"

#include <stdio.h>
#include <unistd.h>

static struct {
    int enabled;
    int active;
    const char *label;
    uint64_t total;
    uint64_t done;
    double started;
    double last_draw;
} bar;

void zb_progress_enable(int enabled) { bar.enabled = enabled && isatty(STDERR_FILENO) && !zb_log_is_json(); }

void zb_progress_begin(const char *label, uint64_t total_bytes)
{
    bar.active = bar.enabled;
    bar.label = label;
    bar.total = total_bytes;
    bar.done = 0;
    bar.started = bar.last_draw = zb_time_monotonic();
}

static void draw(double now)
{
    char done[32], rate[32], eta[32] = "";
    double elapsed = now - bar.started;
    double per_second = elapsed > 0 ? (double)bar.done / elapsed : 0;
    zb_format_bytes(done, sizeof(done), bar.done);
    zb_format_bytes(rate, sizeof(rate), (uint64_t)per_second);
    if (bar.total > 0 && bar.done <= bar.total) {
        int width = 24, filled = (int)((double)width * (double)bar.done / (double)bar.total);
        char line[32];
        for (int i = 0; i < width; i++)
            line[i] = i < filled ? '#' : '.';
        line[width] = '\0';
        if (per_second > 0)
            zb_format_duration(eta, sizeof(eta), (double)(bar.total - bar.done) / per_second);
        fprintf(stderr, "\r%s [%s] %3d%% %s %s/s ETA %s\033[K", bar.label, line,
                (int)(100.0 * (double)bar.done / (double)bar.total), done, rate, eta);
    } else {
        fprintf(stderr, "\r%s %s %s/s\033[K", bar.label, done, rate);
    }
    fflush(stderr);
}

void zb_progress_add(uint64_t bytes)
{
    if (!bar.active)
        return;
    bar.done += bytes;
    double now = zb_time_monotonic();
    if (now - bar.last_draw >= 0.2) {
        bar.last_draw = now;
        draw(now);
    }
}

void zb_progress_end(void)
{
    if (!bar.active)
        return;
    fprintf(stderr, "\r\033[K");
    fflush(stderr);
    bar.active = 0;
}
