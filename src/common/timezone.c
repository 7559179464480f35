#include "zakpos_backup/common/timezone.h"
#include "zakpos_backup/common/error.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A POSIX rule names its standard time (three letters or more, or <...>)
 * and then must give an offset: "UTC0", "CET-1CEST,M3.5.0,M10.5.0/3". */
static int is_posix_rule(const char *s)
{
    const char *p = s;
    if (*p == '<') {
        p = strchr(p, '>');
        if (!p)
            return 0;
        p++;
    } else {
        while (isalpha((unsigned char)*p))
            p++;
        if (p - s < 3)
            return 0;
    }
    if (*p == '+' || *p == '-')
        p++;
    return isdigit((unsigned char)*p);
}

static int is_tzdata_file(const char *name)
{
    const char *dir = getenv("TZDIR");
    char path[4096];
    if (name[0] == '/')
        snprintf(path, sizeof(path), "%s", name);
    else if (snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name) >=
             (int)sizeof(path))
        return 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    char magic[4] = {0};
    size_t n = fread(magic, 1, sizeof(magic), f);
    fclose(f);
    return n == sizeof(magic) && memcmp(magic, "TZif", 4) == 0;
}

int zb_time_zone_check(const char *name)
{
    const char *n = name && name[0] == ':' ? name + 1 : name;
    if (!n || !*n)
        return zb_error_set(ZB_ECONFIG, "an empty time zone name");
    if (strcmp(n, "UTC") == 0 || strcmp(n, "GMT") == 0 || strcmp(n, "Etc/UTC") == 0)
        return 0;
    if (!strstr(n, "..") && is_tzdata_file(n))
        return 0;
    if (is_posix_rule(n))
        return 0;
    zb_error_set(ZB_ECONFIG, "unknown time zone '%s'", name);
    return zb_error_hint(
        "use a name from the tz database such as Europe/Berlin or UTC (is the tzdata package installed?)");
}

/* TZ as the process found it, kept so that a configuration without a zone
 * (or a reload that drops it) goes back to it. */
static int started_saved;
static char *started_tz;

int zb_time_zone_use(const char *name)
{
    if (!started_saved) {
        const char *tz = getenv("TZ");
        started_tz = tz ? strdup(tz) : NULL;
        started_saved = 1;
    }
    if (name && *name) {
        int rc = zb_time_zone_check(name);
        if (rc < 0)
            return rc;
        setenv("TZ", name, 1);
    } else if (started_tz) {
        setenv("TZ", started_tz, 1);
    } else {
        unsetenv("TZ");
    }
    tzset();
    return 0;
}

char *zb_time_zone_save(void)
{
    const char *tz = getenv("TZ");
    return tz ? strdup(tz) : NULL;
}

void zb_time_zone_restore(char *saved)
{
    if (saved)
        setenv("TZ", saved, 1);
    else
        unsetenv("TZ");
    tzset();
    free(saved);
}

const char *zb_time_zone_name(void)
{
    const char *tz = getenv("TZ");
    return tz && *tz ? tz : "local time";
}
