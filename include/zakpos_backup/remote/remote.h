/* Offsite copies: one interface over the storage drivers (S3, SFTP,
 * WebDAV) to upload a published archive, list the archives on a remote,
 * download one and delete one, and apply retention there. Uploads stream
 * from disk and never leave a complete-looking partial archive; listings
 * show finished archives only; every request is retried with backoff. */
#ifndef ZB_REMOTE_REMOTE_H
#define ZB_REMOTE_REMOTE_H

#include "zakpos_backup/config/remote.h"
#include "zakpos_backup/repo/retention.h"

#include <stdint.h>
#include <stdio.h>
#include <time.h>

typedef struct zb_remote zb_remote;

typedef struct zb_remote_archive {
    char *name;          /* e.g. zakpos-20261124T020000Z.zbk */
    time_t created;      /* from the name's UTC stamp */
    int64_t size;        /* -1 when the listing does not say */
    int signed_detached; /* the remote also holds its detached signature NAME.sig */
} zb_remote_archive;

typedef struct zb_remote_list {
    zb_remote_archive *items; /* oldest first */
    size_t count;
} zb_remote_list;

/* An upload a run began and never finished (killed, or its abort failed):
 * an S3 multipart upload whose parts still cost storage. */
typedef struct zb_remote_unfinished {
    char *name;      /* the archive it was for */
    char *upload_id; /* S3's UploadId */
    time_t started;  /* 0 if the remote does not say */
} zb_remote_unfinished;

typedef struct zb_remote_unfinished_list {
    zb_remote_unfinished *items;
    size_t count;
} zb_remote_unfinished_list;

/* Connects nothing yet: checks the settings and loads credentials. `conf`
 * must outlive the remote. */
int zb_remote_open(zb_remote **out, const zb_config_remote *conf);
void zb_remote_close(zb_remote *r);
/* "s3://bucket/prefix/", "sftp://host/dir/": for messages, never a secret. */
const char *zb_remote_where(const zb_remote *r);

/* Copies a local archive file to the remote under its own name, and its
 * detached signature (local_path.sig) beside it when there is one. */
int zb_remote_upload(zb_remote *r, const char *local_path);
/* Copies local_path.sig alone: 1 when sent, 0 when there is none. */
int zb_remote_upload_signature(zb_remote *r, const char *local_path);
/* The finished archives on the remote (hidden and partial names left out). */
int zb_remote_list_archives(zb_remote_list *out, zb_remote *r);
void zb_remote_list_free(zb_remote_list *list);
/* The newest archive's name (free()), ZB_ENOTFOUND if there is none. */
int zb_remote_latest(char **name, zb_remote *r);
/* `spec` itself, or the newest archive's name for "latest" (free()). */
int zb_remote_resolve(char **name, zb_remote *r, const char *spec);
/* Downloads `name` to local_path, published only when complete, and the
 * remote's NAME.sig, if any, to local_path.sig first. */
int zb_remote_download(zb_remote *r, const char *name, const char *local_path);
/* Checks a complete download before it is published: `downloaded` is the
 * file as written, `local_path` the name it will take (its .sig is there). */
typedef int (*zb_remote_check_fn)(const char *downloaded, const char *local_path, void *payload);
/* zb_remote_download that publishes local_path only when check passes; on
 * any failure neither the archive nor its .sig is left behind. */
int zb_remote_download_checked(zb_remote *r, const char *name, const char *local_path, zb_remote_check_fn check,
                               void *payload);
/* Removes an archive and its detached signature, if the remote holds one. */
int zb_remote_delete(zb_remote *r, const char *name);
/* The remote's unfinished uploads (none where the driver cannot see them). */
int zb_remote_list_unfinished(zb_remote_unfinished_list *out, zb_remote *r);
void zb_remote_unfinished_list_free(zb_remote_unfinished_list *list);
int zb_remote_abort_unfinished(zb_remote *r, const zb_remote_unfinished *u);
const zb_config_remote *zb_remote_config(const zb_remote *r);
/* Removes the archives the policy does not keep (never the newest); writes
 * one line per archive to `report` when given ("keep NAME  daily", "remove
 * NAME", "would-remove NAME" with dry_run). */
int zb_remote_prune(zb_remote *r, const zb_retention_policy *policy, int dry_run, FILE *report);

#endif
