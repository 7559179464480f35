#include "zakpos_backup/config/validate.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/timezone.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int check_path(unsigned rules, const char *path, char *why, size_t why_size)
{
    if ((rules & ZB_VALUE_ABSOLUTE) && path[0] != '/')
        return snprintf(why, why_size,
                        "'%s' is a relative path; give an absolute one (a daemon or cron job runs in "
                        "another folder)",
                        path),
               -1;
    if (rules & ZB_VALUE_READABLE) {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
            return snprintf(why, why_size, "cannot read %s: %s", path, strerror(errno)), -1;
        struct stat st;
        int is_file = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
        close(fd);
        if (!is_file)
            return snprintf(why, why_size, "%s is not a file", path), -1;
    }
    return 0;
}

static int check_word(unsigned rules, const char *word, char *why, size_t why_size)
{
    if (rules & ZB_VALUE_HTTP_URL) {
        if (strncmp(word, "http://", 7) != 0 && strncmp(word, "https://", 8) != 0) {
            /* the URL often carries a token: name its scheme only */
            const char *colon = strstr(word, "://");
            return snprintf(why, why_size, "takes an http:// or https:// URL, not a %.*s one",
                            colon ? (int)(colon - word) : 0, word),
                   -1;
        }
        return 0;
    }
    if (rules & ZB_VALUE_ZONE) {
        if (zb_time_zone_check(word) < 0) {
            snprintf(why, why_size, "%s", zb_error_message());
            zb_error_clear();
            return -1;
        }
        return 0;
    }
    return check_path(rules, word, why, why_size);
}

int zb_config_check_value(unsigned rules, const char *value, char *why, size_t why_size)
{
    if (!value || !*value || !rules)
        return 0;
    if (!(rules & ZB_VALUE_LIST))
        return check_word(rules, value, why, why_size);
    char *copy = zb_strdup(value);
    if (!copy)
        return snprintf(why, why_size, "out of memory"), -1;
    int rc = 0;
    char *save = NULL;
    for (char *w = strtok_r(copy, " \t", &save); rc == 0 && w; w = strtok_r(NULL, " \t", &save))
        rc = check_word(rules, w, why, why_size);
    free(copy);
    return rc;
}
