#include "zakpos_backup/source/docker/client.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/signal.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONNECT_TIMEOUT_S 10
#define MAX_SMALL_BODY (4u << 20) /* JSON answers and error bodies */
#define STREAM_BUFFER_BYTES (512L * 1024) /* the largest receive buffer libcurl takes */

struct zb_docker {
    CURL *curl;     /* reused between requests (keeps the connection) */
    int curl_busy;  /* a request runs on it: another thread's request gets its own handle */
    pthread_mutex_t lock;
    char *host;     /* as given, for messages */
    char *base_url; /* "http://docker" for a socket, "https://host:port" for TLS */
    char *socket_path;
    char api[16];
};

/* One request's state, shared with the callbacks. */
typedef struct exchange {
    zb_docker *d;
    zb_buf body;              /* small answers, or an error answer */
    zb_docker_sink sink;      /* streamed 2xx answers go here instead */
    void *sink_payload;
    zb_docker_source source;
    void *source_payload;
    int callback_failed;
    zb_error_saved callback_error;
    char api_version[16];     /* from the Api-Version header */
} exchange;

static long response_status(CURL *curl)
{
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static size_t on_body(char *data, size_t size, size_t count, void *arg)
{
    exchange *x = arg;
    size_t len = size * count;
    long status = response_status(x->d->curl);
    if (x->sink && status >= 200 && status < 300) {
        if (x->sink(data, len, x->sink_payload) < 0) {
            x->callback_failed = 1;
            zb_error_save(&x->callback_error);
            return 0; /* aborts the transfer */
        }
        return len;
    }
    if (x->body.len + len > MAX_SMALL_BODY) {
        x->callback_failed = 1;
        zb_error_set(ZB_EDOCKER, "Docker's answer is larger than %u bytes", MAX_SMALL_BODY);
        zb_error_save(&x->callback_error);
        return 0;
    }
    return zb_buf_append(&x->body, data, len) == 0 ? len : 0;
}

static size_t on_header(char *data, size_t size, size_t count, void *arg)
{
    exchange *x = arg;
    size_t len = size * count;
    if (len > 12 && strncasecmp(data, "Api-Version:", 12) == 0) {
        const char *v = data + 12;
        while (*v == ' ')
            v++;
        size_t n = strcspn(v, "\r\n");
        if (n < sizeof(x->api_version)) {
            memcpy(x->api_version, v, n);
            x->api_version[n] = '\0';
        }
    }
    return len;
}

static size_t on_read(char *buf, size_t size, size_t count, void *arg)
{
    exchange *x = arg;
    ssize_t n = x->source(buf, size * count, x->source_payload);
    if (n < 0) {
        x->callback_failed = 1;
        zb_error_save(&x->callback_error);
        return CURL_READFUNC_ABORT;
    }
    return (size_t)n;
}

/* Docker's own words for a failed request: {"message": "..."}. */
static int http_error(exchange *x, const char *method, const char *path, long status)
{
    json_t *doc = x->body.len ? json_loadb(x->body.data, x->body.len, 0, NULL) : NULL;
    const char *message = json_string_value(json_object_get(doc, "message"));
    zb_buf text = ZB_BUF_INIT;
    if (message)
        zb_buf_puts(&text, message);
    else if (x->body.len)
        zb_buf_append(&text, x->body.data, x->body.len < 300 ? x->body.len : 300);
    while (text.len && (text.data[text.len - 1] == '\n' || text.data[text.len - 1] == '\r'))
        text.data[--text.len] = '\0';
    zb_error_set(ZB_EDOCKER, "Docker refused %s %s (HTTP %ld): %s", method, path, status, text.len ? text.data : "no message");
    zb_buf_free(&text);
    json_decref(doc);
    return ZB_EDOCKER;
}

static int transport_error(zb_docker *d, CURLcode code, const char *errbuf)
{
    zb_error_set(ZB_EDOCKER, "cannot reach the Docker daemon at %s: %s", d->host, *errbuf ? errbuf : curl_easy_strerror(code));
    return zb_error_hint("is dockerd running, and is DOCKER_HOST right? (this process needs access to its socket)");
}

/* Runs one request. path starts with '/' and has no version prefix, except
 * for /_ping which is asked before the version is known. */
/* The shared handle when it is free, else a handle of the request's own:
 * a volume restore streams its upload on a thread while the next volume's
 * requests run (a curl handle serves one request at a time). */
static CURL *take_handle(zb_docker *d)
{
    pthread_mutex_lock(&d->lock);
    int shared = !d->curl_busy;
    d->curl_busy = 1;
    pthread_mutex_unlock(&d->lock);
    return shared ? d->curl : curl_easy_init();
}

static void give_handle(zb_docker *d, CURL *c)
{
    if (c != d->curl) {
        curl_easy_cleanup(c);
        return;
    }
    pthread_mutex_lock(&d->lock);
    d->curl_busy = 0;
    pthread_mutex_unlock(&d->lock);
}

static int perform_on(CURL *c, zb_docker *d, exchange *x, const char *method, const char *path, const char *content_type,
                      const void *body, size_t body_len, long *status_out);

/* libcurl calls this at least once a second, also while it waits. */
static int stop_on_signal(void *payload, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)payload, (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return zb_interrupted() ? 1 : 0;
}

static int perform(zb_docker *d, exchange *x, const char *method, const char *path, const char *content_type,
                   const void *body, size_t body_len, long *status_out)
{
    CURL *c = take_handle(d);
    if (!c)
        return zb_error_set(ZB_ENOMEM, "out of memory for a Docker request");
    int rc = perform_on(c, d, x, method, path, content_type, body, body_len, status_out);
    give_handle(d, c);
    return rc;
}

/* The unix socket or TLS (with Docker's certificate files) a request goes
 * through. */
static void set_transport(CURL *c, zb_docker *d)
{
    if (d->socket_path)
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, d->socket_path);
    if (strncmp(d->base_url, "https:", 6) == 0) {
        const char *dir = getenv("DOCKER_CERT_PATH");
        const char *home = getenv("HOME");
        char ca[1024], cert[1024], key[1024];
        if (dir && *dir) {
            snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
            snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
            snprintf(key, sizeof(key), "%s/key.pem", dir);
        } else {
            snprintf(ca, sizeof(ca), "%s/.docker/ca.pem", home ? home : "");
            snprintf(cert, sizeof(cert), "%s/.docker/cert.pem", home ? home : "");
            snprintf(key, sizeof(key), "%s/.docker/key.pem", home ? home : "");
        }
        curl_easy_setopt(c, CURLOPT_CAINFO, ca);
        curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
        curl_easy_setopt(c, CURLOPT_SSLKEY, key);
    }
}

static int perform_on(CURL *c, zb_docker *d, exchange *x, const char *method, const char *path, const char *content_type,
                      const void *body, size_t body_len, long *status_out)
{
    curl_easy_reset(c);
    zb_buf url = ZB_BUF_INIT;
    int rc = d->api[0] ? zb_buf_printf(&url, "%s/v%s%s", d->base_url, d->api, path) : zb_buf_printf(&url, "%s%s", d->base_url, path);
    if (rc < 0)
        return rc;
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL;
    curl_easy_setopt(c, CURLOPT_URL, url.data);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    /* volume streams are large: bigger reads and sends mean fewer callbacks,
     * pipe writes and thread wake-ups (costly on a virtual machine) */
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, STREAM_BUFFER_BYTES);
    curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, STREAM_BUFFER_BYTES);
    set_transport(c, d);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    if (x->source) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, x);
        headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
        headers = curl_slist_append(headers, "Expect:");
    } else if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
    }
    if (content_type) {
        char h[128];
        snprintf(h, sizeof(h), "Content-Type: %s", content_type);
        headers = curl_slist_append(headers, h);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    /* A request made before a signal is cut short by it (a stop waiting for
     * a slow service, a volume's stream); one made after it is cleanup,
     * which gets the time left in the cleanup budget. */
    int cleanup = zb_interrupted() != 0;
    if (cleanup) {
        double left = zb_cleanup_seconds_left();
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(left > 1 ? left * 1000 : 1000));
    } else {
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, stop_on_signal);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    }
    CURLcode code = curl_easy_perform(c);
    long status = response_status(c);
    if (status_out)
        *status_out = status;
    if (x->callback_failed)
        rc = zb_error_raise(&x->callback_error);
    else if (code == CURLE_ABORTED_BY_CALLBACK || (!cleanup && code != CURLE_OK && zb_interrupted()))
        rc = zb_error_set(ZB_EINTR, "%s %s: interrupted by signal %d", method, path, zb_interrupted());
    else if (cleanup && code == CURLE_OPERATION_TIMEDOUT)
        rc = zb_error_set(ZB_EDOCKER, "%s %s: no answer within the %d s left for cleanup after a signal", method, path,
                          ZB_CLEANUP_SECONDS);
    else if (code != CURLE_OK)
        rc = status ? zb_error_set(ZB_EDOCKER, "%s %s: the stream from Docker broke off: %s", method, path,
                                   *errbuf ? errbuf : curl_easy_strerror(code))
                    : transport_error(d, code, errbuf);
    else if (status < 200 || status >= 300)
        rc = http_error(x, method, path, status);
    curl_slist_free_all(headers);
    zb_buf_free(&url);
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
    zb_buf_free(&x.body);
    if (rc < 0)
        return rc;
    const char *server = x.api_version[0] ? x.api_version : ZB_DOCKER_MIN_API;
    if (version_below(server, ZB_DOCKER_MIN_API))
        return zb_error_set(ZB_EDOCKER, "the Docker daemon at %s speaks API %s; %s or later is needed (Docker 19.03+)", d->host,
                            server, ZB_DOCKER_MIN_API);
    snprintf(d->api, sizeof(d->api), "%s", version_below(server, ZB_DOCKER_MAX_API) ? server : ZB_DOCKER_MAX_API);
    zb_log_debug("Docker at %s: API %s", d->host, d->api);
    return 0;
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
        host = getenv("DOCKER_HOST");
    if (!host || !*host)
        host = ZB_DOCKER_DEFAULT_HOST;
    zb_docker *d = calloc(1, sizeof(*d));
    if (d)
        pthread_mutex_init(&d->lock, NULL);
    if (!d || !(d->host = zb_strdup(host)) || !(d->curl = curl_easy_init())) {
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
    if (d->curl)
        curl_easy_cleanup(d->curl);
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
    if (rc == 0 && out && x.body.len) {
        json_error_t err;
        *out = json_loadb(x.body.data, x.body.len, 0, &err);
        if (!*out)
            rc = zb_error_set(ZB_EDOCKER, "%s %s: Docker's answer is not JSON: %s", method, path, err.text);
    }
    zb_buf_free(&x.body);
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
    zb_buf_free(&x.body);
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
        rc = streamed_answer(path, &x.body, out);
    zb_buf_free(&x.body);
    return rc;
}

char *zb_docker_escape(const char *value)
{
    char *e = curl_easy_escape(NULL, value, 0);
    char *copy = e ? zb_strdup(e) : NULL;
    curl_free(e);
    return copy;
}

/* ------------------------------------------------------ hijacked attach */

/* libcurl cannot stream a request body into a connection the server took
 * over (HTTP 101), so the attach speaks HTTP itself on a connection libcurl
 * only opens (CURLOPT_CONNECT_ONLY: the same unix socket or TLS as every
 * other request), then moves bytes with curl_easy_send/recv. */
#define ATTACH_POLL_MS 200
#define ATTACH_PENDING_MAX (4u << 20)

struct zb_docker_attach {
    CURL *curl;
    curl_socket_t sock;
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
    struct pollfd p = {a->sock, events, 0};
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
    CURLcode code = curl_easy_recv(a->curl, buf, sizeof(buf), &n);
    if (code == CURLE_AGAIN)
        return 0;
    if (code != CURLE_OK)
        return zb_error_set(ZB_EDOCKER, "the attached stream from Docker broke off: %s", curl_easy_strerror(code));
    if (n == 0) {
        a->eof = 1;
        return 0;
    }
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
    struct pollfd ready = {a->sock, POLLIN, 0};
    if (!a->eof && poll(&ready, 1, 0) > 0) {
        int rc = attach_pull(a);
        if (rc < 0)
            return rc;
    }
    if (a->eof)
        return zb_error_set(ZB_EDOCKER, "the attached container ended while it was sent data");
    while (len > 0) {
        size_t sent = 0;
        CURLcode code = curl_easy_send(a->curl, p, len, &sent);
        if (code == CURLE_OK) {
            p += sent, len -= sent;
            continue;
        }
        if (code != CURLE_AGAIN)
            return zb_error_set(ZB_EDOCKER, "cannot send to the attached container: %s", curl_easy_strerror(code));
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
        zb_error_set(ZB_EDOCKER, "Docker refused POST %s (HTTP %d): %.300s", path, status, *body ? body : "no message");
        return ZB_EDOCKER;
    }
    a->pending_at = end;
    return 0;
}

int zb_docker_attach_open(zb_docker_attach **out, zb_docker *d, const char *id, int with_stdin)
{
    *out = NULL;
    zb_docker_attach *a = calloc(1, sizeof(*a));
    zb_buf url = ZB_BUF_INIT, path = ZB_BUF_INIT, request = ZB_BUF_INIT;
    char errbuf[CURL_ERROR_SIZE] = "";
    int rc = a && (a->curl = curl_easy_init()) ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
    char *escaped = rc == 0 ? zb_docker_escape(id) : NULL;
    if (rc == 0)
        rc = escaped ? zb_buf_printf(&path, "/containers/%s/attach?stream=1&stdout=1&stderr=1&stdin=%d", escaped, with_stdin)
                     : zb_error_set(ZB_ENOMEM, "out of memory");
    free(escaped);
    if (rc == 0)
        rc = zb_buf_printf(&url, "%s/", d->base_url);
    if (rc == 0) {
        curl_easy_setopt(a->curl, CURLOPT_URL, url.data);
        curl_easy_setopt(a->curl, CURLOPT_CONNECT_ONLY, 1L);
        curl_easy_setopt(a->curl, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(a->curl, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
        curl_easy_setopt(a->curl, CURLOPT_NOSIGNAL, 1L);
        set_transport(a->curl, d);
        CURLcode code = curl_easy_perform(a->curl);
        if (code != CURLE_OK)
            rc = transport_error(d, code, errbuf);
    }
    if (rc == 0 && (curl_easy_getinfo(a->curl, CURLINFO_ACTIVESOCKET, &a->sock) != CURLE_OK || a->sock == CURL_SOCKET_BAD))
        rc = zb_error_set(ZB_EDOCKER, "no connection to the Docker daemon at %s for an attach", d->host);
    if (rc == 0)
        rc = zb_buf_printf(&request,
                           "POST /v%s%s HTTP/1.1\r\nHost: docker\r\nUser-Agent: zakpos-backup/%s\r\n"
                           "Content-Type: text/plain\r\nContent-Length: 0\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
                           d->api, path.data, ZB_VERSION);
    if (rc == 0)
        rc = zb_docker_attach_send(a, request.data, request.len);
    if (rc == 0)
        rc = attach_answer(a, path.data);
    zb_buf_free(&url);
    zb_buf_free(&path);
    zb_buf_free(&request);
    if (rc < 0) {
        zb_docker_attach_close(a);
        return rc;
    }
    *out = a;
    return 0;
}

void zb_docker_attach_close(zb_docker_attach *a)
{
    if (!a)
        return;
    if (a->curl)
        curl_easy_cleanup(a->curl);
    zb_buf_free(&a->pending);
    free(a);
}
