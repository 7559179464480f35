/* The one HTTP client (libcurl, also for SFTP): a request described by a
 * struct (method, URL, headers, transport, authentication, limits), bodies
 * streamed both ways through source and sink callbacks, Ctrl-C honoured
 * within a second, and every failure described with the server's own words
 * where it gives some, libcurl's otherwise, never with a secret. Docker,
 * the remote drivers and webhooks all go through it. */
#ifndef ZB_COMMON_HTTP_H
#define ZB_COMMON_HTTP_H

#include "zakpos_backup/common/buf.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A connection cache: requests made one after another on it reuse the
 * connection. One request at a time. */
typedef struct zb_http zb_http;

/* Sets libcurl up for the process; call once before any thread starts. */
int zb_http_global_init(void);

int zb_http_new(zb_http **out);
void zb_http_free(zb_http *h);

/* The request body, in pieces: returns bytes written to buf (at most len),
 * 0 at the end, or a negative zb error (set) that aborts the request. */
typedef ssize_t (*zb_http_source_fn)(void *buf, size_t len, void *payload);
/* Starts the body again at offset (a redirect or an authentication round
 * sends it twice); <0 when it cannot. */
typedef int (*zb_http_rewind_fn)(uint64_t offset, void *payload);
/* A 2xx answer's body, in pieces; a negative zb error (set) aborts. */
typedef int (*zb_http_sink_fn)(const void *data, size_t len, void *payload);
/* Each header line of the answer as received, "Name: value\r\n" (and the
 * status lines, which start with "HTTP/"). */
typedef void (*zb_http_header_fn)(const char *line, size_t len, void *payload);
/* The server's own message from an error answer's body ("AccessDenied:
 * ..."); out stays "" when there is none. */
typedef void (*zb_http_message_fn)(const char *body, size_t len, char *out, size_t size);

/* SFTP through the same client: key authentication only, the host key
 * checked against known_hosts, missing folders created (0700) and files
 * created 0600. */
typedef struct zb_http_ssh {
    const char *private_key, *public_key, *known_hosts;
    const char *command; /* a command run before the transfer (rename, rm), or NULL */
} zb_http_ssh;

/* A list of "Name: value" header lines. The lines may carry tokens: they
 * are wiped when freed. */
typedef struct zb_http_headers {
    char **lines;
    size_t count;
} zb_http_headers;

int zb_http_headers_add(zb_http_headers *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void zb_http_headers_free(zb_http_headers *h);

typedef struct zb_http_request {
    const char *what;   /* how messages name the request: "GET /_ping", "uploading" */
    const char *method; /* NULL: GET, PUT with a source, POST with a body */
    const char *url;    /* its path and query never appear in messages */
    const zb_http_headers *headers;
    /* transport; proxies come from the environment as libcurl reads it */
    const char *unix_socket;                    /* Docker's socket, or NULL for TCP */
    const char *ca_file, *cert_file, *key_file; /* TLS: the CA, the client certificate */
    const char *protocols;                      /* NULL: "http,https" */
    /* authentication: never in messages */
    const char *user, *password;
    int basic_auth;        /* user and password as HTTP basic authentication */
    const char *aws_sigv4; /* "aws:amz:REGION:s3": libcurl signs with user/password */
    const zb_http_ssh *ssh;
    /* the request body: in memory, or streamed from source */
    const void *body;
    size_t body_len;
    zb_http_source_fn source;
    zb_http_rewind_fn rewind;
    void *source_payload;
    int64_t source_len; /* -1: unknown, sent chunked */
    /* the answer */
    zb_http_sink_fn sink; /* NULL: a 2xx body is kept in the response (up to body_max) */
    void *sink_payload;
    size_t body_max; /* 0: 16 MiB */
    zb_http_header_fn on_header;
    void *header_payload;
    zb_http_message_fn message; /* NULL: a JSON {"message": ...} or the start of the text */
    int no_body;                /* ask for the headers (an SFTP command, a file's time) only */
    int list_only;              /* SFTP: a folder's names */
    int want_filetime;
    /* limits */
    long connect_timeout_s; /* 0: libcurl's */
    long timeout_s;         /* the whole request; 0: none */
    long stall_s;           /* stop when nothing moves for this long; 0: never */
    uint64_t max_speed;     /* bytes per second each way; 0: no limit */
    long buffer_bytes;      /* 0: libcurl's; large streams take fewer callbacks with more */
    /* Cleanup after a signal (containers started again, an upload
     * abandoned): not stopped by the signal, but given only the time left in
     * the cleanup budget. Without it a signal stops the request. */
    int cleanup;
    int error_code; /* the zb error for failures; 0: ZB_EREMOTE */
} zb_http_request;

typedef enum zb_http_failure {
    ZB_HTTP_OK,
    ZB_HTTP_STATUS,        /* answered outside 2xx */
    ZB_HTTP_INTERRUPTED,   /* a signal stopped it */
    ZB_HTTP_CALLBACK,      /* the source or sink failed: its error is the error */
    ZB_HTTP_UNREACHABLE,   /* no connection: the server is down, the name does not resolve */
    ZB_HTTP_TIMEOUT,       /* the time limit passed or the transfer stalled */
    ZB_HTTP_PEER_REJECTED, /* the server's certificate or host key does not check */
    ZB_HTTP_LOGIN_DENIED,
    ZB_HTTP_NOT_FOUND, /* SFTP: no such file */
    ZB_HTTP_TRANSPORT  /* anything else libcurl reports */
} zb_http_failure;

typedef struct zb_http_response {
    long status; /* HTTP status; 0 for SFTP and when nothing answered */
    zb_buf body; /* a kept answer, or the start of an error answer */
    zb_http_failure failure;
    int permanent;       /* retrying the same request cannot help */
    char message[512];   /* the server's own message on a status failure */
    char transport[256]; /* libcurl's account of a transport failure, secrets removed */
    const char *summary; /* libcurl's one-line name of the failure */
    int64_t filetime;    /* with want_filetime: seconds since 1970, or -1 */
} zb_http_response;

/* Runs req on h. 0 for a 2xx answer (or a completed SFTP transfer);
 * otherwise a negative zb error whose message starts with req->what:
 * ZB_EINTR for a signal, the callback's own error, ZB_ENOTFOUND for 404 or
 * a missing file, else req->error_code. resp (zb_http_response_free after)
 * tells a caller that words the failure its own way what happened. */
int zb_http_perform(zb_http *h, const zb_http_request *req, zb_http_response *resp);
void zb_http_response_free(zb_http_response *resp);

/* A connection a server takes over after one request (Docker's attach:
 * HTTP 101, then raw bytes both ways), which libcurl cannot stream a
 * request body into. zb_http_connect opens it with req's transport (url's
 * host, unix_socket, TLS files, connect_timeout_s) and nothing else of req;
 * the caller then speaks HTTP itself. A failure is req->error_code (or
 * ZB_EREMOTE) with libcurl's account, secrets removed, resp filled as for
 * zb_http_perform. */
typedef struct zb_http_conn zb_http_conn;
int zb_http_connect(zb_http_conn **out, const zb_http_request *req, zb_http_response *resp);
/* The socket, for poll(). */
int zb_http_conn_socket(const zb_http_conn *c);
/* Sends what the connection takes now: *sent bytes (0 when it would block). */
int zb_http_conn_send(zb_http_conn *c, const void *data, size_t len, size_t *sent);
/* Receives what has arrived: *got bytes; *got 0 with *closed set at the end
 * of the connection, without it when nothing is there yet. */
int zb_http_conn_recv(zb_http_conn *c, void *buf, size_t len, size_t *got, int *closed);
void zb_http_conn_close(zb_http_conn *c);

/* The value of header `name` (case-insensitive) if line is that header:
 * copied, trimmed, into out; returns 1 then, else 0 (also when too long). */
int zb_http_header_value(const char *line, size_t len, const char *name, char *out, size_t size);

/* "https://host:port" of url, without user, path or query (tokens live
 * there): how messages name a server. */
void zb_http_describe_url(char *out, size_t size, const char *url);

/* value percent-encoded for a query or a path segment (free()). */
char *zb_http_escape(const char *value);

#endif
