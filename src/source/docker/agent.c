#include "zakpos_backup/source/docker/agent.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fault.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/source/docker/helper.h"

#include "zakpos_backup/common/signal.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define AGENT_MAX_BYTES (32u << 20)
#define STDERR_LINE_MAX 4096
#define DATA_MOUNT "/zb-io"
#define DATA_SOCKET "s"
#define DATA_BUFFER_BYTES (4 << 20)
#define POLL_MS 200

/* Where the stream goes: a socket of this process in a folder bound into
 * the container, when Docker and the agent could use it; else (or until
 * the agent says which) the attached stdin/stdout. */
typedef enum { CHANNEL_UNKNOWN, CHANNEL_SOCKET, CHANNEL_ATTACH } channel_kind;

struct zb_agent {
    zb_docker *d;
    char *volume;
    char *id;
    zb_docker_attach *attach;
    zb_buf line;        /* the stderr line being received */
    zb_buf last_error;  /* the agent's last "error: " line */
    uint64_t entries;
    int counted;
    int out_ended;
    channel_kind channel;
    char io_dir[PATH_MAX]; /* the folder bound at DATA_MOUNT; "" without */
    int listen_fd, data_fd;
};

/* ------------------------------------------------------ the binary */

static int try_path(char *out, size_t size, const char *dir, const char *relative)
{
    if (snprintf(out, size, "%s%s%s", dir, *dir ? "/" : "", relative) >= (int)size)
        return 0;
    return access(out, R_OK) == 0;
}

const char *zb_agent_binary(void)
{
    static char found[PATH_MAX];
    static int looked;
    if (looked)
        return found[0] ? found : NULL;
    looked = 1;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    /* installed: BINDIR/../LIBEXECDIR/zakpos-backup/; then the configured
     * prefix; then the build tree, where both programs sit side by side */
    if ((n > 0 && try_path(found, sizeof(found), self, ZB_AGENT_FROM_BINDIR)) ||
        try_path(found, sizeof(found), "", ZB_AGENT_INSTALLED) || (n > 0 && try_path(found, sizeof(found), self, ZB_AGENT_NAME)) ||
        (n > 0 && try_path(found, sizeof(found), self, "../" ZB_AGENT_NAME))) /* a test build in a subfolder */
        return found;
    found[0] = '\0';
    return NULL;
}

/* The image repo:tag holding the agent as /zb-volume-agent, imported once
 * for each build of it (the tag is its hash). */
static int ensure_image(zb_docker *d, char *image, size_t size)
{
    const char *binary = zb_agent_binary();
    if (!binary)
        return zb_error_set(ZB_EUSAGE, "the volume agent %s was not found beside this program", ZB_AGENT_NAME);
    char *data = NULL;
    size_t len = 0;
    int rc = zb_fs_read_file(&data, &len, binary, AGENT_MAX_BYTES);
    if (rc < 0)
        return zb_error_context("cannot read the volume agent");
    unsigned char hash[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(hash, (const unsigned char *)data, len);
    char tag[17];
    sodium_bin2hex(tag, sizeof(tag), hash, 8);
    snprintf(image, size, "%s-agent:%s", ZB_HELPER_REPO, tag);
    rc = zb_helper_ensure_image(d, ZB_HELPER_REPO "-agent", tag, ZB_AGENT_NAME, data, len);
    free(data);
    return rc;
}

/* ------------------------------------------------------ the data socket */

static void data_socket_close(zb_agent *a)
{
    if (a->listen_fd >= 0)
        close(a->listen_fd);
    if (a->data_fd >= 0)
        close(a->data_fd);
    a->listen_fd = a->data_fd = -1;
    if (a->io_dir[0]) {
        char path[PATH_MAX + 8];
        snprintf(path, sizeof(path), "%s/" DATA_SOCKET, a->io_dir);
        unlink(path);
        rmdir(a->io_dir);
        a->io_dir[0] = '\0';
    }
}

/* A listening socket in a new private folder of the state folder (which
 * lives on the host's file system where the tool runs there; where it does
 * not, Docker refuses to bind it, or the agent cannot connect, and the
 * stream takes the attach API). 0 without one: nothing fails for it. */
static int data_socket_open(zb_agent *a)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (!zb_docker_unix_socket(a->d))
        return 0;
    /* mode 0700: only this user (or root) can connect */
    int made = zb_docker_state_path(a->io_dir, sizeof(a->io_dir), "agent-XXXXXX") == 0;
    if (!made || !mkdtemp(a->io_dir)) {
        zb_log_detail("volume %s: no folder for the stream's socket (%s): it takes the attach API", a->volume,
                      made ? strerror(errno) : zb_error_message());
        zb_error_clear();
        a->io_dir[0] = '\0';
        return 0;
    }
    if (snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/" DATA_SOCKET, a->io_dir) >= (int)sizeof(addr.sun_path) ||
        (a->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0 ||
        bind(a->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(a->listen_fd, 1) < 0) {
        zb_log_detail("volume %s: no socket for the stream (%s): it takes the attach API", a->volume, strerror(errno));
        data_socket_close(a);
    }
    return 0;
}

/* The agent connected: one connection, then nobody else can. */
static int data_socket_accept(zb_agent *a)
{
    int fd = accept4(a->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : zb_error_errno(ZB_EDOCKER, errno, "volume %s: cannot accept the agent's stream", a->volume);
    char path[PATH_MAX + 8];
    snprintf(path, sizeof(path), "%s/" DATA_SOCKET, a->io_dir);
    unlink(path);
    close(a->listen_fd);
    a->listen_fd = -1;
    int bytes = DATA_BUFFER_BYTES;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
    a->data_fd = fd;
    a->channel = CHANNEL_SOCKET;
    zb_log_detail("volume %s: the stream takes a socket of this host", a->volume);
    return 0;
}

/* ------------------------------------------------------ the container */

/* cmd and mounts are taken over. */
static int create_container(zb_agent *a, const char *image, json_t *cmd, json_t *mounts, int with_stdin)
{
    /* no network, no copy of the stream in Docker's logs; stdin only for a
     * restore, closed by Docker when the attach ends */
    json_t *body = json_pack("{s:s, s:o, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:o, s:{s:s, s:{s:s}, s:o}}", "Image", image, "Cmd",
                             cmd, "NetworkDisabled", 1, "Tty", 0, "AttachStdin", with_stdin, "OpenStdin", with_stdin,
                             "StdinOnce", with_stdin, "AttachStdout", 1, "AttachStderr", 1, "Labels", zb_helper_labels(),
                             "HostConfig", "NetworkMode", "none", "LogConfig", "Type", "none", "Mounts", mounts);
    json_t *answer = NULL;
    int rc = body ? zb_docker_json(a->d, "POST", "/containers/create", body, &answer, NULL) : zb_error_set(ZB_ENOMEM, "out of memory");
    const char *id = json_string_value(json_object_get(answer, "Id"));
    if (rc == 0 && !(a->id = id ? zb_strdup(id) : NULL))
        rc = zb_error_set(ZB_EDOCKER, "Docker created a container without an id");
    json_decref(body);
    json_decref(answer);
    return rc;
}

static json_t *mount(const char *volume, const char *target, int read_only)
{
    return json_pack("{s:s, s:s, s:s, s:b}", "Type", "volume", "Source", volume, "Target", target, "ReadOnly", read_only);
}

/* The container with the data socket's folder bound and its path given to
 * the agent; when Docker refuses the bind (the folder is not on its host),
 * the container without. cmd and mounts are taken over. */
static int create_with_socket(zb_agent *a, const char *image, json_t *cmd, json_t *mounts, int with_stdin)
{
    if (a->listen_fd >= 0) {
        json_t *cmd_socket = json_deep_copy(cmd), *mounts_socket = json_deep_copy(mounts);
        json_array_append_new(cmd_socket, json_string("--socket"));
        /* a test sends it where nobody listens, as on a host not the tool's */
        const char *elsewhere = ZB_FAULT_VALUE("docker-agent-socket");
        json_array_append_new(cmd_socket, json_string(elsewhere ? DATA_MOUNT "/elsewhere" : DATA_MOUNT "/" DATA_SOCKET));
        json_array_append_new(mounts_socket, json_pack("{s:s, s:s, s:s}", "Type", "bind", "Source", a->io_dir, "Target", DATA_MOUNT));
        if (create_container(a, image, cmd_socket, mounts_socket, with_stdin) == 0) {
            json_decref(cmd);
            json_decref(mounts);
            return 0;
        }
        zb_log_detail("volume %s: Docker cannot bind this host's folder %s (%s): the stream takes the attach API", a->volume,
                      a->io_dir, zb_error_message());
        zb_error_clear();
        data_socket_close(a);
    }
    a->channel = CHANNEL_ATTACH;
    return create_container(a, image, cmd, mounts, with_stdin);
}

/* cmd and mounts are taken over; socket: offer the agent a data socket. */
static int start(zb_agent **out, zb_docker *d, const char *volume, json_t *cmd, json_t *mounts, int with_stdin, int socket)
{
    *out = NULL;
    zb_agent *a = calloc(1, sizeof(*a));
    if (!a || !(a->volume = zb_strdup(volume)) || !cmd || !mounts) {
        free(a);
        json_decref(cmd);
        json_decref(mounts);
        return zb_error_set(ZB_ENOMEM, "out of memory");
    }
    a->d = d;
    a->listen_fd = a->data_fd = -1;
    char image[128];
    zb_buf path = ZB_BUF_INIT;
    int rc = ensure_image(d, image, sizeof(image));
    if (rc == 0 && socket)
        rc = data_socket_open(a);
    if (rc == 0) {
        zb_helper_sweep(d);
        rc = create_with_socket(a, image, cmd, mounts, with_stdin);
    } else {
        json_decref(cmd);
        json_decref(mounts);
    }
    /* attached before it starts, so none of its output is missed */
    if (rc == 0)
        rc = zb_docker_attach_open(&a->attach, d, a->id, with_stdin);
    if (rc == 0 && (rc = zb_docker_api_path(&path, "/containers/", a->id, "/start")) == 0)
        rc = zb_docker_json(d, "POST", path.data, NULL, NULL, NULL);
    zb_buf_free(&path);
    if (rc < 0) {
        zb_error_context("cannot start the volume agent for volume %s", volume);
        zb_agent_free(a);
        return rc;
    }
    zb_log_detail("volume %s: the volume agent runs in container %.12s", volume, a->id);
    *out = a;
    return 0;
}

int zb_agent_start(zb_agent **out, zb_docker *d, const char *volume, int restore)
{
    json_t *cmd = json_pack("[s,s,s]", "/" ZB_AGENT_NAME, restore ? "restore" : "backup", ZB_HELPER_MOUNT_POINT);
    return start(out, d, volume, cmd, json_pack("[o]", mount(volume, ZB_HELPER_MOUNT_POINT, !restore)), restore, 1);
}

int zb_agent_copy(zb_docker *d, const char *from, const char *to, int remove_from)
{
    json_t *cmd = json_pack("[s,s,s,s]", "/" ZB_AGENT_NAME, "copy", "/from", "/to");
    if (cmd && remove_from)
        json_array_append_new(cmd, json_string("--remove"));
    zb_agent *a = NULL;
    uint64_t entries;
    int rc = start(&a, d, to, cmd, json_pack("[o,o]", mount(from, "/from", !remove_from), mount(to, "/to", 0)), 0, 0);
    if (rc == 0)
        rc = zb_agent_finish(a, &entries);
    zb_agent_free(a);
    return rc < 0 ? zb_error_context("copying volume %s into volume %s", from, to) : 0;
}

/* ------------------------------------------------------ its messages */

static void agent_line(zb_agent *a)
{
    const char *text = a->line.data ? a->line.data : "";
    unsigned long long entries, sockets;
    if (strcmp(text, "data stdio") == 0) { /* it could not reach the socket */
        if (a->channel == CHANNEL_UNKNOWN)
            a->channel = CHANNEL_ATTACH;
        zb_log_detail("volume %s: the agent cannot reach this host's socket: the stream takes the attach API", a->volume);
    } else if (sscanf(text, "count %llu %llu", &entries, &sockets) == 2) {
        a->entries = entries, a->counted = 1;
        if (sockets)
            zb_log_info("volume %s: %llu socket(s) left out: a socket has no content to back up", a->volume, sockets);
    } else if (strncmp(text, "error: ", 7) == 0) {
        zb_buf_reset(&a->last_error);
        zb_buf_puts(&a->last_error, text + 7);
        zb_log_detail("volume %s: agent: %s", a->volume, text);
    } else if (strncmp(text, "warning: ", 9) == 0) {
        zb_log_warn("volume %s: %s", a->volume, text + 9);
    } else if (*text) {
        zb_log_detail("volume %s: agent: %s", a->volume, text);
    }
    zb_buf_reset(&a->line);
}

static void agent_stderr(zb_agent *a, const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n')
            agent_line(a);
        else if (a->line.len < STDERR_LINE_MAX)
            zb_buf_append(&a->line, data + i, 1);
    }
}

/* One piece of the attached output: stderr goes to the messages, stdout
 * into buf (*out_bytes). 0 at its end sets out_ended. */
static int attach_pump(zb_agent *a, void *buf, size_t len, size_t *out_bytes)
{
    int stream = 0;
    *out_bytes = 0;
    ssize_t n = zb_docker_attach_recv(a->attach, buf, len, &stream);
    if (n <= 0) {
        a->out_ended = 1;
        return (int)n;
    }
    if (stream == 2)
        agent_stderr(a, buf, (size_t)n);
    else
        *out_bytes = (size_t)n;
    return 0;
}

/* Waits until the data socket (events), the attached output or, before the
 * agent connected, the listening socket has something; a signal stops it. */
static int wait_ready(zb_agent *a, short events, short *data_ready, int *attach_ready)
{
    *data_ready = 0, *attach_ready = 0;
    if (!a->out_ended && zb_docker_attach_buffered(a->attach)) {
        *attach_ready = 1;
        return 0;
    }
    int waiting_fd = a->channel == CHANNEL_SOCKET ? a->data_fd : a->listen_fd;
    /* an ended attach is left out (a negative descriptor is skipped) */
    struct pollfd p[2] = {{waiting_fd, events, 0}, {a->out_ended ? -1 : zb_docker_attach_socket(a->attach), POLLIN, 0}};
    if (zb_check_interrupt() < 0)
        return zb_error_code();
    int n = poll(p, 2, POLL_MS);
    if (n < 0 && errno != EINTR)
        return zb_error_errno(ZB_EDOCKER, errno, "volume %s: waiting for the volume agent failed", a->volume);
    *data_ready = n > 0 ? p[0].revents : 0;
    *attach_ready = n > 0 && p[1].revents != 0;
    return 0;
}

/* Until the agent connected or said it takes stdin/stdout. Output it writes
 * on stdout meanwhile (an agent on stdout) is handed back in buf. */
static int wait_channel(zb_agent *a, void *buf, size_t len, size_t *out_bytes)
{
    *out_bytes = 0;
    while (a->channel == CHANNEL_UNKNOWN && !a->out_ended) {
        short data_ready;
        int attach_ready, rc = wait_ready(a, POLLIN, &data_ready, &attach_ready);
        if (rc == 0 && data_ready)
            rc = data_socket_accept(a);
        if (rc == 0 && attach_ready && a->channel == CHANNEL_UNKNOWN)
            rc = attach_pump(a, buf, len, out_bytes);
        if (rc < 0)
            return rc;
        if (*out_bytes) {
            a->channel = CHANNEL_ATTACH;
            return 0;
        }
    }
    if (a->channel == CHANNEL_UNKNOWN)
        a->channel = CHANNEL_ATTACH; /* it ended before: its messages say why */
    return 0;
}

/* Reads the data socket, taking the agent's messages as they come (a
 * full stderr pipe would stop it). */
static ssize_t socket_read(zb_agent *a, void *buf, size_t len)
{
    char messages[4096];
    while (1) {
        short data_ready;
        int attach_ready;
        int rc = wait_ready(a, POLLIN, &data_ready, &attach_ready);
        size_t ignored;
        if (rc == 0 && attach_ready && !a->out_ended)
            rc = attach_pump(a, messages, sizeof(messages), &ignored);
        if (rc < 0)
            return rc;
        if (data_ready) {
            ssize_t n = read(a->data_fd, buf, len);
            if (n >= 0)
                return n;
            if (errno != EINTR && errno != EAGAIN)
                return zb_error_errno(ZB_EDOCKER, errno, "volume %s: the stream from the volume agent broke off", a->volume);
        }
    }
}

ssize_t zb_agent_read(zb_agent *a, void *buf, size_t len)
{
    size_t got = 0;
    int rc = wait_channel(a, buf, len, &got);
    if (rc < 0 || got)
        return rc < 0 ? rc : (ssize_t)got;
    if (a->channel == CHANNEL_SOCKET)
        return socket_read(a, buf, len);
    while (!a->out_ended) {
        if ((rc = attach_pump(a, buf, len, &got)) < 0)
            return rc;
        if (got)
            return (ssize_t)got;
    }
    return 0;
}

static int socket_write(zb_agent *a, const char *p, size_t len)
{
    char messages[4096];
    while (len > 0) {
        ssize_t n = send(a->data_fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            p += n, len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return zb_error_errno(ZB_EDOCKER, errno, "the stream's socket");
        short data_ready;
        int attach_ready;
        size_t ignored;
        int rc = wait_ready(a, POLLOUT, &data_ready, &attach_ready);
        if (rc == 0 && attach_ready && !a->out_ended)
            rc = attach_pump(a, messages, sizeof(messages), &ignored);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int zb_agent_write(zb_agent *a, const void *data, size_t len)
{
    char messages[4096];
    size_t ignored;
    int rc = wait_channel(a, messages, sizeof(messages), &ignored);
    if (rc == 0 && a->channel == CHANNEL_SOCKET)
        rc = socket_write(a, data, len);
    else if (rc == 0)
        rc = a->out_ended ? zb_error_set(ZB_EDOCKER, "the attached container ended while it was sent data")
                          : zb_docker_attach_send(a->attach, data, len);
    return rc < 0 ? zb_error_context("volume %s: the volume agent stopped taking the stream", a->volume) : 0;
}

int zb_agent_finish(zb_agent *a, uint64_t *entries)
{
    char rest[16384];
    size_t ignored;
    int rc = 0;
    /* the end of the stream for a restore's agent; then its last words */
    if (a->data_fd >= 0)
        shutdown(a->data_fd, SHUT_WR);
    while (rc == 0 && !a->out_ended)
        rc = attach_pump(a, rest, sizeof(rest), &ignored); /* a restore's agent writes nothing on stdout */
    if (a->line.len)
        agent_line(a);
    json_t *waited = NULL;
    zb_buf path = ZB_BUF_INIT;
    if (rc == 0)
        rc = zb_docker_api_path(&path, "/containers/", a->id, "/wait");
    if (rc == 0)
        rc = zb_docker_json(a->d, "POST", path.data, NULL, &waited, NULL);
    long long status = json_integer_value(json_object_get(waited, "StatusCode"));
    if (rc == 0 && status != 0)
        rc = zb_error_set(ZB_EDOCKER, "volume %s: the volume agent failed (exit status %lld): %s", a->volume, status,
                          a->last_error.len ? a->last_error.data : "no message");
    else if (rc == 0 && !a->counted)
        rc = zb_error_set(ZB_EDOCKER, "volume %s: the volume agent ended without counting the volume", a->volume);
    if (rc == 0)
        *entries = a->entries;
    json_decref(waited);
    zb_buf_free(&path);
    return rc;
}

void zb_agent_free(zb_agent *a)
{
    if (!a)
        return;
    zb_docker_attach_close(a->attach);
    data_socket_close(a);
    zb_helper_remove(a->d, a->id);
    zb_buf_free(&a->line);
    zb_buf_free(&a->last_error);
    free(a->id);
    free(a->volume);
    free(a);
}
