/* The remote drivers' use of the HTTP client (common/http.h): one client
 * per remote (connections are reused), request bodies streamed from a range
 * of a file, responses streamed to a file or kept in a bounded buffer,
 * stalls, bandwidth and Ctrl-C handled, and every failure classified as
 * worth a retry or not. */
#ifndef ZB_REMOTE_TRANSFER_H
#define ZB_REMOTE_TRANSFER_H

#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/http.h"
#include "zakpos_backup/config/remote.h"

#include <stdint.h>

typedef struct zb_transfer {
    zb_http *http;
    const zb_config_remote *conf;
    /* The request being built: after zb_transfer_begin a driver adds its
     * method, headers, authentication and small body here. */
    zb_http_request req;
    int in_fd; /* request body: in_len bytes of in_fd from in_offset */
    uint64_t in_offset, in_len, in_done;
    int out_fd;              /* response body to out_fd, else into `body` */
    zb_buf body;             /* the response (and any error response) */
    char etag[256];          /* the ETag response header */
    long status;             /* HTTP status, 0 for SFTP */
    zb_http_failure failure; /* what went wrong, for a driver's hint */
    int64_t filetime;        /* with req.want_filetime: the file's time, or -1 */
    int cleanup;             /* a cleanup request: runs even after Ctrl-C */
    /* A driver's reading of an error response ("AccessDenied: ..."). */
    void (*error_detail)(const char *body, size_t len, char *out, size_t size);
} zb_transfer;

int zb_transfer_open(zb_transfer *t, const zb_config_remote *conf);
void zb_transfer_close(zb_transfer *t);
/* Starts a new request: every setting back to the shared defaults
 * (timeouts, bandwidth, interrupt check, no body either way). url must
 * stay valid until zb_transfer_perform. */
void zb_transfer_begin(zb_transfer *t, const char *url);
/* Uploads len bytes of fd from offset as the request body (PUT for HTTP). */
void zb_transfer_body_from_fd(zb_transfer *t, int fd, uint64_t offset, uint64_t len);
/* Writes a successful response's body to fd (error bodies stay in memory),
 * which is emptied first: each try starts the file again. */
int zb_transfer_body_to_fd(zb_transfer *t, int fd);
/* Runs the request: 0 for success (2xx for HTTP); otherwise ZB_ENOTFOUND
 * (404, missing file), ZB_EINTR or ZB_EREMOTE with a message starting with
 * `what`, and *permanent set when retrying cannot help. */
int zb_transfer_perform(zb_transfer *t, const char *what, int *permanent);

#endif
