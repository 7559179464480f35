#include "zakpos_backup/source/docker/agent.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fault.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/source/docker/helper.h"
#include "zakpos_backup/source/docker/record.h"

#include "zakpos_backup/common/signal.h"

#include <dirent.h>
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

#define AGENT_MAX_BYTES    (32u << 20)
#define STDERR_LINE_MAX    4096
#define DATA_MOUNT         "/zb-io"
#define DATA_SOCKET        "s"
#define DATA_FOLDER_PREFIX "agent-" /* then the run's id, "." and a random tail */
#define RUN_ID_CHARS       32
#define DATA_BUFFER_BYTES  (4 << 20)
#define POLL_MS            200
/* What a restore's stream may run ahead of the agent while its container
 * starts (the archive is read, decrypted and checked meanwhile) */
#define SPOOL_BYTES        (16u << 20)

/* Where the stream goes: a socket of this process in a folder bound into
 * the container, when Docker and the agent could use it; else (or until
 * the agent says which) the attached stdin/stdout. */
typedef enum { CHANNEL_UNKNOWN, CHANNEL_SOCKET, CHANNEL_ATTACH } channel_kind;

struct zb_agent {
    zb_docker *d;
    char *volume;
    char *id;
    zb_docker_attach *attach;
    zb_buf line;       /* the stderr line being received */
    zb_buf last_error; /* the agent's last "error: " line */
    zb_buf absent;     /* "\n  NAME" for each entry a restore's short count lacks */
    uint64_t entries;
    int counted;
    uint64_t copied_entries; /* a copy's, from its "copied N" */
    int copied;
    int out_ended;
    channel_kind channel;
    char io_dir[PATH_MAX]; /* the folder bound at DATA_MOUNT; "" without */
    int listen_fd, data_fd;
    char *spool; /* a restore's first bytes, sent once the agent takes them */
    size_t spool_len;
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
        try_path(found, sizeof(found), "", ZB_AGENT_INSTALLED) ||
        (n > 0 && try_path(found, sizeof(found), self, ZB_AGENT_NAME)) ||
        (n > 0 && try_path(found, sizeof(found), self, "../" ZB_AGENT_NAME))) /* a test build in a subfolder */
        return found;
    found[0] = '\0';
    return NULL;
}

/* The agent's image tag: its binary's hash, taken once per run. */
static int agent_tag(char *tag, size_t size, char **data, size_t *len)
{
    const char *binary = zb_agent_binary();
    if (!binary)
        return zb_error_set(ZB_EUSAGE, "the volume agent %s was not found beside this program", ZB_AGENT_NAME);
    if (zb_fs_read_file(data, len, binary, AGENT_MAX_BYTES) < 0)
        return zb_error_context("cannot read the volume agent");
    unsigned char hash[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(hash, (const unsigned char *)*data, *len);
    sodium_bin2hex(tag, size, hash, 8);
    return 0;
}

/* The image repo:tag holding the agent as /zb-volume-agent, imported once
 * for each build of it (the tag is its hash). Docker is not asked whether
 * it has it: a container is created from it, and only where Docker answers
 * that the image is missing (import 1) is it imported. */
static int agent_image(zb_docker *d, char *image, size_t size, int import)
{
    static char tag[17];
    char *data = NULL;
    size_t len = 0;
    int rc = 0;
    if (!tag[0] || import)
        rc = agent_tag(tag, sizeof(tag), &data, &len);
    if (rc == 0 && import)
        rc = zb_helper_ensure_image(d, ZB_HELPER_REPO "-agent", tag, ZB_AGENT_NAME, data, len);
    if (rc < 0)
        tag[0] = '\0';
    else
        snprintf(image, size, "%s-agent:%s", ZB_HELPER_REPO, tag);
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
    /* named after this run (registered first), so that the folder a kill
     * leaves is known as a dead run's (zb_agent_sweep_folders); mode 0700:
     * only this user (or root) can connect */
    const char *run = NULL;
    char name[sizeof(DATA_FOLDER_PREFIX) + RUN_ID_CHARS + 8];
    int made = zb_record_self(&run) == 0 &&
               snprintf(name, sizeof(name), DATA_FOLDER_PREFIX "%s.XXXXXX", run) < (int)sizeof(name) &&
               zb_docker_state_path(a->io_dir, sizeof(a->io_dir), name) == 0;
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

/* The stream folders of dead runs: a kill leaves one behind, empty or
 * with its socket. Only that socket is removed from it, then the folder. */
void zb_agent_sweep_folders(void)
{
    char state[PATH_MAX];
    DIR *dir = zb_docker_state_path(state, sizeof(state), "") == 0 ? opendir(state) : NULL;
    if (!dir) {
        zb_error_clear();
        return;
    }
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        const size_t prefix = strlen(DATA_FOLDER_PREFIX);
        char run[RUN_ID_CHARS + 1], path[PATH_MAX], socket_path[PATH_MAX + 8];
        if (strncmp(e->d_name, DATA_FOLDER_PREFIX, prefix) != 0 || strlen(e->d_name) <= prefix + RUN_ID_CHARS ||
            e->d_name[prefix + RUN_ID_CHARS] != '.')
            continue;
        memcpy(run, e->d_name + prefix, RUN_ID_CHARS);
        run[RUN_ID_CHARS] = '\0';
        if (!zb_record_run_gone(run) || snprintf(path, sizeof(path), "%s%s", state, e->d_name) >= (int)sizeof(path))
            continue;
        snprintf(socket_path, sizeof(socket_path), "%s/" DATA_SOCKET, path);
        if ((unlink(socket_path) == 0 || errno == ENOENT) && rmdir(path) == 0)
            zb_log_info("removed the stream folder %s left by a run that was killed", path);
        else
            zb_log_warn("cannot remove the stream folder %s left by a run that was killed: %s", path, strerror(errno));
    }
    closedir(dir);
}

/* The agent connected: one connection, then nobody else can. */
static int data_socket_accept(zb_agent *a)
{
    int fd = accept4(a->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return errno == EAGAIN || errno == EINTR
                   ? 0
                   : zb_error_errno(ZB_EDOCKER, errno, "volume %s: cannot accept the agent's stream", a->volume);
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

/* cmd and mounts are taken over; *status: Docker's answer (404: no image). */
static int create_container(zb_agent *a, const char *image, json_t *cmd, json_t *mounts, int with_stdin, long *status)
{
    /* no network, no copy of the stream in Docker's logs; stdin only for a
     * restore, closed by Docker when the attach ends */
    json_t *body =
        json_pack("{s:s, s:o, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:o, s:{s:s, s:{s:s}, s:o}}", "Image", image, "Cmd",
                  cmd, "NetworkDisabled", 1, "Tty", 0, "AttachStdin", with_stdin, "OpenStdin", with_stdin, "StdinOnce",
                  with_stdin, "AttachStdout", 1, "AttachStderr", 1, "Labels", zb_helper_labels(), "HostConfig",
                  "NetworkMode", "none", "LogConfig", "Type", "none", "Mounts", mounts);
    json_t *answer = NULL;
    *status = 0;
    int rc = body ? zb_docker_json(a->d, "POST", "/containers/create", body, &answer, status)
                  : zb_error_set(ZB_ENOMEM, "out of memory");
    const char *id = json_string_value(json_object_get(answer, "Id"));
    if (rc == 0 && !(a->id = id ? zb_strdup(id) : NULL))
        rc = zb_error_set(ZB_EDOCKER, "Docker created a container without an id");
    json_decref(body);
    json_decref(answer);
    return rc;
}

static json_t *mount(const char *volume, const char *target, int read_only)
{
    return json_pack("{s:s, s:s, s:s, s:b}", "Type", "volume", "Source", volume, "Target", target, "ReadOnly",
                     read_only);
}

/* The container with the data socket's folder bound and its path given to
 * the agent; when Docker refuses the bind (the folder is not on its host),
 * the container without. cmd and mounts are taken over; *status 404: the
 * image is missing. */
static int create_with_socket(zb_agent *a, const char *image, json_t *cmd, json_t *mounts, int with_stdin, long *status)
{
    if (a->listen_fd >= 0) {
        json_t *cmd_socket = json_deep_copy(cmd), *mounts_socket = json_deep_copy(mounts);
        json_array_append_new(cmd_socket, json_string("--socket"));
        /* a test sends it where nobody listens, as on a host not the tool's */
        const char *elsewhere = ZB_FAULT_VALUE("docker-agent-socket");
        json_array_append_new(cmd_socket,
                              json_string(elsewhere ? DATA_MOUNT "/elsewhere" : DATA_MOUNT "/" DATA_SOCKET));
        json_array_append_new(mounts_socket,
                              json_pack("{s:s, s:s, s:s}", "Type", "bind", "Source", a->io_dir, "Target", DATA_MOUNT));
        int rc = create_container(a, image, cmd_socket, mounts_socket, with_stdin, status);
        if (rc == 0 || *status == 404) {
            json_decref(cmd);
            json_decref(mounts);
            return rc;
        }
        zb_log_detail("volume %s: Docker cannot bind this host's folder %s (%s): the stream takes the attach API",
                      a->volume, a->io_dir, zb_error_message());
        zb_error_clear();
        data_socket_close(a);
    }
    a->channel = CHANNEL_ATTACH;
    return create_container(a, image, cmd, mounts, with_stdin, status);
}

/* The container, from the agent's image; imported first where Docker does
 * not have it. cmd and mounts are taken over. */
static int create_agent_container(zb_agent *a, json_t *cmd, json_t *mounts, int with_stdin)
{
    char image[128];
    long status = 0;
    json_t *cmd_again = json_deep_copy(cmd), *mounts_again = json_deep_copy(mounts);
    int rc = agent_image(a->d, image, sizeof(image), 0);
    if (rc == 0)
        rc = create_with_socket(a, image, cmd, mounts, with_stdin, &status);
    else
        json_decref(cmd), json_decref(mounts);
    if (rc < 0 && status == 404) {
        zb_error_clear();
        rc = agent_image(a->d, image, sizeof(image), 1);
        if (rc == 0) {
            rc = create_with_socket(a, image, cmd_again, mounts_again, with_stdin, &status);
            cmd_again = mounts_again = NULL;
        }
    }
    json_decref(cmd_again);
    json_decref(mounts_again);
    return rc;
}

/* cmd and mounts are taken over; socket: offer the agent a data socket. */
static int start(zb_agent **out, zb_docker *d, const char *volume, json_t *cmd, json_t *mounts, int with_stdin,
                 int socket)
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
    zb_buf path = ZB_BUF_INIT;
    /* helpers of killed runs, once a run (backup and prune sweep too) */
    static int swept;
    if (!swept)
        swept = zb_helper_sweep(d) == 0;
    int rc = socket ? data_socket_open(a) : 0;
    if (rc == 0) {
        rc = create_agent_container(a, cmd, mounts, with_stdin);
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

/* ------------------------------------------------------ its messages */

static void agent_line(zb_agent *a)
{
    const char *text = a->line.data ? a->line.data : "";
    unsigned long long entries, sockets;
    if (strcmp(text, "data stdio") == 0) { /* it could not reach the socket */
        if (a->channel == CHANNEL_UNKNOWN)
            a->channel = CHANNEL_ATTACH;
        zb_log_detail("volume %s: the agent cannot reach this host's socket: the stream takes the attach API",
                      a->volume);
    } else if (sscanf(text, "count %llu %llu", &entries, &sockets) == 2) {
        a->entries = entries, a->counted = 1;
        if (sockets)
            zb_log_info("volume %s: %llu socket(s) left out: a socket has no content to back up", a->volume, sockets);
    } else if (sscanf(text, "copied %llu", &entries) == 1) {
        a->copied_entries = entries, a->copied = 1;
    } else if (strncmp(text, "absent ", 7) == 0) {
        zb_buf_printf(&a->absent, "\n  %s", text + 7);
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

/* Waits (up to timeout_ms) until the data socket (events), the attached
 * output or, before the agent connected, the listening socket has
 * something; a signal stops it. */
static int wait_ready_for(zb_agent *a, short events, int timeout_ms, short *data_ready, int *attach_ready)
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
    int n = poll(p, 2, timeout_ms);
    if (n < 0 && errno != EINTR)
        return zb_error_errno(ZB_EDOCKER, errno, "volume %s: waiting for the volume agent failed", a->volume);
    *data_ready = n > 0 ? p[0].revents : 0;
    *attach_ready = n > 0 && p[1].revents != 0;
    return 0;
}

static int wait_ready(zb_agent *a, short events, short *data_ready, int *attach_ready)
{
    return wait_ready_for(a, events, POLL_MS, data_ready, attach_ready);
}

/* One look (up to timeout_ms) at whether the agent connected or said it
 * takes stdin/stdout. Output it writes on stdout meanwhile (an agent on
 * stdout) is handed back in buf. */
static int channel_step(zb_agent *a, int timeout_ms, void *buf, size_t len, size_t *out_bytes)
{
    short data_ready;
    int attach_ready, rc = wait_ready_for(a, POLLIN, timeout_ms, &data_ready, &attach_ready);
    if (rc == 0 && data_ready)
        rc = data_socket_accept(a);
    if (rc == 0 && attach_ready && a->channel == CHANNEL_UNKNOWN)
        rc = attach_pump(a, buf, len, out_bytes);
    if (rc == 0 && *out_bytes)
        a->channel = CHANNEL_ATTACH;
    return rc;
}

/* Until the agent connected or said it takes stdin/stdout. */
static int wait_channel(zb_agent *a, void *buf, size_t len, size_t *out_bytes)
{
    *out_bytes = 0;
    while (a->channel == CHANNEL_UNKNOWN && !a->out_ended) {
        int rc = channel_step(a, POLL_MS, buf, len, out_bytes);
        if (rc < 0 || *out_bytes)
            return rc;
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
                return zb_error_errno(ZB_EDOCKER, errno, "volume %s: the stream from the volume agent broke off",
                                      a->volume);
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

static int send_now(zb_agent *a, const void *data, size_t len)
{
    if (a->channel == CHANNEL_SOCKET)
        return socket_write(a, data, len);
    return a->out_ended ? zb_error_set(ZB_EDOCKER, "the attached container ended while it was sent data")
                        : zb_docker_attach_send(a->attach, data, len);
}

/* While the agent's container starts, the stream is kept (up to
 * SPOOL_BYTES) instead of waited for: the start is no longer time in which
 * the archive is not read. 1 when data was kept. */
static int spool(zb_agent *a, const void *data, size_t len)
{
    char messages[4096];
    size_t ignored = 0;
    if (a->channel != CHANNEL_UNKNOWN || a->out_ended || a->spool_len + len > SPOOL_BYTES)
        return 0;
    if (channel_step(a, 0, messages, sizeof(messages), &ignored) < 0 || a->channel != CHANNEL_UNKNOWN)
        return 0; /* a failure is met again by the wait */
    if (!a->spool && !(a->spool = malloc(SPOOL_BYTES)))
        return 0;
    memcpy(a->spool + a->spool_len, data, len);
    a->spool_len += len;
    return 1;
}

/* Once the agent takes the stream: what was kept, then data. */
static int send_stream(zb_agent *a, const void *data, size_t len)
{
    char messages[4096];
    size_t ignored;
    int rc = wait_channel(a, messages, sizeof(messages), &ignored);
    if (rc == 0 && a->spool_len) {
        rc = send_now(a, a->spool, a->spool_len);
        a->spool_len = 0;
        free(a->spool);
        a->spool = NULL;
    }
    if (rc == 0 && len)
        rc = send_now(a, data, len);
    return rc < 0 ? zb_error_context("volume %s: the volume agent stopped taking the stream", a->volume) : 0;
}

int zb_agent_write(zb_agent *a, const void *data, size_t len)
{
    return spool(a, data, len) ? 0 : send_stream(a, data, len);
}

int zb_agent_finish(zb_agent *a, uint64_t *entries)
{
    char rest[16384];
    size_t ignored;
    int rc = 0;
    /* what is kept goes first; the end of the stream for a restore's
     * agent; then its last words */
    if (a->spool_len)
        rc = send_stream(a, NULL, 0);
    /* all sent but the socket's end, which a restore's agent waits for
     * before it counts the volume */
    ZB_FAULT_POINT("agent-stream-sent", a->volume);
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

/* The agent's error with the entries it named missing, for a copy. */
static int copy_failed(zb_agent *a, const char *from, const char *to)
{
    if (a && a->absent.len) {
        zb_buf text = ZB_BUF_INIT;
        zb_buf_printf(&text, "%s; missing:%s", zb_error_message(), a->absent.data);
        zb_error_set(ZB_EDOCKER, "%s", text.data ? text.data : "the copy is short");
        zb_buf_free(&text);
    }
    return zb_error_context("copying volume %s into volume %s", from, to);
}

int zb_agent_copy(zb_docker *d, const char *from, const char *to, int remove_from)
{
    json_t *cmd = json_pack("[s,s,s,s]", "/" ZB_AGENT_NAME, "copy", "/from", "/to");
    if (cmd && remove_from)
        json_array_append_new(cmd, json_string("--remove"));
    zb_agent *a = NULL;
    uint64_t entries = 0;
    char rest[4096];
    size_t ignored;
    /* stdin: the agent checks the copy (and only then empties `from`)
     * once this process has heard that it is written */
    int rc = start(&a, d, to, cmd, json_pack("[o,o]", mount(from, "/from", !remove_from), mount(to, "/to", 0)), 1, 0);
    while (rc == 0 && !a->copied && !a->out_ended)
        rc = attach_pump(a, rest, sizeof(rest), &ignored);
    if (rc == 0 && a->copied) {
        ZB_FAULT_POINT("agent-copied", to); /* written, not yet checked */
        rc = zb_docker_attach_send(a->attach, "\n", 1);
    }
    if (rc == 0)
        rc = zb_agent_finish(a, &entries);
    /* the agent checks the copy itself; its last count is checked here
     * too, so an agent that skipped its check cannot pass a short copy */
    if (rc == 0 && (!a->copied || entries < a->copied_entries))
        rc = zb_error_set(ZB_EDOCKER, "volume %s: the copy holds %llu entries, %llu were written", to,
                          (unsigned long long)entries, (unsigned long long)a->copied_entries);
    if (rc < 0)
        copy_failed(a, from, to);
    zb_agent_free(a);
    return rc;
}

const char *zb_agent_absent(const zb_agent *a) { return a->absent.len ? a->absent.data : ""; }

void zb_agent_free(zb_agent *a)
{
    if (!a)
        return;
    zb_docker_attach_close(a->attach);
    data_socket_close(a);
    zb_helper_remove(a->d, a->id);
    zb_buf_free(&a->line);
    zb_buf_free(&a->last_error);
    zb_buf_free(&a->absent);
    free(a->spool);
    free(a->id);
    free(a->volume);
    free(a);
}
