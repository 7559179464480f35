#include "zakpos_backup/config/remote.h"
#include "zakpos_backup/config/config.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/parse.h"
#include "zakpos_backup/config/validate.h"

#include <stdlib.h>
#include <string.h>

#define KEEP_RULES_TEXT "keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly, keep_within"

typedef enum { R_STRING, R_INT, R_BOOL, R_SIZE, R_SECONDS } remote_key_type;

typedef struct remote_key {
    const char *key;
    remote_key_type type;
    size_t offset;
    long long min, max;
} remote_key;

#define AT(field) offsetof(zb_config_remote, field)

static const remote_key remote_keys[] = {
    {"type", R_STRING, AT(type), 0, 0},
    {"url", R_STRING, AT(url), 0, 0},
    {"endpoint", R_STRING, AT(endpoint), 0, 0},
    {"bucket", R_STRING, AT(bucket), 0, 0},
    {"region", R_STRING, AT(region), 0, 0},
    {"prefix", R_STRING, AT(prefix), 0, 0},
    {"path_style", R_BOOL, AT(path_style), 0, 1},
    {"profile", R_STRING, AT(profile), 0, 0},
    {"credentials_file", R_STRING, AT(credentials_file), 0, 0},
    {"part_size", R_SIZE, AT(part_size), ZB_REMOTE_PART_SIZE_MIN, 5ll * 1024 * 1024 * 1024},
    {"list_chunk", R_INT, AT(list_chunk), 1, 1000},
    {"user", R_STRING, AT(user), 0, 0},
    {"password_file", R_STRING, AT(password_file), 0, 0},
    {"key_file", R_STRING, AT(key_file), 0, 0},
    {"known_hosts", R_STRING, AT(known_hosts), 0, 0},
    {"retries", R_INT, AT(retries), 0, 20},
    {"retry_delay", R_SECONDS, AT(retry_delay), 0, 3600},
    {"timeout", R_SECONDS, AT(timeout), 1, 86400},
    {"bandwidth", R_SIZE, AT(bandwidth), 0, 1ll << 40},
    {"prune", R_BOOL, AT(prune), 0, 1},
    {"unfinished_max_age", R_SECONDS, AT(unfinished_max_age), 0, 366 * 86400},
};

void zb_config_remote_init(zb_config_remote *r)
{
    memset(r, 0, sizeof(*r));
    r->part_size = ZB_REMOTE_PART_SIZE_DEFAULT;
    r->list_chunk = 1000;
    r->retries = 3;
    r->retry_delay = 1;
    r->timeout = 60;
    r->prune = 1;
    r->unfinished_max_age = 86400;
}

/* remote durations (retry delay, timeouts, ages) stay within a year */
#define REMOTE_SECONDS_MAX (86400LL * 366)

static int set_keep(zb_config_remote *r, const char *key, const char *value, char *why, size_t why_size)
{
    static const char *rules[ZB_KEEP_WITHIN] = {"keep_last",   "keep_hourly",  "keep_daily",
                                                "keep_weekly", "keep_monthly", "keep_yearly"};
    if (strcmp(key, "keep_within") == 0) {
        if (zb_retention_parse_within(&r->keep, value) < 0) {
            zb_error_clear();
            return snprintf(why, why_size, "takes a duration such as 7d, 2y6m or 36h, not '%s'", value), -1;
        }
        r->keep_set = 1;
        return 0;
    }
    for (int i = 0; i < ZB_KEEP_WITHIN; i++) {
        if (strcmp(key, rules[i]) != 0)
            continue;
        long long v = 0;
        if (zb_parse_int(&v, value, -1, 1000000) < 0)
            return snprintf(why, why_size, "takes a whole number from -1 to 1000000, not '%s'", value), -1;
        r->keep.count[i] = (int)v;
        r->keep_set = 1;
        return 0;
    }
    return 1; /* not a keep rule */
}

int zb_config_remote_set(zb_config_remote *r, const char *key, const char *value, char *why, size_t why_size)
{
    if (strncmp(key, "keep_", 5) == 0) {
        int rc = set_keep(r, key, value, why, why_size);
        if (rc <= 0)
            return rc;
    }
    char *base = (char *)r;
    for (size_t i = 0; i < ZB_ARRAY_LEN(remote_keys); i++) {
        const remote_key *k = &remote_keys[i];
        if (strcmp(k->key, key) != 0)
            continue;
        switch (k->type) {
        case R_STRING: {
            char **field = (char **)(base + k->offset), *copy = zb_strdup(value);
            if (!copy)
                return snprintf(why, why_size, "out of memory"), -1;
            free(*field);
            *field = copy;
            return 0;
        }
        case R_BOOL:
            if (zb_config_parse_bool((int *)(base + k->offset), value) < 0)
                return snprintf(why, why_size, "takes yes or no, not '%s'", value), -1;
            return 0;
        case R_INT: {
            long long v = 0;
            if (zb_parse_int(&v, value, k->min, k->max) < 0)
                return snprintf(why, why_size, "takes a whole number from %lld to %lld, not '%s'", k->min, k->max,
                                value),
                       -1;
            *(int *)(base + k->offset) = (int)v;
            return 0;
        }
        case R_SIZE: {
            unsigned long long v = 0;
            if (zb_parse_size(&v, value) < 0 || v < (unsigned long long)k->min || v > (unsigned long long)k->max)
                return snprintf(why, why_size, "takes a size such as 5M, 64M or 1G (%lld MiB at least), not '%s'",
                                k->min / (1024 * 1024), value),
                       -1;
            *(uint64_t *)(base + k->offset) = v;
            return 0;
        }
        case R_SECONDS: {
            long long v = 0;
            if (zb_parse_duration(&v, value, REMOTE_SECONDS_MAX) < 0 || v < k->min || v > k->max)
                return snprintf(why, why_size, "takes a duration such as 0s, 2s, 5m, 1h or 1d, not '%s'", value), -1;
            *(int *)(base + k->offset) = (int)v;
            return 0;
        }
        }
    }
    return snprintf(why, why_size,
                    "unknown key (type, url, endpoint, bucket, region, prefix, path_style, profile, credentials_file, "
                    "part_size, list_chunk, user, password_file, key_file, known_hosts, retries, retry_delay, timeout, "
                    "bandwidth, prune, unfinished_max_age, " KEEP_RULES_TEXT ")"),
           -1;
}

static int set(const char *s) { return s && *s; }

static int check_files(const zb_config_remote *r, char *why, size_t why_size)
{
    const struct {
        const char *key, *value;
    } files[] = {{"password_file", r->password_file},
                 {"key_file", r->key_file},
                 {"known_hosts", r->known_hosts},
                 {"credentials_file", r->credentials_file}};
    for (size_t i = 0; i < ZB_ARRAY_LEN(files); i++) {
        char reason[400];
        if (zb_config_check_value(ZB_VALUE_ABSOLUTE | ZB_VALUE_READABLE, files[i].value, reason, sizeof(reason)) < 0)
            return snprintf(why, why_size, "%s: %s", files[i].key, reason), -1;
    }
    if (r->keep_set && zb_retention_is_empty(&r->keep))
        return snprintf(why, why_size, "its keep_* rules keep no archive at all (give one above 0, or -1)"), -1;
    return 0;
}

int zb_config_remote_check(const zb_config_remote *r, char *why, size_t why_size)
{
    if (check_files(r, why, why_size) < 0)
        return -1;
    if (!set(r->type))
        return snprintf(why, why_size, "has no type (s3, sftp or webdav)"), -1;
    if (strcmp(r->type, "s3") == 0) {
        if (!set(r->bucket))
            return snprintf(why, why_size, "an s3 remote needs bucket"), -1;
        if (set(r->url))
            return snprintf(why, why_size, "an s3 remote takes endpoint (and bucket), not url"), -1;
        if (set(r->endpoint) && strncmp(r->endpoint, "http://", 7) != 0 && strncmp(r->endpoint, "https://", 8) != 0)
            return snprintf(why, why_size, "endpoint must start with https:// or http://"), -1;
        if (set(r->key_file) || set(r->password_file) || set(r->known_hosts))
            return snprintf(why, why_size,
                            "an s3 remote reads its credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
                            "or a credentials file (profile, credentials_file), not key_file or password_file"),
                   -1;
        return 0;
    }
    if (set(r->bucket) || set(r->endpoint) || set(r->region) || set(r->profile) || set(r->credentials_file))
        return snprintf(why, why_size, "bucket, endpoint, region, profile and credentials_file are for s3 remotes"), -1;
    if (strcmp(r->type, "sftp") == 0) {
        if (!set(r->url) || strncmp(r->url, "sftp://", 7) != 0)
            return snprintf(why, why_size, "an sftp remote needs url = sftp://[user@]host[:port]/folder"), -1;
        if (!set(r->key_file))
            return snprintf(why, why_size, "an sftp remote needs key_file (a private key without passphrase)"), -1;
        if (set(r->password_file))
            return snprintf(why, why_size, "an sftp remote logs in with key_file, not password_file"), -1;
        return 0;
    }
    if (strcmp(r->type, "webdav") == 0) {
        if (!set(r->url) || (strncmp(r->url, "http://", 7) != 0 && strncmp(r->url, "https://", 8) != 0))
            return snprintf(why, why_size, "a webdav remote needs url = https://host/folder/"), -1;
        if (set(r->key_file) || set(r->known_hosts))
            return snprintf(why, why_size, "key_file and known_hosts are for sftp remotes"), -1;
        if (set(r->password_file) != set(r->user))
            return snprintf(why, why_size, "a webdav remote needs both user and password_file, or neither"), -1;
        return 0;
    }
    return snprintf(why, why_size, "type must be s3, sftp or webdav, not '%s'", r->type), -1;
}

const zb_retention_policy *zb_config_remote_policy(const zb_config_remote *r, const zb_retention_policy *repository)
{
    return r->keep_set ? &r->keep : repository;
}

/* "https://user:secret@host/x" -> "https://user:****@host/x" */
static void print_url(FILE *out, const char *url)
{
    const char *scheme = strstr(url, "://");
    const char *host = scheme ? scheme + 3 : url;
    const char *at = strchr(host, '@'), *slash = strchr(host, '/');
    const char *colon = at && (!slash || at < slash) ? memchr(host, ':', (size_t)(at - host)) : NULL;
    if (colon)
        fprintf(out, "%.*s****%s", (int)(colon + 1 - url), url, at);
    else
        fputs(url, out);
}

void zb_config_remote_print(const zb_config_remote *r, FILE *out)
{
    const char *base = (const char *)r;
    const char *origin = r->origin ? r->origin : "default";
    for (size_t i = 0; i < ZB_ARRAY_LEN(remote_keys); i++) {
        const remote_key *k = &remote_keys[i];
        const char *text = k->type == R_STRING ? *(char *const *)(base + k->offset) : NULL;
        if (k->type == R_STRING && !set(text))
            continue;
        fprintf(out, "remote.%s.%s = ", r->name, k->key);
        switch (k->type) {
        case R_STRING:
            if (strcmp(k->key, "url") == 0 || strcmp(k->key, "endpoint") == 0)
                print_url(out, text);
            else
                fputs(text, out);
            break;
        case R_BOOL: fputs(*(const int *)(base + k->offset) ? "yes" : "no", out); break;
        case R_INT: fprintf(out, "%d", *(const int *)(base + k->offset)); break;
        case R_SECONDS: fprintf(out, "%ds", *(const int *)(base + k->offset)); break;
        case R_SIZE: fprintf(out, "%llu", (unsigned long long)*(const uint64_t *)(base + k->offset)); break;
        }
        fprintf(out, "  (%s)\n", origin);
    }
    if (r->keep_set) {
        static const char *rules[ZB_KEEP_WITHIN] = {"last", "hourly", "daily", "weekly", "monthly", "yearly"};
        for (int i = 0; i < ZB_KEEP_WITHIN; i++)
            fprintf(out, "remote.%s.keep_%s = %d  (%s)\n", r->name, rules[i], r->keep.count[i], origin);
        fprintf(out, "remote.%s.keep_within = %s  (%s)\n", r->name, r->keep.within_set ? r->keep.within_text : "",
                origin);
    } else {
        fprintf(out, "remote.%s.keep = the repository's keep_* rules  (default)\n", r->name);
    }
}

void zb_config_remote_free(zb_config_remote *r)
{
    char *base = (char *)r;
    for (size_t i = 0; i < ZB_ARRAY_LEN(remote_keys); i++)
        if (remote_keys[i].type == R_STRING) {
            char **field = (char **)(base + remote_keys[i].offset);
            free(*field);
            *field = NULL;
        }
    free(r->name);
    free(r->origin);
    memset(r, 0, sizeof(*r));
}
