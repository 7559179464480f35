/* A progress line on stderr with bytes, rate and (when the total is known)
 * a bar and ETA. Shown only when stderr is a terminal and logs are text: cron
 * jobs and the daemon never get one. One process-wide bar: the CLI runs one
 * long operation at a time. */
#ifndef ZB_COMMON_PROGRESS_H
#define ZB_COMMON_PROGRESS_H

#include <stdint.h>

void zb_progress_enable(int enabled);
void zb_progress_begin(const char *label, uint64_t total_bytes);
void zb_progress_add(uint64_t bytes);
/* Clears the line; the caller logs the summary. */
void zb_progress_end(void);

#endif
