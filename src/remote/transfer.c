#include "zakpos_backup/remote/transfer.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/signal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CONNECT_TIMEOUT_S 30L
#define ERROR_BODY_MAX (64 * 1024)

int zb_transfer_open(zb_transfer *t, const zb_config_remote *conf)
{
    memset(t, 0, sizeof(*t));
    t->conf = conf;
    t->in_fd = t->out_fd = -1;
    t->curl = curl_easy_init();
    if (!t->curl)
        return zb_error_set(ZB_ENOMEM, "cannot start libcurl");
    return 0;
}

void zb_transfer_close(zb_transfer *t)
{
    if (t->curl)
        curl_easy_cleanup(t->curl);
    zb_buf_free(&t->body);
    memset(t, 0, sizeof(*t));
    t->in_fd = t->out_fd = -1;
}

/* The request body, read with pread so a part can start anywhere in the file
 * and a retry can start again without seeking the shared descriptor. */
static size_t read_body(char *data, size_t size, size_t count, void *arg)
{
    zb_transfer *t = arg;
    size_t want = size * count;
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
        return CURL_READFUNC_ABORT;
    t->in_done += (uint64_t)got;
    return (size_t)got;
}

/* libcurl rewinds the body when it must send it again (a redirect, an
 * authentication round). */
static int seek_body(void *arg, curl_off_t offset, int origin)
{
    zb_transfer *t = arg;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > t->in_len)
        return CURL_SEEKFUNC_CANTSEEK;
    t->in_done = (uint64_t)offset;
    return CURL_SEEKFUNC_OK;
}

static size_t write_body(char *data, size_t size, size_t count, void *arg)
{
    zb_transfer *t = arg;
    size_t n = size * count;
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    if (t->out_fd >= 0 && status < 300) {
        if (zb_fs_write_all(t->out_fd, data, n, "the downloaded file") < 0)
            return 0;
        return n;
    }
    size_t limit = status >= 300 ? ERROR_BODY_MAX : t->body_max;
    if (t->body.len + n > limit) {
        if (status >= 300) /* the start of an error says enough */
            return n;
        zb_error_set(ZB_EREMOTE, "the reply is larger than %zu bytes", limit);
        return 0;
    }
    if (zb_buf_append(&t->body, data, n) < 0)
        return 0;
    return n;
}

static size_t read_header(char *data, size_t size, size_t count, void *arg)
{
    zb_transfer *t = arg;
    size_t n = size * count;
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) /* a new response (after 100 Continue) */
        t->etag[0] = '\0';
    if (n > 5 && strncasecmp(data, "etag:", 5) == 0) {
        const char *v = data + 5;
        size_t len = n - 5;
        while (len && (*v == ' ' || *v == '\t'))
            v++, len--;
        while (len && strchr(" \t\r\n", v[len - 1]))
            len--;
        if (len < sizeof(t->etag)) {
            memcpy(t->etag, v, len);
            t->etag[len] = '\0';
        }
    }
    return n;
}

static int progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    const zb_transfer *t = arg;
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return zb_interrupted() && !t->cleanup ? 1 : 0;
}

void zb_transfer_begin(zb_transfer *t, const char *url)
{
    CURL *c = t->curl;
    curl_easy_reset(c);
    t->errbuf[0] = '\0';
    t->in_fd = t->out_fd = -1;
    t->in_offset = t->in_len = t->in_done = 0;
    t->etag[0] = '\0';
    t->status = 0;
    t->body_max = 16 * 1024 * 1024;
    zb_buf_reset(&t->body);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,sftp");
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    long timeout = t->conf->timeout > 0 ? t->conf->timeout : 60;
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeout < CONNECT_TIMEOUT_S ? timeout : CONNECT_TIMEOUT_S);
    /* a transfer that moves nothing for `timeout` seconds has stalled */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, timeout);
    if (t->conf->bandwidth) {
        curl_easy_setopt(c, CURLOPT_MAX_SEND_SPEED_LARGE, (curl_off_t)t->conf->bandwidth);
        curl_easy_setopt(c, CURLOPT_MAX_RECV_SPEED_LARGE, (curl_off_t)t->conf->bandwidth);
    }
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, t);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, read_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, t);
}

void zb_transfer_body_from_fd(zb_transfer *t, int fd, uint64_t offset, uint64_t len)
{
    t->in_fd = fd;
    t->in_offset = offset;
    t->in_len = len;
    t->in_done = 0;
    curl_easy_setopt(t->curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(t->curl, CURLOPT_READFUNCTION, read_body);
    curl_easy_setopt(t->curl, CURLOPT_READDATA, t);
    curl_easy_setopt(t->curl, CURLOPT_SEEKFUNCTION, seek_body);
    curl_easy_setopt(t->curl, CURLOPT_SEEKDATA, t);
    curl_easy_setopt(t->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
}

int zb_transfer_body_to_fd(zb_transfer *t, int fd)
{
    if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)
        return zb_error_errno(ZB_EIO, errno, "cannot empty the file being downloaded");
    t->out_fd = fd;
    return 0;
}

/* Failures that happen the same way however often they are tried. */
static int curl_permanent(CURLcode code)
{
    switch (code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_LOGIN_DENIED:
    case CURLE_REMOTE_ACCESS_DENIED:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_REMOTE_FILE_NOT_FOUND:
    case CURLE_REMOTE_FILE_EXISTS:
    case CURLE_QUOTE_ERROR:
    case CURLE_READ_ERROR:
    case CURLE_WRITE_ERROR:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_REMOTE_DISK_FULL:
    case CURLE_FILE_COULDNT_READ_FILE:
        return 1;
    default:
        return 0;
    }
}

int zb_transfer_perform(zb_transfer *t, const char *what, int *permanent)
{
    *permanent = 0;
    zb_error_clear();
    CURLcode code = t->code = curl_easy_perform(t->curl);
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &t->status);
    if (code == CURLE_ABORTED_BY_CALLBACK || (zb_interrupted() && !t->cleanup && code != CURLE_OK)) {
        *permanent = 1;
        return zb_error_set(ZB_EINTR, "%s: interrupted by signal %d", what, zb_interrupted());
    }
    if (code == CURLE_WRITE_ERROR && zb_error_code() < 0) { /* our own sink failed */
        *permanent = 1;
        return zb_error_context("%s", what);
    }
    if (code != CURLE_OK) {
        *permanent = curl_permanent(code);
        int rc = code == CURLE_REMOTE_FILE_NOT_FOUND ? ZB_ENOTFOUND : ZB_EREMOTE;
        return zb_error_set(rc, "%s: %s%s%s%s", what, curl_easy_strerror(code), t->errbuf[0] ? " (" : "", t->errbuf,
                            t->errbuf[0] ? ")" : "");
    }
    if (t->status == 0 || (t->status >= 200 && t->status < 300))
        return 0;
    char detail[512] = "";
    if (t->error_detail && t->body.len)
        t->error_detail(t->body.data, t->body.len, detail, sizeof(detail));
    *permanent = !(t->status == 408 || t->status == 429 || t->status >= 500);
    return zb_error_set(t->status == 404 ? ZB_ENOTFOUND : ZB_EREMOTE, "%s: HTTP %ld%s%s", what, t->status,
                        detail[0] ? " " : "", detail);
}
