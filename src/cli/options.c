#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/parse.h"
#include "zakpos_backup/config/config.h"
#include "zakpos_backup/config/settings.h"

#include <limits.h>
#include <stdint.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int zb_strv_push(zb_strv *v, const char *item)
{
    if (v->count == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 4;
        const char **grown = realloc(v->items, (cap + 1) * sizeof(*grown)); /* + the NULL that ends it */
        if (!grown)
            return zb_error_set(ZB_ENOMEM, "out of memory");
        v->items = grown;
        v->cap = cap;
    }
    v->items[v->count++] = item;
    v->items[v->count] = NULL;
    return 0;
}

int zb_strv_push_words(zb_strv *v, char **copy, const char *list)
{
    if (!(*copy = zb_strdup(list ? list : "")))
        return zb_error_set(ZB_ENOMEM, "out of memory");
    int rc = 0;
    char *save = NULL;
    for (char *w = strtok_r(*copy, " \t", &save); rc == 0 && w; w = strtok_r(NULL, " \t", &save))
        rc = zb_strv_push(v, w);
    return rc;
}

void zb_strv_free(zb_strv *v)
{
    free(v->items);
    v->items = NULL;
    v->count = v->cap = 0;
}

int zb_cli_parse_int(int *out, const char *text, const char *option, int min, int max)
{
    long long value = 0;
    if (zb_parse_int(&value, text, min, max) < 0)
        return zb_error_set(ZB_EUSAGE, "%s takes a whole number from %d to %d, not '%s'", option, min, max, text);
    *out = (int)value;
    return 0;
}

int zb_cli_parse_size(size_t *out, const char *text, const char *option)
{
    unsigned long long value = 0;
    if (zb_parse_size(&value, text) < 0 || value > SIZE_MAX)
        return zb_error_set(ZB_EUSAGE, "%s takes a size such as 256K or 64M, not '%s'", option, text);
    *out = (size_t)value;
    return 0;
}

int zb_cli_parse_duration(int *seconds, const char *text, const char *option)
{
    long long value = 0;
    if (zb_parse_duration(&value, text, ZB_DURATION_MAX_SECONDS) < 0)
        return zb_error_set(ZB_EUSAGE, "%s takes a duration such as 90s, 15m, 26h or 7d, not '%s'", option, text);
    *seconds = (int)value;
    return 0;
}

int zb_cli_usage_error(const char *command, const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    zb_error_set(ZB_EUSAGE, "%s", message);
    return zb_error_hint("see 'zakpos-backup %s --help'", command);
}

int zb_cli_bad_option(const char *command, char **argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "?";
    return zb_cli_usage_error(command, "option '%s' is unknown or lacks its value", arg);
}

int zb_cli_read_keys_option(zb_read_keys *keys, int opt, const char *arg)
{
    switch (opt) {
    case ZB_SETTING_OPT(ZB_SET_KEY_FILE): keys->key_file = arg; return 1;
    case ZB_SETTING_OPT(ZB_SET_PASSPHRASE_FILE): keys->passphrase_file = arg; return 1;
    case ZB_SETTING_OPT(ZB_SET_TRUST):
        if (keys->trust_count == ZB_TRUST_MAX_FILES)
            return zb_error_set(ZB_EUSAGE, "at most %d --trust files", ZB_TRUST_MAX_FILES);
        keys->trust_files[keys->trust_count++] = arg;
        return 1;
    case ZB_SETTING_OPT(ZB_SET_ALLOW_UNTRUSTED):
        keys->allow_untrusted = 1;
        zb_log_warn("--allow-untrusted: archives that no trusted writer signed are read too");
        return 1;
    case ZB_SETTING_OPT(ZB_SET_ALLOW_UNENCRYPTED):
        keys->allow_unencrypted = 1;
        zb_log_warn("--allow-unencrypted: unencrypted archives are read although a key or passphrase was given");
        return 1;
    default: return 0;
    }
}

/* Space-separated file names of repository.trust, each copied here as a
 * string of its own. */
static char configured_trust[ZB_TRUST_MAX_FILES][PATH_MAX];

int zb_cli_read_keys_configured(zb_context *ctx, zb_read_keys *keys)
{
    return keys->key_file ? zb_cli_read_trust_configured(ctx, keys) : 0;
}

int zb_cli_read_trust_configured(zb_context *ctx, zb_read_keys *keys)
{
    const zb_config *c = NULL;
    int rc = zb_context_config(&c, ctx);
    if (rc < 0)
        return rc;
    const char *at = c->trust ? c->trust : "";
    size_t slot = 0;
    while (rc == 0 && *at) {
        size_t len = strcspn(at, " \t,");
        if (len > 0 && keys->trust_count == ZB_TRUST_MAX_FILES)
            rc = zb_error_set(ZB_ECONFIG, "repository.trust names more than %d signers", ZB_TRUST_MAX_FILES);
        else if (len >= PATH_MAX)
            rc = zb_error_set(ZB_ECONFIG, "repository.trust: a file name is too long");
        else if (len > 0) {
            memcpy(configured_trust[slot], at, len);
            configured_trust[slot][len] = '\0';
            keys->trust_files[keys->trust_count++] = configured_trust[slot++];
        }
        at += len;
        at += strspn(at, " \t,");
    }
    return rc;
}
