/* Value parsers shared by the command line, the configuration file and the
 * remote sections: whole numbers with a range, sizes with a unit, durations,
 * yes/no, and one word of a fixed list. They only parse and return 0 or -1;
 * the caller words the error, since a flag, a file line and an environment
 * variable each name the culprit differently. */
#ifndef ZB_COMMON_PARSE_H
#define ZB_COMMON_PARSE_H

#include <stddef.h>

/* The longest duration a setting takes anywhere (a duration's own range is
 * checked after): a limit that keeps seconds within an int. */
#define ZB_DURATION_MAX_SECONDS (400LL * 86400)

/* A decimal whole number from min to max, nothing after it. */
int zb_parse_int(long long *out, const char *text, long long min, long long max);
/* "1048576", "256K", "64M", "1G", "64MiB", "5MB" (K, M, G are powers of
 * 1024); -1 on a sign, an unknown unit or a result past 2^64 - 1. */
int zb_parse_size(unsigned long long *out, const char *text);
/* "90", "90s", "15m", "26h", "7d" into seconds, from 0 to max_seconds. */
int zb_parse_duration(long long *seconds, const char *text, long long max_seconds);
/* yes/no, true/false, on/off, 1/0 in any case. */
int zb_parse_bool(int *out, const char *text);
/* The index of text among names[0..count-1], compared exactly. */
int zb_parse_enum(int *out, const char *text, const char *const *names, size_t count);

#endif
