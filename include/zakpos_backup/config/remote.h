/* The `[remote NAME]` sections of the configuration: where offsite copies
 * go (type s3, sftp or webdav), how to reach the place, how often to retry,
 * and the retention kept there. Secrets are never values here: they come
 * from files (password_file, key_file) or the AWS variables and files. */
#ifndef ZB_CONFIG_REMOTE_H
#define ZB_CONFIG_REMOTE_H

#include "zakpos_backup/repo/retention.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ZB_REMOTE_PART_SIZE_MIN     (5u * 1024 * 1024)
#define ZB_REMOTE_PART_SIZE_DEFAULT (64u * 1024 * 1024)

typedef struct zb_config_remote {
    char *name;
    char *type;             /* s3, sftp, webdav */
    char *url;              /* sftp://host[:port]/dir, http(s)://host/dir (webdav) */
    char *endpoint;         /* s3: http(s)://host[:port] (default: AWS for the region) */
    char *bucket;           /* s3 */
    char *region;           /* s3 */
    char *prefix;           /* s3: key prefix, "" or ending in '/' */
    int path_style;         /* s3: host/bucket/key instead of bucket.host/key */
    char *profile;          /* s3: profile in the shared credentials file */
    char *credentials_file; /* s3: instead of AWS_SHARED_CREDENTIALS_FILE, ~/.aws/credentials */
    uint64_t part_size;     /* s3: multipart above this size, parts of this size */
    int list_chunk;         /* s3: keys per listing request */
    char *user;             /* sftp, webdav */
    char *password_file;    /* webdav: basic auth password */
    char *key_file;         /* sftp: private key */
    char *known_hosts;      /* sftp: default ~/.ssh/known_hosts */
    int retries;            /* tries after the first one */
    int retry_delay;        /* seconds before the first retry; doubles each time */
    int timeout;            /* seconds without progress before a transfer fails */
    uint64_t bandwidth;     /* bytes per second, 0 = unlimited */
    int prune;              /* apply the retention after each upload */
    int unfinished_max_age; /* seconds: older unfinished uploads are aborted (younger may be another host's) */
    zb_retention_policy keep;
    int keep_set; /* keep_* given in the section: overrides the repository's */
    char *origin; /* FILE:LINE of the section */
} zb_config_remote;

void zb_config_remote_init(zb_config_remote *r);
/* Stores one key of the section; on a bad key or value returns -1 with the
 * reason in `why`. */
int zb_config_remote_set(zb_config_remote *r, const char *key, const char *value, char *why, size_t why_size);
/* Checks the section is complete for its type; returns -1 with the reason. */
int zb_config_remote_check(const zb_config_remote *r, char *why, size_t why_size);
/* The retention for this remote: its own keep_* keys, else the repository's. */
const zb_retention_policy *zb_config_remote_policy(const zb_config_remote *r, const zb_retention_policy *repository);
/* One "remote.NAME.key = value  (origin)" line per setting, secrets masked. */
void zb_config_remote_print(const zb_config_remote *r, FILE *out);
void zb_config_remote_free(zb_config_remote *r);

#endif
