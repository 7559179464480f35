#include "zakpos_backup/source/docker/client.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/http.h"
#include "zakpos_backup/common/place.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/signal.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONNECT_TIMEOUT_S   10
#define MAX_SMALL_BODY      (4u << 20)    /* JSON answers and error bodies */
#define STREAM_BUFFER_BYTES (512L * 1024) /* the largest receive buffer libcurl takes */

struct zb_docker {
    zb_http *http; /* reused between requests (keeps the connection) */
    int http_busy; /* a request runs on it: another thread's request gets its own */
    pthread_mutex_t lock;
    char *host;     /* as given, for messages */
    char *base_url; /* "http://docker" for a socket, "https://host:port" for TLS */
    char *socket_path;
    char ca[1024], cert[1024], key[1024]; /* TLS: DOCKER_CERT_PATH's files */
    char api[16];
};

/* One request's state, shared with the header callback. */
typedef struct exchange {
    zb_docker *d;
    zb_http_response resp;
    zb_docker_sink sink;
    void *sink_payload;
    zb_docker_source source;
    void *source_payload;
    char api_version[16]; /* from the Api-Version header */
} exchange;

static void on_header(const char *line, size_t len, void *arg)
{
    exchange *x = arg;
    zb_http_header_value(line, len, "Api-Version", x->api_version, sizeof(x->api_version));
}

static ssize_t on_read(void *buf, size_t len, void *arg)
{
    exchange *x = arg;
    return x->source(buf, len, x->source_payload);
}

static int on_body(const void *data, size_t len, void *arg)
{
    exchange *x = arg;
    return x->sink(data, len, x->sink_payload);
}

/* The shared client when it is free, else one of the request's own: a
 * volume restore streams its upload on a thread while the next volume's
 * requests run (a connection serves one request at a time). */
static zb_http *take_client(zb_docker *d)
{
    pthread_mutex_lock(&d->lock);
    int shared = !d->http_busy;
    d->http_busy = 1;
    pthread_mutex_unlock(&d->lock);
    zb_http *own = NULL;
    return shared ? d->http : (zb_http_new(&own) == 0 ? own : NULL);
}

static void give_client(zb_docker *d, zb_http *h)
{
    if (h != d->http) {
        zb_http_free(h);
        return;
    }
    pthread_mutex_lock(&d->lock);
    d->http_busy = 0;
    pthread_mutex_unlock(&d->lock);
}

/* Docker's wording of a failure the client reported in general terms. */
static int docker_error(zb_docker *d, const exchange *x, const char *method, const char *path, int cleanup, int rc)
{
    const zb_http_response *r = &x->resp;
    switch (r->failure) {
    case ZB_HTTP_STATUS:
        return zb_error_set(ZB_EDOCKER, "Docker refused %s %s (HTTP %ld): %s", method, path, r->status,
                            r->message[0] ? r->message : "no message");
    case ZB_HTTP_OK:
    case ZB_HTTP_CALLBACK:
    case ZB_HTTP_INTERRUPTED: return rc;
    default:
        if (cleanup && r->failure == ZB_HTTP_TIMEOUT)
            return rc; /* the cleanup budget ran out: the client's words say so */
        if (r->status == 0) {
            zb_error_set(ZB_EDOCKER, "cannot reach the Docker daemon at %s: %s", d->host, r->transport);
            return zb_error_hint(
                "is dockerd running, and is DOCKER_HOST right? (this process needs access to its socket)");
        }
        return zb_error_set(ZB_EDOCKER, "%s %s: the stream from Docker broke off: %s", method, path, r->transport);
    }
}

/* Runs one request. path starts with '/' and has no version prefix, except
 * for /_ping which is asked before the version is known. */
static int perform(zb_docker *d, exchange *x, const char *method, const char *path, const char *content_type,
                   const void *body, size_t body_len, long *status_out)
{
    zb_buf url = ZB_BUF_INIT, what = ZB_BUF_INIT;
    zb_http_headers headers = {0};
    zb_http *h = take_client(d);
    int rc = h ? 0 : zb_error_set(ZB_ENOMEM, "out of memory for a Docker request");
    if (rc == 0)
        rc = d->api[0] ? zb_buf_printf(&url, "%s/v%s%s", d->base_url, d->api, path)
                       : zb_buf_printf(&url, "%s%s", d->base_url, path);
    if (rc == 0)
        rc = zb_buf_printf(&what, "%s %s", method, path);
    if (rc == 0 && content_type)
        rc = zb_http_headers_add(&headers, "Content-Type: %s", content_type);
    int tls = d->ca[0] != '\0';
    /* A request made before a signal is cut short by it (a stop waiting for
     * a slow service, a volume's stream); one made after it is cleanup. */
    zb_http_request req = {.what = what.data,
                           .method = method,
                           .url = url.data,
                           .headers = &headers,
                           .unix_socket = d->socket_path,
                           .ca_file = tls ? d->ca : NULL,
                           .cert_file = tls ? d->cert : NULL,
                           .key_file = tls ? d->key : NULL,
                           .body = body,
                           .body_len = body_len,
                           .sink = x->sink ? on_body : NULL,
                           .sink_payload = x,
                           .body_max = MAX_SMALL_BODY,
                           .on_header = on_header,
                           .header_payload = x,
                           .connect_timeout_s = CONNECT_TIMEOUT_S,
                           /* volume streams are large: bigger reads and sends mean fewer
                            * callbacks, pipe writes and thread wake-ups (costly on a VM) */
                           .buffer_bytes = STREAM_BUFFER_BYTES,
                           .cleanup = zb_interrupted() != 0,
                           .error_code = ZB_EDOCKER};
    if (x->source) {
        req.source = on_read;
        req.source_payload = x;
        req.source_len = -1;
    }
    if (rc == 0) {
        rc = zb_http_perform(h, &req, &x->resp);
        if (status_out)
            *status_out = x->resp.status;
        if (rc < 0)
            rc = docker_error(d, x, method, path, req.cleanup, rc);
    }
    if (h)
        give_client(d, h);
    zb_http_headers_free(&headers);
    zb_buf_free(&url);
    zb_buf_free(&what);
    return rc;
}

static void exchange_init(exchange *x, zb_docker *d)
{
    memset(x, 0, sizeof(*x));
    x->d = d;
}

static int version_below(const char *a, const char *b)
{
    int amaj = 0, amin = 0, bmaj = 0, bmin = 0;
    sscanf(a, "%d.%d", &amaj, &amin);
    sscanf(b, "%d.%d", &bmaj, &bmin);
    return amaj != bmaj ? amaj < bmaj : amin < bmin;
}

static int negotiate(zb_docker *d)
{
    exchange x;
    exchange_init(&x, d);
    int rc = perform(d, &x, "GET", "/_ping", NULL, NULL, 0, NULL);
    zb_http_response_free(&x.resp);
    if (rc < 0)
        return rc;
    const char *server = x.api_version[0] ? x.api_version : ZB_DOCKER_MIN_API;
    if (version_below(server, ZB_DOCKER_MIN_API))
        return zb_error_set(ZB_EDOCKER, "the Docker daemon at %s speaks API %s; %s or later is needed (Docker 19.03+)",
                            d->host, server, ZB_DOCKER_MIN_API);
    snprintf(d->api, sizeof(d->api), "%s", version_below(server, ZB_DOCKER_MAX_API) ? server : ZB_DOCKER_MAX_API);
    zb_log_debug("Docker at %s: API %s", d->host, d->api);
    return 0;
}

/* The CA and client certificate as Docker's own tools find them. */
static void tls_files(zb_docker *d)
{
    const char *dir = getenv("DOCKER_CERT_PATH");
    const char *home = getenv("HOME");
    int own = dir && *dir;
    const char *base = own ? dir : home ? home : "";
    const char *sub = own ? "" : "/.docker";
    snprintf(d->ca, sizeof(d->ca), "%s%s/ca.pem", base, sub);
    snprintf(d->cert, sizeof(d->cert), "%s%s/cert.pem", base, sub);
    snprintf(d->key, sizeof(d->key), "%s%s/key.pem", base, sub);
}

static int parse_host(zb_docker *d, const char *host)
{
    zb_buf url = ZB_BUF_INIT;
    int rc = 0;
    if (strncmp(host, "unix://", 7) == 0 && host[7]) {
        d->socket_path = zb_strdup(host + 7);
        rc = d->socket_path ? zb_buf_puts(&url, "http://docker") : zb_error_set(ZB_ENOMEM, "out of memory");
    } else if (strncmp(host, "tcp://", 6) == 0 && host[6]) {
        const char *verify = getenv("DOCKER_TLS_VERIFY");
        int tls = verify && *verify && strcmp(verify, "0") != 0;
        rc = zb_buf_printf(&url, "%s://%s", tls ? "https" : "http", host + 6);
        while (rc == 0 && url.len && url.data[url.len - 1] == '/')
            url.data[--url.len] = '\0';
        if (tls)
            tls_files(d);
    } else {
        rc = zb_error_set(ZB_EUSAGE, "DOCKER_HOST '%s' is not unix:///path or tcp://host:port", host);
    }
    if (rc == 0)
        d->base_url = zb_buf_detach(&url);
    zb_buf_free(&url);
    return rc;
}

int zb_docker_open(zb_docker **out, const char *host)
{
    *out = NULL;
    if (!host || !*host)
        host = zb_place_docker_host();
    if (!host || !*host)
        host = ZB_DOCKER_DEFAULT_HOST;
    zb_docker *d = calloc(1, sizeof(*d));
    if (d)
        pthread_mutex_init(&d->lock, NULL);
    if (!d || !(d->host = zb_strdup(host)) || zb_http_new(&d->http) < 0) {
        zb_docker_close(d);
        return zb_error_set(ZB_ENOMEM, "out of memory for a Docker client");
    }
    int rc = parse_host(d, host);
    if (rc == 0)
        rc = negotiate(d);
    if (rc < 0) {
        zb_docker_close(d);
        return rc;
    }
    *out = d;
    return 0;
}

void zb_docker_close(zb_docker *d)
{
    if (!d)
        return;
    zb_http_free(d->http);
    pthread_mutex_destroy(&d->lock);
    free(d->host);
    free(d->base_url);
    free(d->socket_path);
    free(d);
}

const char *zb_docker_api_version(const zb_docker *d) { return d->api; }
const char *zb_docker_host(const zb_docker *d) { return d->host; }

int zb_docker_json(zb_docker *d, const char *method, const char *path, json_t *body, json_t **out, long *status)
{
    if (out)
        *out = NULL;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (body && !text)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    exchange x;
    exchange_init(&x, d);
    int rc = perform(d, &x, method, path, body ? "application/json" : NULL, text, text ? strlen(text) : 0, status);
    free(text);
    if (rc == 0 && out && x.resp.body.len) {
        json_error_t err;
        *out = json_loadb(x.resp.body.data, x.resp.body.len, 0, &err);
        if (!*out)
            rc = zb_error_set(ZB_EDOCKER, "%s %s: Docker's answer is not JSON: %s", method, path, err.text);
    }
    zb_http_response_free(&x.resp);
    return rc;
}

int zb_docker_stream(zb_docker *d, const char *method, const char *path, json_t *body, zb_docker_sink sink,
                     void *payload, long *status)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (body && !text)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    exchange x;
    exchange_init(&x, d);
    x.sink = sink;
    x.sink_payload = payload;
    int rc = perform(d, &x, method, path, body ? "application/json" : NULL, text, text ? strlen(text) : 0, status);
    free(text);
    zb_http_response_free(&x.resp);
    return rc;
}

int zb_docker_get_stream(zb_docker *d, const char *path, zb_docker_sink sink, void *payload, long *status)
{
    return zb_docker_stream(d, "GET", path, NULL, sink, payload, status);
}

/* Some endpoints (image import) answer 200 with a stream of JSON objects,
 * one of which may carry {"error": ...}: that is a failure too. */
static int streamed_answer(const char *path, const zb_buf *body, json_t **out)
{
    json_t *last = NULL;
    int rc = 0;
    for (size_t at = 0; rc == 0 && body->data && at < body->len;) {
        json_error_t err;
        json_t *doc = json_loadb(body->data + at, body->len - at, JSON_DISABLE_EOF_CHECK, &err);
        if (!doc)
            break;
        at += err.position;
        while (at < body->len && (body->data[at] == '\n' || body->data[at] == '\r' || body->data[at] == ' '))
            at++;
        const char *error = json_string_value(json_object_get(doc, "error"));
        if (error)
            rc = zb_error_set(ZB_EDOCKER, "%s: Docker reported: %s", path, error);
        json_decref(last);
        last = doc;
    }
    if (rc == 0 && out)
        *out = last;
    else
        json_decref(last);
    return rc;
}

int zb_docker_send_stream(zb_docker *d, const char *method, const char *path, const char *content_type,
                          zb_docker_source source, void *payload, json_t **out, long *status)
{
    if (out)
        *out = NULL;
    exchange x;
    exchange_init(&x, d);
    x.source = source;
    x.source_payload = payload;
    int rc = perform(d, &x, method, path, content_type, NULL, 0, status);
    if (rc == 0)
        rc = streamed_answer(path, &x.resp.body, out);
    zb_http_response_free(&x.resp);
    return rc;
}

char *zb_docker_escape(const char *value) { return zb_http_escape(value); }

/* ------------------------------------------------------ hijacked attach */

/* libcurl cannot stream a request body into a connection the server took
 * over (HTTP 101), so the attach speaks HTTP itself on a raw connection
 * (common/http: the same unix socket or TLS as every other request). */
#define ATTACH_POLL_MS     200
#define ATTACH_PENDING_MAX (4u << 20)

struct zb_docker_attach {
    zb_http_conn *conn;
    zb_buf pending; /* received but not yet handed out (read while sending) */
    size_t pending_at;
    int eof;
    unsigned frame_stream;
    size_t frame_left;
};

static int attach_wait(zb_docker_attach *a, short events, short *got)
{
    if (zb_interrupted())
        return zb_error_set(ZB_EINTR, "attached stream: interrupted by signal %d", zb_interrupted());
    struct pollfd p = {zb_http_conn_socket(a->conn), events, 0};
    int n = poll(&p, 1, ATTACH_POLL_MS);
    if (n < 0 && errno != EINTR)
        return zb_error_errno(ZB_EDOCKER, errno, "attached stream: poll failed");
    *got = n > 0 ? p.revents : 0;
    return 0;
}

/* Reads what the socket has into pending (0 when nothing yet). */
static int attach_pull(zb_docker_attach *a)
{
    char buf[64 * 1024];
    size_t n = 0;
    int closed = 0;
    if (zb_http_conn_recv(a->conn, buf, sizeof(buf), &n, &closed) < 0)
        return zb_error_set(ZB_EDOCKER, "the attached stream from Docker broke off: %s", zb_error_message());
    if (closed) {
        a->eof = 1;
        return 0;
    }
    if (n == 0)
        return 0;
    if (a->pending_at == a->pending.len)
        zb_buf_reset(&a->pending), a->pending_at = 0;
    if (a->pending.len - a->pending_at + n > ATTACH_PENDING_MAX)
        return zb_error_set(ZB_EDOCKER, "the attached container wrote more than %u bytes while it was sent data",
                            ATTACH_PENDING_MAX);
    return zb_buf_append(&a->pending, buf, n);
}

/* Up to len raw bytes: >0, 0 at the end of the connection. */
static ssize_t attach_raw(zb_docker_attach *a, void *buf, size_t len)
{
    while (a->pending_at == a->pending.len && !a->eof) {
        int rc = attach_pull(a);
        short got;
        if (rc == 0 && a->pending_at == a->pending.len && !a->eof)
            rc = attach_wait(a, POLLIN, &got);
        if (rc < 0)
            return rc;
    }
    size_t n = a->pending.len - a->pending_at;
    if (n > len)
        n = len;
    memcpy(buf, a->pending.data + a->pending_at, n);
    a->pending_at += n;
    return (ssize_t)n;
}

int zb_docker_attach_send(zb_docker_attach *a, const void *data, size_t len)
{
    const char *p = data;
    /* Docker keeps taking stdin after the container ended; the end of its
     * output says so */
    struct pollfd ready = {zb_http_conn_socket(a->conn), POLLIN, 0};
    if (!a->eof && poll(&ready, 1, 0) > 0) {
        int rc = attach_pull(a);
        if (rc < 0)
            return rc;
    }
    if (a->eof)
        return zb_error_set(ZB_EDOCKER, "the attached container ended while it was sent data");
    while (len > 0) {
        size_t sent = 0;
        if (zb_http_conn_send(a->conn, p, len, &sent) < 0)
            return zb_error_set(ZB_EDOCKER, "cannot send to the attached container: %s", zb_error_message());
        if (sent > 0) {
            p += sent, len -= sent;
            continue;
        }
        short got = 0;
        int rc = attach_wait(a, POLLOUT | POLLIN, &got);
        /* what the container says meanwhile is kept, so it never blocks on a
         * full connection while this side blocks on sending */
        if (rc == 0 && (got & POLLIN) && !a->eof)
            rc = attach_pull(a);
        if (rc < 0)
            return rc;
    }
    return 0;
}

ssize_t zb_docker_attach_recv(zb_docker_attach *a, void *buf, size_t len, int *stream)
{
    while (a->frame_left == 0) {
        unsigned char header[8];
        size_t have = 0;
        while (have < sizeof(header)) {
            ssize_t n = attach_raw(a, header + have, sizeof(header) - have);
            if (n < 0)
                return n;
            if (n == 0)
                return have ? zb_error_set(ZB_EDOCKER, "the attached stream ended inside a frame header") : 0;
            have += (size_t)n;
        }
        a->frame_stream = header[0];
        a->frame_left = (size_t)header[4] << 24 | (size_t)header[5] << 16 | (size_t)header[6] << 8 | header[7];
    }
    ssize_t n = attach_raw(a, buf, len < a->frame_left ? len : a->frame_left);
    if (n == 0)
        return zb_error_set(ZB_EDOCKER, "the attached stream ended inside a frame");
    if (n > 0)
        a->frame_left -= (size_t)n;
    *stream = (int)a->frame_stream;
    return n;
}

/* Reads the answer's head; what follows it stays in pending. */
static int attach_answer(zb_docker_attach *a, const char *path)
{
    size_t end = 0;
    while (1) {
        char *head = a->pending.data;
        char *stop = head ? strstr(head, "\r\n\r\n") : NULL;
        if (stop) {
            end = (size_t)(stop - head) + 4;
            break;
        }
        if (a->eof || a->pending.len > 65536)
            return zb_error_set(ZB_EDOCKER, "POST %s: Docker's answer has no end of headers", path);
        a->pending_at = 0;
        size_t before = a->pending.len;
        int rc = attach_pull(a);
        short got;
        if (rc == 0 && a->pending.len == before && !a->eof)
            rc = attach_wait(a, POLLIN, &got);
        if (rc < 0)
            return rc;
    }
    int status = 0;
    sscanf(a->pending.data, "HTTP/%*s %d", &status);
    if (status != 101 && status != 200) {
        const char *body = a->pending.data + end;
        return zb_error_set(ZB_EDOCKER, "Docker refused POST %s (HTTP %d): %.300s", path, status,
                            *body ? body : "no message");
    }
    a->pending_at = end;
    return 0;
}

/* The raw connection, through the transport every other request takes. */
static int attach_connect(zb_docker *d, zb_docker_attach *a)
{
    zb_buf url = ZB_BUF_INIT;
    int tls = d->ca[0] != '\0';
    int rc = zb_buf_printf(&url, "%s/", d->base_url);
    zb_http_request req = {.what = "attaching to a container",
                           .url = url.data,
                           .unix_socket = d->socket_path,
                           .ca_file = tls ? d->ca : NULL,
                           .cert_file = tls ? d->cert : NULL,
                           .key_file = tls ? d->key : NULL,
                           .connect_timeout_s = CONNECT_TIMEOUT_S,
                           .error_code = ZB_EDOCKER};
    zb_http_response resp = {0};
    if (rc == 0 && zb_http_connect(&a->conn, &req, &resp) < 0) {
        zb_error_set(ZB_EDOCKER, "cannot reach the Docker daemon at %s: %s", d->host, resp.transport);
        rc = zb_error_hint("is dockerd running, and is DOCKER_HOST right? (this process needs access to its socket)");
    }
    zb_http_response_free(&resp);
    zb_buf_free(&url);
    return rc;
}

int zb_docker_attach_open(zb_docker_attach **out, zb_docker *d, const char *id, int with_stdin)
{
    *out = NULL;
    zb_docker_attach *a = calloc(1, sizeof(*a));
    zb_buf path = ZB_BUF_INIT, request = ZB_BUF_INIT;
    int rc = a ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
    char *escaped = rc == 0 ? zb_docker_escape(id) : NULL;
    if (rc == 0)
        rc = escaped ? zb_buf_printf(&path, "/containers/%s/attach?stream=1&stdout=1&stderr=1&stdin=%d", escaped,
                                     with_stdin)
                     : zb_error_set(ZB_ENOMEM, "out of memory");
    free(escaped);
    if (rc == 0)
        rc = attach_connect(d, a);
    if (rc == 0)
        rc = zb_buf_printf(
            &request,
            "POST /v%s%s HTTP/1.1\r\nHost: docker\r\nUser-Agent: zakpos-backup/%s\r\n"
            "Content-Type: text/plain\r\nContent-Length: 0\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
            d->api, path.data, ZB_VERSION);
    if (rc == 0)
        rc = zb_docker_attach_send(a, request.data, request.len);
    if (rc == 0)
        rc = attach_answer(a, path.data);
    zb_buf_free(&path);
    zb_buf_free(&request);
    if (rc < 0) {
        zb_docker_attach_close(a);
        return rc;
    }
    *out = a;
    return 0;
}

int zb_docker_attach_socket(const zb_docker_attach *a) { return zb_http_conn_socket(a->conn); }

int zb_docker_attach_buffered(const zb_docker_attach *a) { return a->eof || a->pending_at < a->pending.len; }

const char *zb_docker_unix_socket(const zb_docker *d) { return d->socket_path; }

void zb_docker_attach_close(zb_docker_attach *a)
{
    if (!a)
        return;
    zb_http_conn_close(a->conn);
    zb_buf_free(&a->pending);
    free(a);
}
