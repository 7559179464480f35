/* A Docker Engine API client on libcurl: DOCKER_HOST as Docker's own tools
 * read it (unix:///path, tcp://host:port with DOCKER_TLS_VERIFY and
 * DOCKER_CERT_PATH), the API version negotiated through /_ping, JSON calls,
 * and bodies streamed both ways (nothing is held whole in memory). Every
 * answer outside 2xx becomes ZB_EDOCKER quoting Docker's own message.
 * One request at a time per client. */
#ifndef ZB_SOURCE_DOCKER_CLIENT_H
#define ZB_SOURCE_DOCKER_CLIENT_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct zb_docker zb_docker;

#define ZB_DOCKER_DEFAULT_HOST "unix:///var/run/docker.sock"
#define ZB_DOCKER_MIN_API      "1.40"
#define ZB_DOCKER_MAX_API      "1.43"

/* host NULL: DOCKER_HOST, else the default socket. Fails (naming the
 * address) when the daemon does not answer or its API is too old. */
int zb_docker_open(zb_docker **out, const char *host);
void zb_docker_close(zb_docker *d);
const char *zb_docker_api_version(const zb_docker *d);
const char *zb_docker_host(const zb_docker *d);

/* A small JSON call. body may be NULL; *out (may be NULL) gets the parsed
 * answer (NULL for an empty one). *status (may be NULL) gets the HTTP status,
 * also on failure, so a caller can tell a 404 from other errors. */
int zb_docker_json(zb_docker *d, const char *method, const char *path, json_t *body, json_t **out, long *status);

/* Streams a response body to sink; a sink error aborts the transfer and is
 * the error the caller sees. */
typedef int (*zb_docker_sink)(const void *data, size_t len, void *payload);
int zb_docker_get_stream(zb_docker *d, const char *path, zb_docker_sink sink, void *payload, long *status);
/* The same for any method, with an optional JSON body (exec start). */
int zb_docker_stream(zb_docker *d, const char *method, const char *path, json_t *body, zb_docker_sink sink,
                     void *payload, long *status);

/* Streams a request body from source (returns bytes, 0 at the end, <0 error). */
typedef ssize_t (*zb_docker_source)(void *buf, size_t len, void *payload);
int zb_docker_send_stream(zb_docker *d, const char *method, const char *path, const char *content_type,
                          zb_docker_source source, void *payload, json_t **out, long *status);

/* A container's stdin/stdout/stderr through POST /containers/{id}/attach
 * (Tty false), on a connection Docker takes over: send writes the
 * container's stdin; recv hands out the next bytes of its output with the
 * stream they came on (1 stdout, 2 stderr), 0 at the end. Both wait on the
 * connection and stop with ZB_EINTR on a signal. Attach before starting
 * the container, so nothing it writes is missed. */
typedef struct zb_docker_attach zb_docker_attach;
int zb_docker_attach_open(zb_docker_attach **out, zb_docker *d, const char *id, int with_stdin);
int zb_docker_attach_send(zb_docker_attach *a, const void *data, size_t len);
ssize_t zb_docker_attach_recv(zb_docker_attach *a, void *buf, size_t len, int *stream);
void zb_docker_attach_close(zb_docker_attach *a);
/* For a caller that waits on other descriptors too: the connection's socket
 * (poll it for POLLIN), and whether recv has bytes (or the end) at hand
 * without reading the socket, which a poll would not show. */
int zb_docker_attach_socket(const zb_docker_attach *a);
int zb_docker_attach_buffered(const zb_docker_attach *a);

/* The daemon's unix socket path, or NULL when it is reached over TCP. */
const char *zb_docker_unix_socket(const zb_docker *d);

/* A query value, percent-encoded (free()). */
char *zb_docker_escape(const char *value);

#endif
