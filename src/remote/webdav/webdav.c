#include "zakpos_backup/remote/webdav.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/remote/transfer.h"
#include "zakpos_backup/remote/xml.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char propfind_body[] =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
    "<propfind xmlns=\"DAV:\"><prop><resourcetype/><getcontentlength/></prop></propfind>";

typedef struct webdav {
    const zb_config_remote *conf;
    zb_transfer t;
    char *base;     /* http(s)://host/folder/ */
    char *password; /* sodium-locked */
    size_t password_len;
    zb_http_headers headers;
} webdav;

static void webdav_close(void *state)
{
    webdav *w = state;
    if (!w)
        return;
    zb_transfer_close(&w->t);
    zb_http_headers_free(&w->headers);
    if (w->password)
        zb_fs_secret_free(w->password, w->password_len);
    free(w->base);
    free(w);
}

static int is_loopback(const char *url)
{
    const char *host = strstr(url, "://") + 3;
    return strncmp(host, "127.", 4) == 0 || strncmp(host, "localhost", 9) == 0 || strncmp(host, "[::1]", 5) == 0;
}

static int webdav_open(void **state, char **where, const zb_config_remote *conf)
{
    *state = NULL;
    webdav *w = calloc(1, sizeof(*w));
    if (!w)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    w->conf = conf;
    zb_buf base = ZB_BUF_INIT;
    size_t n = strlen(conf->url);
    int rc = zb_buf_printf(&base, "%s%s", conf->url, n && conf->url[n - 1] == '/' ? "" : "/");
    if (rc == 0 && conf->password_file && *conf->password_file &&
        (rc = zb_fs_read_secret(&w->password, &w->password_len, conf->password_file)) < 0)
        zb_error_context("password_file");
    if (rc == 0 && w->password && strncmp(conf->url, "http://", 7) == 0 && !is_loopback(conf->url))
        zb_log_warn("remote %s: the password goes unencrypted over http://; use https://", conf->name);
    if (rc == 0)
        rc = zb_transfer_open(&w->t, conf);
    if (rc == 0) {
        w->base = zb_buf_detach(&base);
        if (!(*where = zb_strdup(w->base)))
            rc = zb_error_set(ZB_ENOMEM, "out of memory");
    }
    zb_buf_free(&base);
    if (rc < 0) {
        webdav_close(w);
        return rc;
    }
    *state = w;
    return 0;
}

static void begin(webdav *w, const char *url)
{
    zb_transfer_begin(&w->t, url);
    zb_http_headers_free(&w->headers);
    w->t.req.headers = &w->headers;
    if (w->password) {
        w->t.req.basic_auth = 1;
        w->t.req.user = w->conf->user;
        w->t.req.password = w->password;
    }
}

static int add_header(webdav *w, const char *header) { return zb_http_headers_add(&w->headers, "%s", header); }

static int perform(webdav *w, const char *what, int *permanent)
{
    int rc = zb_transfer_perform(&w->t, what, permanent);
    if (rc == ZB_EREMOTE && w->t.status == 401)
        zb_error_hint(w->password ? "the server refused user %s with the password in %s"
                                  : "the server wants a login: "
                                    "set user and password_file",
                      w->conf->user ? w->conf->user : "", w->conf->password_file ? w->conf->password_file : "");
    return rc;
}

static int url_of(zb_buf *out, const webdav *w, const char *name)
{
    char *encoded = NULL;
    int rc = zb_remote_uri_encode(&encoded, name, 0);
    if (rc == 0)
        rc = zb_buf_printf(out, "%s%s", w->base, encoded);
    free(encoded);
    return rc;
}

typedef struct job {
    webdav *w;
    const char *name;
    int fd;
    uint64_t size;
    char *partial; /* .NAME.partial */
} job;

/* MKCOL for the folder and each missing parent (a server answers 405 for
 * one that exists). */
static int make_folders(webdav *w)
{
    const char *path = strchr(strstr(w->base, "://") + 3, '/');
    int rc = 0, permanent = 0;
    for (const char *slash = path ? strchr(path + 1, '/') : NULL; rc == 0 && slash; slash = strchr(slash + 1, '/')) {
        zb_buf url = ZB_BUF_INIT;
        if ((rc = zb_buf_printf(&url, "%.*s", (int)(slash + 1 - w->base), w->base)) == 0) {
            begin(w, url.data);
            w->t.req.method = "MKCOL";
            rc = perform(w, "creating the folder", &permanent);
            if (rc < 0 && (w->t.status == 405 || w->t.status == 301))
                rc = 0;
        }
        zb_buf_free(&url);
    }
    return rc;
}

static int put_attempt(void *arg, int *permanent)
{
    job *j = arg;
    zb_buf url = ZB_BUF_INIT;
    int rc = url_of(&url, j->w, j->partial);
    for (int round = 0; rc == 0 && round < 2; round++) {
        begin(j->w, url.data);
        zb_transfer_body_from_fd(&j->w->t, j->fd, 0, j->size);
        rc = perform(j->w, "uploading", permanent);
        /* 409: the folder does not exist yet */
        if (rc < 0 && round == 0 && (j->w->t.status == 409 || j->w->t.status == 404)) {
            if ((rc = make_folders(j->w)) < 0)
                *permanent = 1;
            continue;
        }
        break;
    }
    zb_buf_free(&url);
    return rc;
}

static int move_attempt(void *arg, int *permanent)
{
    job *j = arg;
    zb_buf from = ZB_BUF_INIT, dest = ZB_BUF_INIT, header = ZB_BUF_INIT;
    int rc = url_of(&from, j->w, j->partial);
    if (rc == 0)
        rc = url_of(&dest, j->w, j->name);
    if (rc == 0)
        rc = zb_buf_printf(&header, "Destination: %s", dest.data);
    if (rc == 0) {
        begin(j->w, from.data);
        j->w->t.req.method = "MOVE";
        rc = add_header(j->w, header.data);
    }
    if (rc == 0) /* never replace an archive already there */
        rc = add_header(j->w, "Overwrite: F");
    if (rc == 0)
        rc = perform(j->w, "moving the uploaded file into place", permanent);
    if (rc < 0 && j->w->t.status == 412)
        zb_error_hint("an archive named %s is already on the remote; it was not replaced", j->name);
    zb_buf_free(&from);
    zb_buf_free(&dest);
    zb_buf_free(&header);
    return rc;
}

static int delete_attempt(void *arg, int *permanent)
{
    job *j = arg;
    zb_buf url = ZB_BUF_INIT;
    int rc = url_of(&url, j->w, j->name);
    if (rc == 0) {
        begin(j->w, url.data);
        j->w->t.req.method = "DELETE";
        rc = perform(j->w, "deleting", permanent);
    }
    zb_buf_free(&url);
    return rc;
}

static int webdav_upload(void *state, int fd, uint64_t size, const char *name)
{
    webdav *w = state;
    zb_buf partial = ZB_BUF_INIT;
    int rc = zb_buf_printf(&partial, ".%s.partial", name);
    job j = {w, name, fd, size, partial.data};
    if (rc == 0)
        rc = zb_remote_retry(w->conf, "the upload", put_attempt, &j);
    if (rc == 0)
        rc = zb_remote_retry(w->conf, "the move", move_attempt, &j);
    if (rc < 0 && partial.data) {
        /* leave no partial file behind; tried once, even after Ctrl-C */
        zb_error_saved saved;
        zb_error_save(&saved);
        job rm = {w, partial.data, -1, 0, NULL};
        int permanent = 0;
        w->t.cleanup = 1;
        if (delete_attempt(&rm, &permanent) < 0 && w->t.status != 404)
            zb_log_detail("cannot remove %s%s: %s", w->base, partial.data, zb_error_message());
        w->t.cleanup = 0;
        zb_error_raise(&saved);
    }
    zb_buf_free(&partial);
    return rc;
}

/* A PROPFIND request for the properties in body; depth: "Depth: 0" (the
 * resource) or "Depth: 1" (a folder and its entries). */
static int start_propfind(webdav *w, const char *url, const char *body, const char *depth)
{
    begin(w, url);
    w->t.req.method = "PROPFIND";
    w->t.req.body = body;
    w->t.req.body_len = strlen(body);
    int rc = add_header(w, depth);
    return rc == 0 ? add_header(w, "Content-Type: application/xml; charset=utf-8") : rc;
}

static int propfind_attempt(void *arg, int *permanent)
{
    webdav *w = arg;
    int rc = start_propfind(w, w->base, propfind_body, "Depth: 1");
    if (rc == 0)
        rc = perform(w, "listing the folder", permanent);
    if (rc == 0 && w->t.status != 207) {
        *permanent = 1;
        rc =
            zb_error_set(ZB_EREMOTE, "listing the folder: HTTP %ld instead of a WebDAV multistatus (207)", w->t.status);
        zb_error_hint("is %s a WebDAV folder?", w->base);
    }
    return rc;
}

/* The last segment of an href ("/dav/x/name" or "http://host/dav/x/name"),
 * percent-decoded, written over the href itself. */
static char *href_name(char *href)
{
    size_t n = strlen(href);
    while (n && href[n - 1] == '/')
        href[--n] = '\0';
    char *name = strrchr(href, '/');
    name = name ? name + 1 : href;
    char *out = name;
    for (char *p = name; *p; p++) {
        if (*p == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
            char hex[3] = {p[1], p[2], 0};
            *out++ = (char)strtol(hex, NULL, 16);
            p += 2;
        } else {
            *out++ = *p;
        }
    }
    *out = '\0';
    return name;
}

static int webdav_list(void *state, zb_remote_each_fn each, void *payload)
{
    webdav *w = state;
    int rc = zb_remote_retry(w->conf, "the listing", propfind_attempt, w);
    if (rc == ZB_ENOTFOUND) /* nothing uploaded yet */
        return 0;
    const char *body = w->t.body.data ? w->t.body.data : "", *end = body + w->t.body.len, *pos = body, *inner;
    size_t inner_len;
    while (rc == 0 && zb_xml_next(&pos, end, "response", &inner, &inner_len)) {
        const char *type_pos = inner, *type;
        size_t type_len;
        int folder = zb_xml_next(&type_pos, inner + inner_len, "resourcetype", &type, &type_len) &&
                     zb_xml_next(&type, type + type_len, "collection", &type, &type_len);
        char *href = zb_xml_find_text(inner, inner_len, "href");
        char *length = zb_xml_find_text(inner, inner_len, "getcontentlength");
        if (!href)
            rc = zb_error_set(ZB_EREMOTE, "listing the folder: a response without href");
        else if (!folder)
            rc = each(href_name(href), length && *length ? strtoll(length, NULL, 10) : -1, payload);
        free(href);
        free(length);
    }
    return rc;
}

static int get_attempt(void *arg, int *permanent)
{
    job *j = arg;
    zb_buf url = ZB_BUF_INIT;
    int rc = url_of(&url, j->w, j->name);
    if (rc == 0) {
        begin(j->w, url.data);
        if ((rc = zb_transfer_body_to_fd(&j->w->t, j->fd)) < 0)
            *permanent = 1;
        else
            rc = perform(j->w, "downloading", permanent);
    }
    zb_buf_free(&url);
    return rc;
}

static int webdav_download(void *state, const char *name, int fd)
{
    job j = {state, name, fd, 0, NULL};
    return zb_remote_retry(((webdav *)state)->conf, "the download", get_attempt, &j);
}

static int webdav_remove(void *state, const char *name)
{
    job j = {state, name, -1, 0, NULL};
    return zb_remote_retry(((webdav *)state)->conf, "the removal", delete_attempt, &j);
}

typedef struct modified_job {
    webdav *w;
    const char *name;
    time_t when;
} modified_job;

/* PROPFIND of the file alone (Depth: 0) for its getlastmodified: not every
 * server sends Last-Modified (lighttpd's mod_webdav does not). */
static int modified_attempt(void *arg, int *permanent)
{
    static const char body[] =
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
        "<propfind xmlns=\"DAV:\"><prop><getlastmodified/></prop></propfind>";
    modified_job *j = arg;
    zb_buf url = ZB_BUF_INIT;
    int rc = url_of(&url, j->w, j->name);
    if (rc == 0)
        rc = start_propfind(j->w, url.data, body, "Depth: 0");
    if (rc == 0)
        rc = perform(j->w, "reading the time of a file", permanent);
    char *text = rc == 0 ? zb_xml_find_text(j->w->t.body.data, j->w->t.body.len, "getlastmodified") : NULL;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = text ? strptime(text, "%a, %d %b %Y %H:%M:%S GMT", &tm) : NULL;
    if (end && !*end)
        j->when = timegm(&tm);
    free(text);
    zb_buf_free(&url);
    return rc;
}

static int webdav_modified(void *state, const char *name, time_t *when)
{
    modified_job j = {state, name, 0};
    int rc = zb_remote_retry(((webdav *)state)->conf, "reading the time of a file", modified_attempt, &j);
    *when = j.when;
    return rc;
}

const zb_remote_driver zb_remote_webdav = {"webdav",      webdav_open,  webdav_upload, webdav_list, webdav_download,
                                           webdav_remove, webdav_close, NULL,          NULL,        webdav_modified};
