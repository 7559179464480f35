#include "zakpos_backup/remote/transfer.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/signal.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define CONNECT_TIMEOUT_S 30L
#define BODY_MAX          (16u * 1024 * 1024)

int zb_transfer_open(zb_transfer *t, const zb_config_remote *conf)
{
    memset(t, 0, sizeof(*t));
    t->conf = conf;
    t->in_fd = t->out_fd = -1;
    return zb_http_new(&t->http);
}

void zb_transfer_close(zb_transfer *t)
{
    zb_http_free(t->http);
    zb_buf_free(&t->body);
    memset(t, 0, sizeof(*t));
    t->in_fd = t->out_fd = -1;
}

/* The request body, read with pread so a part can start anywhere in the file
 * and a retry can start again without seeking the shared descriptor. */
static ssize_t read_body(void *data, size_t want, void *arg)
{
    zb_transfer *t = arg;
    uint64_t left = t->in_len - t->in_done;
    if (want > left)
        want = (size_t)left;
    if (want == 0)
        return 0;
    ssize_t got;
    do
        got = pread(t->in_fd, data, want, (off_t)(t->in_offset + t->in_done));
    while (got < 0 && errno == EINTR && !zb_interrupted());
    if (got <= 0) /* the file shrank or cannot be read: never send a short body */
        return got < 0 ? zb_error_errno(ZB_EIO, errno, "cannot read the file being uploaded")
                       : zb_error_set(ZB_EIO, "the file being uploaded shrank");
    t->in_done += (uint64_t)got;
    return got;
}

/* The client rewinds the body when it must send it again (a redirect, an
 * authentication round). */
static int rewind_body(uint64_t offset, void *arg)
{
    zb_transfer *t = arg;
    if (offset > t->in_len)
        return -1;
    t->in_done = offset;
    return 0;
}

static int write_body(const void *data, size_t len, void *arg)
{
    zb_transfer *t = arg;
    return zb_fs_write_all(t->out_fd, data, len, "the downloaded file");
}

static void read_header(const char *line, size_t len, void *arg)
{
    zb_transfer *t = arg;
    if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) /* a new response (after 100 Continue) */
        t->etag[0] = '\0';
    zb_http_header_value(line, len, "etag", t->etag, sizeof(t->etag));
}

void zb_transfer_begin(zb_transfer *t, const char *url)
{
    long timeout = t->conf->timeout > 0 ? t->conf->timeout : 60;
    t->in_fd = t->out_fd = -1;
    t->in_offset = t->in_len = t->in_done = 0;
    t->etag[0] = '\0';
    t->status = 0;
    t->failure = ZB_HTTP_OK;
    t->filetime = -1;
    zb_buf_reset(&t->body);
    t->req = (zb_http_request){
        .url = url,
        .protocols = "http,https,sftp",
        .connect_timeout_s = timeout < CONNECT_TIMEOUT_S ? timeout : CONNECT_TIMEOUT_S,
        .stall_s = timeout, /* a transfer that moves nothing for `timeout` seconds has stalled */
        .max_speed = t->conf->bandwidth,
        .body_max = BODY_MAX,
        .on_header = read_header,
        .header_payload = t,
    };
}

void zb_transfer_body_from_fd(zb_transfer *t, int fd, uint64_t offset, uint64_t len)
{
    t->in_fd = fd;
    t->in_offset = offset;
    t->in_len = len;
    t->in_done = 0;
    t->req.source = read_body;
    t->req.rewind = rewind_body;
    t->req.source_payload = t;
    t->req.source_len = (int64_t)len;
}

int zb_transfer_body_to_fd(zb_transfer *t, int fd)
{
    if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)
        return zb_error_errno(ZB_EIO, errno, "cannot empty the file being downloaded");
    t->out_fd = fd;
    t->req.sink = write_body;
    t->req.sink_payload = t;
    return 0;
}

int zb_transfer_perform(zb_transfer *t, const char *what, int *permanent)
{
    zb_http_response resp;
    t->req.what = what;
    t->req.cleanup = t->cleanup;
    t->req.message = t->error_detail;
    zb_error_clear();
    int rc = zb_http_perform(t->http, &t->req, &resp);
    t->status = resp.status;
    t->failure = resp.failure;
    t->filetime = resp.filetime;
    *permanent = resp.permanent;
    zb_buf_free(&t->body);
    t->body = resp.body; /* the driver reads the answer here */
    resp.body = (zb_buf)ZB_BUF_INIT;
    if (rc < 0 && resp.failure == ZB_HTTP_CALLBACK) /* our own file failed */
        zb_error_context("%s", what);
    zb_http_response_free(&resp);
    return rc;
}
