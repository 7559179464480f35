/* What a remote storage driver (s3, sftp, webdav) provides to the remote
 * module, and the retry loop the drivers share. A driver moves bytes and
 * names; the remote module decides which names are archives, publishes
 * downloads atomically and applies retention. */
#ifndef ZB_REMOTE_DRIVER_H
#define ZB_REMOTE_DRIVER_H

#include "zakpos_backup/config/remote.h"

#include <stdint.h>
#include <time.h>

/* Called once per entry of a listing, with its size (-1 if not known). */
typedef int (*zb_remote_each_fn)(const char *name, int64_t size, void *payload);

/* Called once per unfinished upload a run left behind (killed, or its abort
 * failed): the archive's name, the upload's id (S3's UploadId, else NULL)
 * and when it started (0 if not known). */
typedef int (*zb_remote_unfinished_fn)(const char *name, const char *upload_id, time_t started, void *payload);

typedef struct zb_remote_driver {
    const char *type;
    /* *where: a description for messages ("s3://bucket/prefix/"), never a secret. */
    int (*open)(void **state, char **where, const zb_config_remote *conf);
    /* Stores `size` bytes of fd under `name`; `name` must not be visible on
     * the remote before the whole content is (temporary name, then rename;
     * or a request that creates the object only when complete). */
    int (*upload)(void *state, int fd, uint64_t size, const char *name);
    /* Every entry in the remote's folder; the caller filters. */
    int (*list)(void *state, zb_remote_each_fn each, void *payload);
    /* Writes the content of `name` to fd (from offset 0; retries truncate). */
    int (*download)(void *state, const char *name, int fd);
    int (*remove)(void *state, const char *name);
    void (*close)(void *state);
    /* Unfinished uploads under the remote's folder or prefix, and their
     * removal; NULL where the driver cannot find them. */
    int (*list_unfinished)(void *state, zb_remote_unfinished_fn each, void *payload);
    int (*abort_unfinished)(void *state, const char *name, const char *upload_id);
    /* When a file of the folder was last written (drivers whose uploads go
     * through a hidden .NAME.partial file, which the remote module finds in
     * the listing); NULL where list_unfinished serves instead. */
    int (*modified)(void *state, const char *name, time_t *when);
} zb_remote_driver;

/* One try of a request: 0, or a negative code with *permanent set when a
 * retry cannot help (refused credentials, a missing object, a local error). */
typedef int (*zb_remote_attempt_fn)(void *arg, int *permanent);

/* Runs attempt until it succeeds, fails for good or conf->retries retries
 * are spent, waiting retry_delay, then twice as long each time. Interrupts
 * (SIGINT/SIGTERM) end the wait. `what` names the request in the log. */
int zb_remote_retry(const zb_config_remote *conf, const char *what, zb_remote_attempt_fn attempt, void *arg);

/* RFC 3986 percent-encoding of everything but unreserved characters (and
 * '/' when keep_slash), upper-case hex: the form AWS signs. */
int zb_remote_uri_encode(char **out, const char *text, int keep_slash);

#endif
