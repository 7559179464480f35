/* Clocks and time formats: a monotonic clock for durations, UTC stamps for
 * archive names and manifests, and human sizes/durations for messages. */
#ifndef ZB_COMMON_TIMEUTIL_H
#define ZB_COMMON_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

double zb_time_monotonic(void);
/* "2026-11-24T18:34:00Z" */
void zb_time_format_iso(char *out, size_t size, time_t t);
/* "20261124T183400Z", the form used in archive names. */
void zb_time_format_compact(char *out, size_t size, time_t t);
/* Parses either form above; returns 0 or ZB_EFAIL. */
int zb_time_parse_utc(time_t *out, const char *text);
/* "1.5 GiB", "312 KiB", "17 B" */
void zb_format_bytes(char *out, size_t size, uint64_t bytes);
/* "1h02m03s", "4.2s" */
void zb_format_duration(char *out, size_t size, double seconds);

#endif
