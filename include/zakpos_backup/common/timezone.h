/* The time zone that schedules and retention buckets are read in. The C
 * library silently falls back to UTC for a zone it does not know, which
 * would move every run and every bucket; this module refuses such a name
 * first, and applies one zone the same way for prune, run and the daemon. */
#ifndef ZB_COMMON_TIMEZONE_H
#define ZB_COMMON_TIMEZONE_H

/* 0 if the C library knows `name`: a tzdata zone (under $TZDIR or
 * /usr/share/zoneinfo), UTC/GMT, or a POSIX rule such as "CET-1CEST";
 * otherwise ZB_ECONFIG with the reason. */
int zb_time_zone_check(const char *name);
/* Makes `name` the process's zone (TZ and tzset); NULL or "" restores the
 * zone the process started with. Checked first: on error nothing changes. */
int zb_time_zone_use(const char *name);
/* The current TZ (NULL: unset), to go back to it with _restore (which frees
 * it) when a change must not happen after all. */
char *zb_time_zone_save(void);
void zb_time_zone_restore(char *saved);
/* The zone in use, for messages: the TZ name, or "local time". */
const char *zb_time_zone_name(void);

#endif
