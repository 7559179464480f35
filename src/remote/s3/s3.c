#include "zakpos_backup/remote/s3.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/remote/transfer.h"
#include "zakpos_backup/remote/xml.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* S3 allows at most 10000 parts per upload. */
#define MAX_PARTS        10000
#define EMPTY_SHA256     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

typedef struct s3 {
    const zb_config_remote *conf;
    zb_transfer t;
    zb_s3_credentials cred;
    char *base;     /* URL of the bucket's root, ending in '/' */
    char *list_url; /* the bucket itself, for ListObjectsV2 */
    char *prefix;   /* "" or "folder/" */
    char sigv4[160];
    zb_http_headers headers;
} s3;

/* "<Code>: <Message>" of an S3 error reply. */
static void error_detail(const char *body, size_t len, char *out, size_t size)
{
    char *code = zb_xml_find_text(body, len, "Code"), *message = zb_xml_find_text(body, len, "Message");
    if (code)
        snprintf(out, size, "%s%s%s", code, message ? ": " : "", message ? message : "");
    free(code);
    free(message);
}

static void s3_close(void *state)
{
    s3 *s = state;
    if (!s)
        return;
    zb_transfer_close(&s->t);
    zb_s3_credentials_free(&s->cred);
    zb_http_headers_free(&s->headers);
    free(s->base);
    free(s->list_url);
    free(s->prefix);
    free(s);
}

/* The bucket's URLs from the endpoint: path style puts the bucket in the
 * path (host/bucket/key), virtual-host style in the host name (bucket.host/key). */
static int build_urls(s3 *s, char **where)
{
    const zb_config_remote *c = s->conf;
    const char *region = c->region && *c->region ? c->region : "us-east-1";
    zb_buf endpoint = ZB_BUF_INIT, base = ZB_BUF_INIT, list = ZB_BUF_INIT, w = ZB_BUF_INIT;
    int rc = c->endpoint && *c->endpoint ? zb_buf_puts(&endpoint, c->endpoint)
                                         : zb_buf_printf(&endpoint, "https://s3.%s.amazonaws.com", region);
    while (rc == 0 && endpoint.len && endpoint.data[endpoint.len - 1] == '/')
        endpoint.data[--endpoint.len] = '\0';
    const char *scheme_end = rc == 0 ? strstr(endpoint.data, "://") : NULL;
    if (rc == 0 && !scheme_end)
        rc = zb_error_set(ZB_ECONFIG, "endpoint %s is not a URL", endpoint.data);
    if (rc == 0) {
        const char *authority = scheme_end + 3;
        const char *path = authority + strcspn(authority, "/");
        int scheme_len = (int)(authority - endpoint.data), authority_len = (int)(path - authority);
        if (c->path_style) {
            rc = zb_buf_printf(&base, "%s/%s/", endpoint.data, c->bucket);
            if (rc == 0)
                rc = zb_buf_printf(&list, "%s/%s", endpoint.data, c->bucket);
        } else {
            rc = zb_buf_printf(&base, "%.*s%s.%.*s%s/", scheme_len, endpoint.data, c->bucket, authority_len, authority,
                               path);
            if (rc == 0)
                rc = zb_buf_puts(&list, base.data);
        }
    }
    const char *prefix = c->prefix ? c->prefix : "";
    while (*prefix == '/')
        prefix++;
    size_t plen = strlen(prefix);
    zb_buf p = ZB_BUF_INIT;
    if (rc == 0)
        rc = zb_buf_printf(&p, "%s%s", prefix, plen && prefix[plen - 1] != '/' ? "/" : "");
    if (rc == 0)
        rc = zb_buf_printf(&w, "s3://%s/%s", c->bucket, p.data);
    if (rc == 0)
        snprintf(s->sigv4, sizeof(s->sigv4), "aws:amz:%.64s:s3", region);
    if (rc == 0) {
        s->base = zb_buf_detach(&base);
        s->list_url = zb_buf_detach(&list);
        s->prefix = zb_buf_detach(&p);
        *where = zb_buf_detach(&w);
    }
    zb_buf_free(&endpoint);
    zb_buf_free(&base);
    zb_buf_free(&list);
    zb_buf_free(&p);
    zb_buf_free(&w);
    return rc;
}

static int s3_open(void **state, char **where, const zb_config_remote *conf)
{
    *state = NULL;
    s3 *s = calloc(1, sizeof(*s));
    if (!s)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    s->conf = conf;
    int rc = build_urls(s, where);
    if (rc == 0)
        rc = zb_s3_credentials_load(&s->cred, conf);
    if (rc == 0)
        rc = zb_transfer_open(&s->t, conf);
    if (rc < 0) {
        s3_close(s);
        return rc;
    }
    s->t.error_detail = error_detail;
    zb_log_debug("remote %s: credentials from %s", conf->name, s->cred.source);
    *state = s;
    return 0;
}

/* Starts a signed request. libcurl signs the method, path, query, host,
 * the headers set here and x-amz-date; the payload hash is the
 * x-amz-content-sha256 header's value. */
static int begin(s3 *s, const char *url, const char *payload_hash, const char *content_type)
{
    zb_http_headers_free(&s->headers);
    zb_transfer_begin(&s->t, url);
    int rc = zb_http_headers_add(&s->headers, "x-amz-content-sha256: %s", payload_hash);
    if (rc == 0 && content_type)
        rc = zb_http_headers_add(&s->headers, "Content-Type: %s", content_type);
    if (rc == 0 && s->cred.session_token)
        rc = zb_http_headers_add(&s->headers, "x-amz-security-token: %s", s->cred.session_token);
    if (rc < 0)
        return rc;
    s->t.req.headers = &s->headers;
    s->t.req.aws_sigv4 = s->sigv4;
    s->t.req.user = s->cred.access_key;
    s->t.req.password = s->cred.secret_key;
    return 0;
}

static int perform(s3 *s, const char *what, int *permanent)
{
    int rc = zb_transfer_perform(&s->t, what, permanent);
    if (rc == ZB_EREMOTE && (s->t.status == 401 || s->t.status == 403))
        zb_error_hint("check the credentials (%s) and that they may use bucket %s", s->cred.source, s->conf->bucket);
    else if (rc == ZB_EREMOTE && s->t.status == 301)
        zb_error_hint("the bucket may be in another region than '%s' (remote region), or needs path_style",
                      s->conf->region && *s->conf->region ? s->conf->region : "us-east-1");
    return rc;
}

/* The object's URL: the key (prefix + name) encoded as AWS signs it. */
static int object_url(zb_buf *out, const s3 *s, const char *name, const char *query)
{
    zb_buf key = ZB_BUF_INIT;
    char *encoded = NULL;
    int rc = zb_buf_printf(&key, "%s%s", s->prefix, name);
    if (rc == 0)
        rc = zb_remote_uri_encode(&encoded, key.data, 1);
    if (rc == 0)
        rc = zb_buf_printf(out, "%s%s%s%s", s->base, encoded, query ? "?" : "", query ? query : "");
    free(encoded);
    zb_buf_free(&key);
    return rc;
}

/* ---- upload ---- */

typedef struct upload_job {
    s3 *s;
    const char *name;
    int fd;
    uint64_t offset, len;
    const char *upload_id; /* multipart: the upload, the part number */
    int part;
    char *etag; /* the part's ETag, as S3 returned it */
    char what[256];
} upload_job;

static int put_attempt(void *arg, int *permanent)
{
    upload_job *j = arg;
    s3 *s = j->s;
    zb_buf url = ZB_BUF_INIT, query = ZB_BUF_INIT;
    char *id = NULL;
    int rc = 0;
    if (j->upload_id) { /* the query in AWS's canonical order: names sorted, values encoded */
        rc = zb_remote_uri_encode(&id, j->upload_id, 0);
        if (rc == 0)
            rc = zb_buf_printf(&query, "partNumber=%d&uploadId=%s", j->part, id);
    }
    if (rc == 0)
        rc = object_url(&url, s, j->name, j->upload_id ? query.data : NULL);
    if (rc == 0)
        rc = begin(s, url.data, UNSIGNED_PAYLOAD, j->upload_id ? NULL : "application/octet-stream");
    if (rc == 0) {
        zb_transfer_body_from_fd(&s->t, j->fd, j->offset, j->len);
        rc = perform(s, j->what, permanent);
    }
    if (rc == 0 && j->upload_id) {
        free(j->etag);
        j->etag = s->t.etag[0] ? zb_strdup(s->t.etag) : NULL;
        if (!j->etag)
            rc = zb_error_set(ZB_EREMOTE, "%s: the reply has no ETag", j->what);
    }
    free(id);
    zb_buf_free(&url);
    zb_buf_free(&query);
    return rc;
}

typedef struct multipart {
    s3 *s;
    const char *name;
    char *upload_id;
    char **etags;
    int parts;
    zb_buf complete_xml;
} multipart;

static int create_attempt(void *arg, int *permanent)
{
    multipart *m = arg;
    s3 *s = m->s;
    zb_buf url = ZB_BUF_INIT;
    int rc = object_url(&url, s, m->name, "uploads=");
    if (rc == 0)
        rc = begin(s, url.data, EMPTY_SHA256, "application/octet-stream");
    if (rc == 0) {
        s->t.req.method = "POST";
        rc = perform(s, "starting a multipart upload", permanent);
    }
    if (rc == 0) {
        free(m->upload_id);
        m->upload_id = zb_xml_find_text(s->t.body.data, s->t.body.len, "UploadId");
        if (!m->upload_id || !*m->upload_id)
            rc = zb_error_set(ZB_EREMOTE, "starting a multipart upload: the reply has no UploadId");
    }
    zb_buf_free(&url);
    return rc;
}

static void sha256_hex(char out[65], const char *data, size_t len)
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)data, len);
    sodium_bin2hex(out, 65, digest, sizeof(digest));
}

static int complete_attempt(void *arg, int *permanent)
{
    multipart *m = arg;
    s3 *s = m->s;
    zb_buf url = ZB_BUF_INIT, query = ZB_BUF_INIT;
    char *id = NULL, hash[65];
    sha256_hex(hash, m->complete_xml.data, m->complete_xml.len);
    int rc = zb_remote_uri_encode(&id, m->upload_id, 0);
    if (rc == 0)
        rc = zb_buf_printf(&query, "uploadId=%s", id);
    if (rc == 0)
        rc = object_url(&url, s, m->name, query.data);
    if (rc == 0)
        rc = begin(s, url.data, hash, "application/xml");
    if (rc == 0) {
        s->t.req.method = "POST";
        s->t.req.body = m->complete_xml.data;
        s->t.req.body_len = m->complete_xml.len;
        rc = perform(s, "completing the multipart upload", permanent);
    }
    /* S3 may answer 200 and report the failure in the body. */
    if (rc == 0 && s->t.body.len && zb_xml_find_text(s->t.body.data, s->t.body.len, "Code") &&
        strstr(s->t.body.data, "Error>")) {
        char detail[512] = "";
        error_detail(s->t.body.data, s->t.body.len, detail, sizeof(detail));
        *permanent = !strstr(detail, "InternalError") && !strstr(detail, "SlowDown");
        rc = zb_error_set(ZB_EREMOTE, "completing the multipart upload: %s", detail);
    }
    free(id);
    zb_buf_free(&url);
    zb_buf_free(&query);
    return rc;
}

/* AbortMultipartUpload: DELETE key?uploadId=ID. */
typedef struct abort_job {
    s3 *s;
    const char *name, *upload_id;
} abort_job;

static int abort_attempt(void *arg, int *permanent)
{
    abort_job *j = arg;
    zb_buf url = ZB_BUF_INIT, query = ZB_BUF_INIT;
    char *id = NULL;
    int rc = zb_remote_uri_encode(&id, j->upload_id, 0);
    if (rc == 0)
        rc = zb_buf_printf(&query, "uploadId=%s", id);
    if (rc == 0)
        rc = object_url(&url, j->s, j->name, query.data);
    if (rc == 0)
        rc = begin(j->s, url.data, EMPTY_SHA256, NULL);
    if (rc == 0) {
        j->s->t.req.method = "DELETE";
        rc = perform(j->s, "aborting the multipart upload", permanent);
    }
    free(id);
    zb_buf_free(&url);
    zb_buf_free(&query);
    return rc;
}

/* Abandons a multipart upload so its parts stop costing storage; tried
 * once, even after Ctrl-C (what is left, `remote sync` finds later). */
static void abort_multipart(multipart *m)
{
    abort_job j = {m->s, m->name, m->upload_id};
    int permanent = 0;
    zb_error_saved saved;
    zb_error_save(&saved);
    m->s->t.cleanup = 1;
    if (abort_attempt(&j, &permanent) < 0)
        zb_log_warn("%s; its parts stay until `zakpos-backup remote sync` or a lifecycle rule removes them",
                    zb_error_message());
    else
        zb_log_detail("aborted the multipart upload of %s", m->name);
    m->s->t.cleanup = 0;
    zb_error_raise(&saved);
}

static int upload_multipart(s3 *s, int fd, uint64_t size, const char *name)
{
    uint64_t part_size = s->conf->part_size ? s->conf->part_size : ZB_REMOTE_PART_SIZE_DEFAULT;
    if ((size + part_size - 1) / part_size > MAX_PARTS) /* larger parts, in whole MiB */
        part_size = ((size + MAX_PARTS - 1) / MAX_PARTS + (1u << 20) - 1) & ~(uint64_t)((1u << 20) - 1);
    multipart m = {s, name, NULL, NULL, (int)((size + part_size - 1) / part_size), ZB_BUF_INIT};
    int rc = zb_remote_retry(s->conf, "starting the multipart upload", create_attempt, &m);
    if (rc < 0)
        return rc;
    if (!(m.etags = calloc((size_t)m.parts, sizeof(char *))))
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
    for (int i = 0; rc == 0 && i < m.parts; i++) {
        upload_job j = {s, name, fd, (uint64_t)i * part_size, 0, m.upload_id, i + 1, NULL, ""};
        j.len = size - j.offset < part_size ? size - j.offset : part_size;
        snprintf(j.what, sizeof(j.what), "uploading part %d of %d", i + 1, m.parts);
        zb_log_debug("%s of %s (%llu bytes)", j.what, name, (unsigned long long)j.len);
        rc = zb_remote_retry(s->conf, j.what, put_attempt, &j);
        m.etags[i] = j.etag;
    }
    if (rc == 0)
        rc = zb_buf_puts(&m.complete_xml, "<CompleteMultipartUpload>");
    for (int i = 0; rc == 0 && i < m.parts; i++) {
        /* An ETag is a quoted hex digest; escape it anyway. */
        rc = zb_buf_printf(&m.complete_xml, "<Part><PartNumber>%d</PartNumber><ETag>", i + 1);
        for (const char *e = m.etags[i]; rc == 0 && *e; e++)
            rc = *e == '"'   ? zb_buf_puts(&m.complete_xml, "&quot;")
                 : *e == '&' ? zb_buf_puts(&m.complete_xml, "&amp;")
                 : *e == '<' ? zb_buf_puts(&m.complete_xml, "&lt;")
                             : zb_buf_append(&m.complete_xml, e, 1);
        if (rc == 0)
            rc = zb_buf_puts(&m.complete_xml, "</ETag></Part>");
    }
    if (rc == 0)
        rc = zb_buf_puts(&m.complete_xml, "</CompleteMultipartUpload>");
    if (rc == 0)
        rc = zb_remote_retry(s->conf, "completing the multipart upload", complete_attempt, &m);
    if (rc < 0)
        abort_multipart(&m);
    for (int i = 0; m.etags && i < m.parts; i++)
        free(m.etags[i]);
    free(m.etags);
    free(m.upload_id);
    zb_buf_free(&m.complete_xml);
    return rc;
}

/* A single PUT creates the object only when the whole body arrived, and a
 * multipart upload only at CompleteMultipartUpload: no partial object is
 * ever visible under the archive's name. */
static int s3_upload(void *state, int fd, uint64_t size, const char *name)
{
    s3 *s = state;
    uint64_t part_size = s->conf->part_size ? s->conf->part_size : ZB_REMOTE_PART_SIZE_DEFAULT;
    if (size > part_size)
        return upload_multipart(s, fd, size, name);
    upload_job j = {s, name, fd, 0, size, NULL, 0, NULL, ""};
    snprintf(j.what, sizeof(j.what), "uploading %s", name);
    int rc = zb_remote_retry(s->conf, j.what, put_attempt, &j);
    free(j.etag);
    return rc;
}

/* ---- list ---- */

typedef struct list_job {
    s3 *s;
    const char *token; /* continuation token, NULL for the first page */
} list_job;

static int list_attempt(void *arg, int *permanent)
{
    list_job *j = arg;
    s3 *s = j->s;
    zb_buf url = ZB_BUF_INIT;
    char *token = NULL, *prefix = NULL;
    int rc = zb_remote_uri_encode(&prefix, s->prefix, 0);
    if (rc == 0 && j->token)
        rc = zb_remote_uri_encode(&token, j->token, 0);
    /* parameters in AWS's canonical order (sorted by name), values encoded */
    if (rc == 0)
        rc = zb_buf_printf(&url, "%s?%s%s%slist-type=2&max-keys=%d%s%s", s->list_url,
                           token ? "continuation-token=" : "", token ? token : "", token ? "&" : "",
                           s->conf->list_chunk > 0 ? s->conf->list_chunk : 1000, *prefix ? "&prefix=" : "", prefix);
    if (rc == 0)
        rc = begin(s, url.data, EMPTY_SHA256, NULL);
    if (rc == 0)
        rc = perform(s, "listing the bucket", permanent);
    free(token);
    free(prefix);
    zb_buf_free(&url);
    return rc;
}

static int s3_list(void *state, zb_remote_each_fn each, void *payload)
{
    s3 *s = state;
    char *token = NULL;
    int rc = 0;
    size_t plen = strlen(s->prefix);
    for (;;) {
        list_job j = {s, token};
        if ((rc = zb_remote_retry(s->conf, "listing the bucket", list_attempt, &j)) < 0)
            break;
        const char *body = s->t.body.data ? s->t.body.data : "", *end = body + s->t.body.len, *pos = body, *inner;
        size_t inner_len;
        while (rc == 0 && zb_xml_next(&pos, end, "Contents", &inner, &inner_len)) {
            char *key = zb_xml_find_text(inner, inner_len, "Key"), *size = zb_xml_find_text(inner, inner_len, "Size");
            if (!key)
                rc = zb_error_set(ZB_EREMOTE, "listing the bucket: an entry without a Key");
            /* only the prefix's own level: "prefix/name", not "prefix/sub/name" */
            else if (strncmp(key, s->prefix, plen) == 0 && key[plen] && !strchr(key + plen, '/'))
                rc = each(key + plen, size ? strtoll(size, NULL, 10) : -1, payload);
            free(key);
            free(size);
        }
        char *truncated = rc == 0 ? zb_xml_find_text(body, s->t.body.len, "IsTruncated") : NULL;
        int more = truncated && strcmp(truncated, "true") == 0;
        free(truncated);
        free(token);
        token = NULL;
        if (rc < 0 || !more)
            break;
        token = zb_xml_find_text(body, s->t.body.len, "NextContinuationToken");
        if (!token || !*token) {
            rc = zb_error_set(ZB_EREMOTE, "listing the bucket: a truncated listing without NextContinuationToken");
            break;
        }
        if (zb_interrupted()) {
            rc = zb_check_interrupt();
            break;
        }
    }
    free(token);
    return rc;
}

/* ---- download, remove ---- */

typedef struct object_job {
    s3 *s;
    const char *name;
    int fd;
} object_job;

static int get_attempt(void *arg, int *permanent)
{
    object_job *j = arg;
    zb_buf url = ZB_BUF_INIT;
    int rc = object_url(&url, j->s, j->name, NULL);
    if (rc == 0)
        rc = begin(j->s, url.data, EMPTY_SHA256, NULL);
    if (rc == 0) {
        if ((rc = zb_transfer_body_to_fd(&j->s->t, j->fd)) < 0)
            *permanent = 1;
        else
            rc = perform(j->s, "downloading", permanent);
    }
    zb_buf_free(&url);
    return rc;
}

static int s3_download(void *state, const char *name, int fd)
{
    object_job j = {state, name, fd};
    return zb_remote_retry(((s3 *)state)->conf, "the download", get_attempt, &j);
}

static int delete_attempt(void *arg, int *permanent)
{
    object_job *j = arg;
    zb_buf url = ZB_BUF_INIT;
    int rc = object_url(&url, j->s, j->name, NULL);
    if (rc == 0)
        rc = begin(j->s, url.data, EMPTY_SHA256, NULL);
    if (rc == 0) {
        j->s->t.req.method = "DELETE";
        rc = perform(j->s, "deleting", permanent);
    }
    zb_buf_free(&url);
    return rc;
}

static int s3_remove(void *state, const char *name)
{
    object_job j = {state, name, -1};
    return zb_remote_retry(((s3 *)state)->conf, "the removal", delete_attempt, &j);
}

/* ---- unfinished multipart uploads ---- */

typedef struct uploads_job {
    s3 *s;
    const char *key_marker, *id_marker; /* where the previous page ended, or NULL */
} uploads_job;

/* ListMultipartUploads: GET bucket?uploads&prefix=P, parameters in AWS's
 * canonical order. */
static int uploads_attempt(void *arg, int *permanent)
{
    uploads_job *j = arg;
    zb_buf url = ZB_BUF_INIT;
    char *prefix = NULL, *key = NULL, *id = NULL;
    int rc = zb_remote_uri_encode(&prefix, j->s->prefix, 0);
    if (rc == 0 && j->key_marker)
        rc = zb_remote_uri_encode(&key, j->key_marker, 0);
    if (rc == 0 && j->id_marker)
        rc = zb_remote_uri_encode(&id, j->id_marker, 0);
    if (rc == 0)
        rc = zb_buf_printf(&url, "%s?%s%s%sprefix=%s&%s%s%suploads=", j->s->list_url, key ? "key-marker=" : "",
                           key ? key : "", key ? "&" : "", prefix, id ? "upload-id-marker=" : "", id ? id : "",
                           id ? "&" : "");
    if (rc == 0)
        rc = begin(j->s, url.data, EMPTY_SHA256, NULL);
    if (rc == 0 && (rc = perform(j->s, "listing unfinished multipart uploads", permanent)) < 0 && j->s->t.status == 501)
        *permanent = 1; /* a server without the call: asking again cannot help */
    free(prefix);
    free(key);
    free(id);
    zb_buf_free(&url);
    return rc;
}

/* "2026-12-07T07:00:00.000Z" (S3 gives milliseconds) */
static time_t initiated_time(const char *text)
{
    char whole[32];
    time_t t = 0;
    if (text && strlen(text) >= 19) {
        snprintf(whole, sizeof(whole), "%.19sZ", text);
        if (zb_time_parse_utc(&t, whole) < 0)
            t = 0;
    }
    zb_error_clear();
    return t;
}

static int each_upload(s3 *s, const char *inner, size_t inner_len, zb_remote_unfinished_fn each, void *payload)
{
    size_t plen = strlen(s->prefix);
    char *key = zb_xml_find_text(inner, inner_len, "Key"), *id = zb_xml_find_text(inner, inner_len, "UploadId");
    char *initiated = zb_xml_find_text(inner, inner_len, "Initiated");
    int rc = 0;
    if (!key || !id)
        rc = zb_error_set(ZB_EREMOTE, "listing unfinished multipart uploads: an entry without Key or UploadId");
    else if (strncmp(key, s->prefix, plen) == 0 && key[plen] && !strchr(key + plen, '/'))
        rc = each(key + plen, id, initiated_time(initiated), payload);
    free(key);
    free(id);
    free(initiated);
    return rc;
}

static int s3_list_unfinished(void *state, zb_remote_unfinished_fn each, void *payload)
{
    s3 *s = state;
    char *key_marker = NULL, *id_marker = NULL;
    int rc = 0;
    for (;;) {
        uploads_job j = {s, key_marker, id_marker};
        if ((rc = zb_remote_retry(s->conf, "listing unfinished multipart uploads", uploads_attempt, &j)) < 0) {
            if (s->t.status == 501) { /* some S3-compatible servers lack it: nothing to find there */
                zb_log_detail("remote %s does not list unfinished multipart uploads (%s)", s->conf->name,
                              zb_error_message());
                zb_error_clear();
                rc = 0;
            }
            break;
        }
        const char *body = s->t.body.data ? s->t.body.data : "", *end = body + s->t.body.len, *pos = body, *inner;
        size_t inner_len;
        while (rc == 0 && zb_xml_next(&pos, end, "Upload", &inner, &inner_len))
            rc = each_upload(s, inner, inner_len, each, payload);
        char *truncated = rc == 0 ? zb_xml_find_text(body, s->t.body.len, "IsTruncated") : NULL;
        int more = truncated && strcmp(truncated, "true") == 0;
        free(truncated);
        free(key_marker);
        free(id_marker);
        key_marker = id_marker = NULL;
        if (rc < 0 || !more)
            break;
        key_marker = zb_xml_find_text(body, s->t.body.len, "NextKeyMarker");
        id_marker = zb_xml_find_text(body, s->t.body.len, "NextUploadIdMarker");
        if (!key_marker || !*key_marker) {
            rc = zb_error_set(ZB_EREMOTE,
                              "listing unfinished multipart uploads: a truncated listing without NextKeyMarker");
            break;
        }
    }
    free(key_marker);
    free(id_marker);
    return rc;
}

static int s3_abort_unfinished(void *state, const char *name, const char *upload_id)
{
    s3 *s = state;
    abort_job j = {s, name, upload_id};
    return zb_remote_retry(s->conf, "aborting the multipart upload", abort_attempt, &j);
}

const zb_remote_driver zb_remote_s3 = {
    "s3", s3_open, s3_upload, s3_list, s3_download, s3_remove, s3_close, s3_list_unfinished, s3_abort_unfinished, NULL};
