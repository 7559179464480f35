/* What the Docker volume source needs from the Engine API beyond the HTTP
 * client: paths with escaped names, volume inspection, filtered listings, and
 * the helper containers (never started, from an image the tool imports
 * itself) through which volumes are read and written. */
#ifndef ZB_SOURCE_DOCKER_HELPER_H
#define ZB_SOURCE_DOCKER_HELPER_H

#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/source/docker/client.h"

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

#define ZB_HELPER_REPO        "zakpos-backup-helper"
#define ZB_HELPER_LABEL       "zakpos-backup.helper" /* the pid of the run that made it */
#define ZB_HELPER_RUN_LABEL   "zakpos-backup.run"    /* its run id (see record.h) */
#define ZB_HELPER_MOUNT_NAME  "volume"
#define ZB_HELPER_MOUNT_POINT "/" ZB_HELPER_MOUNT_NAME

/* before + value (percent-encoded) + after, into b. */
int zb_docker_api_path(zb_buf *b, const char *before, const char *value, const char *after);

/* GET a listing filtered on one key (Docker's filters={"key":["value"]}). */
int zb_docker_list_filtered(zb_docker *d, const char *listing, const char *key, const char *value, json_t **out);

/* GET /volumes/NAME; ZB_ENOTFOUND (with a hint) when it does not exist. */
int zb_volume_inspect(zb_docker *d, const char *name, json_t **out);

/* The folder of a volume (an inspection answer) when this process can use it
 * directly: a local volume without driver options (those are mounted onto
 * the folder only while a container uses them) whose Mountpoint it may read and
 * enter (the tool runs on the Docker host as root, or in a container that
 * mounts it); NULL otherwise. Borrowed from info. */
const char *zb_volume_reachable_folder(json_t *info);

/* The same for a volume by name: *folder allocated, or NULL when the folder
 * is not reachable (or the volume does not exist). */
int zb_volume_folder(zb_docker *d, const char *name, char **folder);

/* An in-memory tar sent as a request body, read from a cursor
 * (zb_helper_tar_source is its body source). */
typedef struct zb_tar_upload {
    const zb_buf *tar;
    size_t at;
} zb_tar_upload;
ssize_t zb_helper_tar_source(void *buf, size_t len, void *payload);

/* An image's rootfs tar, in memory: one entry, a folder (data NULL) or a
 * file with the given content. */
int zb_helper_image_tar(zb_buf *out, const char *name, const void *data, size_t len);

/* Imports repo:tag (an image of one entry, see zb_helper_image_tar) unless
 * Docker has it. */
int zb_helper_ensure_image(zb_docker *d, const char *repo, const char *tag, const char *entry, const void *data,
                           size_t len);

/* The labels of every helper container: this run's pid and run id, by
 * which zb_helper_sweep tells the helpers of dead runs. */
json_t *zb_helper_labels(void);

/* A helper container that is never started: the volume mounted at
 * ZB_HELPER_MOUNT_POINT; *id is allocated. Helpers of killed runs are swept. */
int zb_helper_create(zb_docker *d, const char *volume, int read_only, char **id);
void zb_helper_remove(zb_docker *d, const char *id);
/* Removes the helpers of dead runs, logging each (backup and prune call it
 * under the repository lock; helper creation too). */
int zb_helper_sweep(zb_docker *d);
/* The same through given (or, when NULL, DOCKER_HOST or the default socket
 * if this host has one); a daemon out of reach is logged at detail level. */
int zb_helper_sweep_host(zb_docker *given);

/* Runs a busybox shell script (sh -c) in a container started from an image
 * holding only this host's static /bin/busybox (imported once per tool
 * version), with the volumes mounted as given ({"volume": "/mount point"}),
 * and waits for it; a non-zero exit is ZB_EDOCKER naming `what`. The
 * container is removed in every case. */
int zb_helper_run_script(zb_docker *d, json_t *mounts, const char *script, const char *what);

/* A file in the tool's state folder (ZAKPOS_BACKUP_STATE_DIR), which is made
 * if missing (file "": the folder's path, nothing made): records that let the next command finish what a killed run
 * began. */
int zb_docker_state_path(char *out, size_t size, const char *file);

#endif
