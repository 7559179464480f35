#include "zakpos_backup/common/http.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/signal.h"

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_BODY_MAX      (16u * 1024 * 1024)
#define ERROR_BODY_MAX        (64 * 1024) /* the start of an error answer says enough */
#define MESSAGE_FROM_TEXT_MAX 300

struct zb_http {
    CURL *curl; /* kept between requests: it keeps the connection */
};

/* One request's state, shared with libcurl's callbacks. */
typedef struct exchange {
    CURL *curl;
    const zb_http_request *req;
    zb_http_response *resp;
    size_t body_max;
    int callback_failed;
    zb_error_saved callback_error;
} exchange;

int zb_http_global_init(void)
{
    CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
    return code == CURLE_OK ? 0 : zb_error_set(ZB_ENOMEM, "cannot start libcurl: %s", curl_easy_strerror(code));
}

int zb_http_new(zb_http **out)
{
    *out = NULL;
    zb_http *h = calloc(1, sizeof(*h));
    if (!h || !(h->curl = curl_easy_init())) {
        free(h);
        return zb_error_set(ZB_ENOMEM, "cannot start libcurl");
    }
    *out = h;
    return 0;
}

void zb_http_free(zb_http *h)
{
    if (!h)
        return;
    curl_easy_cleanup(h->curl);
    free(h);
}

int zb_http_headers_add(zb_http_headers *h, const char *fmt, ...)
{
    zb_buf line = ZB_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char **grown = realloc(h->lines, (h->count + 1) * sizeof(*grown));
    if (len < 0 || !grown || zb_buf_reserve(&line, (size_t)len + 1) < 0) {
        if (grown)
            h->lines = grown;
        zb_buf_free(&line);
        return zb_error_set(ZB_ENOMEM, "out of memory for a request header");
    }
    h->lines = grown;
    va_start(ap, fmt);
    vsnprintf(line.data, (size_t)len + 1, fmt, ap);
    va_end(ap);
    h->lines[h->count++] = line.data;
    return 0;
}

void zb_http_headers_free(zb_http_headers *h)
{
    for (size_t i = 0; h && i < h->count; i++) {
        sodium_memzero(h->lines[i], strlen(h->lines[i]));
        free(h->lines[i]);
    }
    if (h) {
        free(h->lines);
        h->lines = NULL;
        h->count = 0;
    }
}

void zb_http_response_free(zb_http_response *resp)
{
    if (resp)
        zb_buf_free(&resp->body);
}

void zb_http_describe_url(char *out, size_t size, const char *url)
{
    const char *scheme_end = strstr(url, "://");
    const char *host = scheme_end ? scheme_end + 3 : url;
    const char *at = strchr(host, '@'); /* user:password@host */
    const char *slash = strchr(host, '/');
    if (at && (!slash || at < slash))
        host = at + 1;
    size_t n = strcspn(host, "/?#");
    snprintf(out, size, "%.*s%.*s", scheme_end ? (int)(scheme_end - url + 3) : 0, url, (int)n, host);
}

int zb_http_header_value(const char *line, size_t len, const char *name, char *out, size_t size)
{
    size_t name_len = strlen(name);
    if (len <= name_len || line[name_len] != ':' || strncasecmp(line, name, name_len) != 0)
        return 0;
    const char *v = line + name_len + 1;
    size_t n = len - name_len - 1;
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n && strchr(" \t\r\n", v[n - 1]))
        n--;
    if (n >= size)
        return 0;
    memcpy(out, v, n);
    out[n] = '\0';
    return 1;
}

char *zb_http_escape(const char *value)
{
    char *e = curl_easy_escape(NULL, value, 0);
    char *copy = e ? zb_strdup(e) : NULL;
    curl_free(e);
    return copy;
}

/* ---- libcurl's callbacks ---- */

static long status_of(CURL *c)
{
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static void callback_failed(exchange *x)
{
    x->callback_failed = 1;
    zb_error_save(&x->callback_error);
}

/* A 2xx body goes to the sink (or is kept); an error body is kept, up to
 * its first ERROR_BODY_MAX bytes, to be quoted. */
static size_t on_body(char *data, size_t size, size_t count, void *arg)
{
    exchange *x = arg;
    size_t len = size * count;
    long status = status_of(x->curl);
    int error_answer = status >= 300;
    if (x->req->sink && !error_answer) {
        if (x->req->sink(data, len, x->req->sink_payload) < 0) {
            callback_failed(x);
            return 0; /* aborts the transfer */
        }
        return len;
    }
    zb_buf *body = &x->resp->body;
    size_t limit = error_answer ? ERROR_BODY_MAX : x->body_max;
    if (body->len + len > limit) {
        if (error_answer)
            return len;
        zb_error_set(x->req->error_code ? x->req->error_code : ZB_EREMOTE, "the answer is larger than %zu bytes",
                     limit);
        callback_failed(x);
        return 0;
    }
    if (zb_buf_append(body, data, len) < 0) {
        callback_failed(x);
        return 0;
    }
    return len;
}

static size_t on_header(char *data, size_t size, size_t count, void *arg)
{
    exchange *x = arg;
    x->req->on_header(data, size * count, x->req->header_payload);
    return size * count;
}

static size_t on_read(char *buf, size_t size, size_t count, void *arg)
{
    exchange *x = arg;
    ssize_t n = x->req->source(buf, size * count, x->req->source_payload);
    if (n < 0) {
        callback_failed(x);
        return CURL_READFUNC_ABORT;
    }
    return (size_t)n;
}

static int on_seek(void *arg, curl_off_t offset, int origin)
{
    exchange *x = arg;
    if (origin != SEEK_SET || offset < 0 || !x->req->rewind)
        return CURL_SEEKFUNC_CANTSEEK;
    return x->req->rewind((uint64_t)offset, x->req->source_payload) < 0 ? CURL_SEEKFUNC_CANTSEEK : CURL_SEEKFUNC_OK;
}

/* libcurl calls this at least once a second, also while it connects or
 * waits for an answer: a signal stops the request within ZB_STOP_SECONDS. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)arg, (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return zb_interrupted() ? 1 : 0;
}

/* ---- setting a request up ---- */

static void set_body(CURL *c, exchange *x, const zb_http_request *req, struct curl_slist **headers)
{
    if (req->source) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, x);
        curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(c, CURLOPT_SEEKDATA, x);
        if (req->source_len >= 0) {
            curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->source_len);
        } else if (!req->ssh) {
            *headers = curl_slist_append(*headers, "Transfer-Encoding: chunked");
            *headers = curl_slist_append(*headers, "Expect:");
        }
    } else if (req->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    } else if (req->method && strcmp(req->method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
    }
    if (req->method)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
}

static void set_transport(CURL *c, const zb_http_request *req)
{
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, req->protocols ? req->protocols : "http,https");
    if (req->unix_socket)
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, req->unix_socket);
    if (req->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, req->ca_file);
    if (req->cert_file)
        curl_easy_setopt(c, CURLOPT_SSLCERT, req->cert_file);
    if (req->key_file)
        curl_easy_setopt(c, CURLOPT_SSLKEY, req->key_file);
    if (req->connect_timeout_s > 0)
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, req->connect_timeout_s);
    if (req->timeout_s > 0)
        curl_easy_setopt(c, CURLOPT_TIMEOUT, req->timeout_s);
    if (req->stall_s > 0) {
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, req->stall_s);
    }
    if (req->max_speed) {
        curl_easy_setopt(c, CURLOPT_MAX_SEND_SPEED_LARGE, (curl_off_t)req->max_speed);
        curl_easy_setopt(c, CURLOPT_MAX_RECV_SPEED_LARGE, (curl_off_t)req->max_speed);
    }
    if (req->buffer_bytes > 0) {
        curl_easy_setopt(c, CURLOPT_BUFFERSIZE, req->buffer_bytes);
        curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, req->buffer_bytes);
    }
}

static int set_auth(CURL *c, const zb_http_request *req, struct curl_slist **quote)
{
    if (req->user && *req->user)
        curl_easy_setopt(c, CURLOPT_USERNAME, req->user);
    if (req->password)
        curl_easy_setopt(c, CURLOPT_PASSWORD, req->password);
    if (req->basic_auth)
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    if (req->aws_sigv4)
        curl_easy_setopt(c, CURLOPT_AWS_SIGV4, req->aws_sigv4);
    const zb_http_ssh *ssh = req->ssh;
    if (!ssh)
        return 0;
    /* no key callback: libcurl refuses a host key known_hosts does not hold */
    curl_easy_setopt(c, CURLOPT_SSH_AUTH_TYPES, (long)CURLSSH_AUTH_PUBLICKEY);
    curl_easy_setopt(c, CURLOPT_SSH_PRIVATE_KEYFILE, ssh->private_key);
    curl_easy_setopt(c, CURLOPT_SSH_PUBLIC_KEYFILE, ssh->public_key);
    curl_easy_setopt(c, CURLOPT_SSH_KNOWNHOSTS, ssh->known_hosts);
    curl_easy_setopt(c, CURLOPT_NEW_FILE_PERMS, 0600L);
    curl_easy_setopt(c, CURLOPT_NEW_DIRECTORY_PERMS, 0700L);
    curl_easy_setopt(c, CURLOPT_FTP_CREATE_MISSING_DIRS, (long)CURLFTP_CREATE_DIR);
    if (ssh->command) {
        if (!(*quote = curl_slist_append(NULL, ssh->command)))
            return zb_error_set(ZB_ENOMEM, "out of memory");
        curl_easy_setopt(c, CURLOPT_QUOTE, *quote);
    }
    return 0;
}

static int set_headers(CURL *c, const zb_http_request *req, struct curl_slist **headers)
{
    for (size_t i = 0; req->headers && i < req->headers->count; i++) {
        struct curl_slist *more = curl_slist_append(*headers, req->headers->lines[i]);
        if (!more)
            return zb_error_set(ZB_ENOMEM, "out of memory for a request header");
        *headers = more;
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, *headers);
    return 0;
}

/* A request made before a signal is cut short by it; cleanup after one gets
 * the time left in the cleanup budget. */
static void set_interruption(CURL *c, exchange *x, const zb_http_request *req)
{
    if (req->cleanup) {
        if (zb_interrupted()) {
            double left = zb_cleanup_seconds_left();
            long ms = (long)(left > 1 ? left * 1000 : 1000);
            if (req->timeout_s <= 0 || ms < req->timeout_s * 1000)
                curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms);
        }
        return;
    }
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
}

static int set_request(CURL *c, exchange *x, char *errbuf, struct curl_slist **headers, struct curl_slist **quote)
{
    const zb_http_request *req = x->req;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    if (req->on_header) {
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    }
    if (req->no_body)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (req->list_only)
        curl_easy_setopt(c, CURLOPT_DIRLISTONLY, 1L);
    if (req->want_filetime)
        curl_easy_setopt(c, CURLOPT_FILETIME, 1L);
    set_transport(c, req);
    set_body(c, x, req, headers);
    set_interruption(c, x, req);
    int rc = set_auth(c, req, quote);
    return rc < 0 ? rc : set_headers(c, req, headers);
}

/* ---- describing the outcome ---- */

/* Replaces each occurrence of secret in text by replacement. */
static void scrub(char *text, const char *secret, const char *replacement)
{
    size_t n = secret ? strlen(secret) : 0, r = strlen(replacement);
    char *at;
    if (n == 0 || r > n)
        return;
    while ((at = strstr(text, secret)) != NULL) {
        memcpy(at, replacement, r);
        memmove(at + r, at + n, strlen(at + n) + 1);
    }
}

/* libcurl's account, without the URL (its path or query may hold a token)
 * or the password. */
static void transport_text(const zb_http_request *req, const char *errbuf, CURLcode code, zb_http_response *resp)
{
    char where[256];
    snprintf(resp->transport, sizeof(resp->transport), "%s", *errbuf ? errbuf : curl_easy_strerror(code));
    zb_http_describe_url(where, sizeof(where), req->url);
    scrub(resp->transport, req->url, where);
    scrub(resp->transport, req->password, "***");
    resp->summary = curl_easy_strerror(code);
}

/* Docker's {"message": "..."}, or the start of any other answer but
 * markup (a server's HTML error page says no more than its status). */
static void default_message(const char *body, size_t len, char *out, size_t size)
{
    json_t *doc = json_loadb(body, len, 0, NULL);
    const char *message = json_string_value(json_object_get(doc, "message"));
    size_t lead = 0;
    while (lead < len && (body[lead] == ' ' || body[lead] == '\t' || body[lead] == '\r' || body[lead] == '\n'))
        lead++;
    if (message)
        snprintf(out, size, "%s", message);
    else if (lead < len && body[lead] != '<')
        snprintf(out, size, "%.*s", (int)(len < MESSAGE_FROM_TEXT_MAX ? len : MESSAGE_FROM_TEXT_MAX), body);
    json_decref(doc);
    size_t n = strlen(out);
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
        out[--n] = '\0';
}

static zb_http_failure failure_of(CURLcode code)
{
    switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return ZB_HTTP_UNREACHABLE;
    case CURLE_OPERATION_TIMEDOUT: return ZB_HTTP_TIMEOUT;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE: return ZB_HTTP_PEER_REJECTED;
    case CURLE_LOGIN_DENIED: return ZB_HTTP_LOGIN_DENIED;
    case CURLE_REMOTE_FILE_NOT_FOUND: return ZB_HTTP_NOT_FOUND;
    default: return ZB_HTTP_TRANSPORT;
    }
}

/* Failures that happen the same way however often they are tried. */
static int permanent_code(CURLcode code)
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
    case CURLE_FILE_COULDNT_READ_FILE: return 1;
    default: return 0;
    }
}

static int status_failure(const zb_http_request *req, zb_http_response *resp, int err)
{
    zb_http_message_fn message = req->message ? req->message : default_message;
    if (resp->body.len)
        message(resp->body.data, resp->body.len, resp->message, sizeof(resp->message));
    resp->failure = ZB_HTTP_STATUS;
    resp->permanent = !(resp->status == 408 || resp->status == 429 || resp->status >= 500);
    return zb_error_set(resp->status == 404 ? ZB_ENOTFOUND : err, "%s: HTTP %ld%s%s", req->what, resp->status,
                        resp->message[0] ? " " : "", resp->message);
}

static int outcome(exchange *x, CURLcode code, const char *errbuf)
{
    const zb_http_request *req = x->req;
    zb_http_response *resp = x->resp;
    int err = req->error_code ? req->error_code : ZB_EREMOTE;
    if (x->callback_failed) {
        resp->failure = ZB_HTTP_CALLBACK;
        resp->permanent = 1;
        return zb_error_raise(&x->callback_error);
    }
    if (code == CURLE_ABORTED_BY_CALLBACK || (code != CURLE_OK && !req->cleanup && zb_interrupted())) {
        resp->failure = ZB_HTTP_INTERRUPTED;
        resp->permanent = 1;
        return zb_error_set(ZB_EINTR, "%s: interrupted by signal %d", req->what, zb_interrupted());
    }
    if (code != CURLE_OK) {
        transport_text(req, errbuf, code, resp);
        resp->failure = failure_of(code);
        resp->permanent = permanent_code(code);
        if (req->cleanup && zb_interrupted() && code == CURLE_OPERATION_TIMEDOUT)
            return zb_error_set(err, "%s: no answer within the %d s left for cleanup after a signal", req->what,
                                ZB_CLEANUP_SECONDS);
        return zb_error_set(code == CURLE_REMOTE_FILE_NOT_FOUND ? ZB_ENOTFOUND : err, "%s: %s%s%s%s", req->what,
                            resp->summary, *errbuf ? " (" : "", *errbuf ? resp->transport : "", *errbuf ? ")" : "");
    }
    if (resp->status == 0 || (resp->status >= 200 && resp->status < 300))
        return 0;
    return status_failure(req, resp, err);
}

int zb_http_perform(zb_http *h, const zb_http_request *req, zb_http_response *resp)
{
    memset(resp, 0, sizeof(*resp));
    resp->filetime = -1;
    resp->summary = "";
    exchange x = {
        .curl = h->curl, .req = req, .resp = resp, .body_max = req->body_max ? req->body_max : DEFAULT_BODY_MAX};
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL, *quote = NULL;
    int rc = set_request(h->curl, &x, errbuf, &headers, &quote);
    if (rc == 0) {
        CURLcode code = curl_easy_perform(h->curl);
        resp->status = status_of(h->curl);
        curl_off_t filetime = -1;
        if (req->want_filetime && curl_easy_getinfo(h->curl, CURLINFO_FILETIME_T, &filetime) == CURLE_OK)
            resp->filetime = filetime;
        rc = outcome(&x, code, errbuf);
    }
    /* the handle must not point at this call's lists and buffer any more */
    curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h->curl, CURLOPT_QUOTE, NULL);
    curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(headers);
    curl_slist_free_all(quote);
    return rc;
}

/* ------------------------------------------------- raw connections */

struct zb_http_conn {
    CURL *curl;
    curl_socket_t sock;
};

void zb_http_conn_close(zb_http_conn *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    free(c);
}

int zb_http_connect(zb_http_conn **out, const zb_http_request *req, zb_http_response *resp)
{
    *out = NULL;
    memset(resp, 0, sizeof(*resp));
    int err = req->error_code ? req->error_code : ZB_EREMOTE;
    zb_http_conn *c = calloc(1, sizeof(*c));
    if (!c || !(c->curl = curl_easy_init())) {
        zb_http_conn_close(c);
        return zb_error_set(ZB_ENOMEM, "out of memory");
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c->curl, CURLOPT_URL, req->url);
    curl_easy_setopt(c->curl, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    set_transport(c->curl, req);
    CURLcode code = curl_easy_perform(c->curl);
    if (code == CURLE_OK &&
        (curl_easy_getinfo(c->curl, CURLINFO_ACTIVESOCKET, &c->sock) != CURLE_OK || c->sock == CURL_SOCKET_BAD))
        code = CURLE_COULDNT_CONNECT;
    if (code != CURLE_OK) {
        transport_text(req, errbuf, code, resp);
        resp->failure = failure_of(code);
        zb_http_conn_close(c);
        return zb_error_set(err, "%s: %s", req->what ? req->what : "connecting", resp->transport);
    }
    *out = c;
    return 0;
}

int zb_http_conn_socket(const zb_http_conn *c) { return (int)c->sock; }

int zb_http_conn_send(zb_http_conn *c, const void *data, size_t len, size_t *sent)
{
    *sent = 0;
    CURLcode code = curl_easy_send(c->curl, data, len, sent);
    if (code == CURLE_AGAIN)
        return 0;
    return code == CURLE_OK ? 0
                            : zb_error_set(ZB_EREMOTE, "cannot send on the connection: %s", curl_easy_strerror(code));
}

int zb_http_conn_recv(zb_http_conn *c, void *buf, size_t len, size_t *got, int *closed)
{
    *got = 0;
    *closed = 0;
    CURLcode code = curl_easy_recv(c->curl, buf, len, got);
    if (code == CURLE_AGAIN)
        return 0;
    if (code != CURLE_OK)
        return zb_error_set(ZB_EREMOTE, "the connection broke off: %s", curl_easy_strerror(code));
    *closed = *got == 0;
    return 0;
}
