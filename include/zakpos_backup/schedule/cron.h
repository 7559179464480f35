/* Cron expressions for the built-in scheduler: five fields (minute, hour,
 * day of month, month, day of week) with lists, ranges, steps and names, or
 * @yearly @annually @monthly @weekly @daily @midnight @hourly. As in Vixie
 * cron, when both day fields are restricted a day matching either one fires.
 * Next-fire times follow the local time zone (TZ) across DST changes: a job
 * at a fixed hour whose time is skipped fires once at the change; one whose
 * time occurs twice fires once, the first time; a job whose hour field is
 * "*" fires at every real instant that matches. */
#ifndef ZB_SCHEDULE_CRON_H
#define ZB_SCHEDULE_CRON_H

#include <stdint.h>
#include <time.h>

typedef struct zb_cron {
    uint64_t minutes; /* bit m: minute m (0-59) */
    uint32_t hours;   /* bit h: hour h (0-23) */
    uint32_t days;    /* bit d: day of month d (1-31) */
    uint16_t months;  /* bit m: month m (1-12) */
    uint8_t weekdays; /* bit w: day of week w (0 = Sunday) */
    int days_any;     /* the day-of-month field was "*" */
    int weekdays_any; /* the day-of-week field was "*" */
    int hours_any;    /* the hour field was "*" (or a step over all hours) */
} zb_cron;

/* Parses text; a bad expression gets ZB_ECONFIG with a message naming the
 * field and the reason. */
int zb_cron_parse(zb_cron *out, const char *text);
/* The first instant strictly after `after` when the expression fires;
 * ZB_ENOTFOUND if it never does within eight years (e.g. "0 0 30 2 *"). */
int zb_cron_next(time_t *next, const zb_cron *cron, time_t after);

#endif
