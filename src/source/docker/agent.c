#include "zakpos_backup/source/docker/agent.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/source/docker/helper.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define AGENT_MAX_BYTES (32u << 20)
#define STDERR_LINE_MAX 4096

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

/* cmd and mounts are taken over. */
static int start(zb_agent **out, zb_docker *d, const char *volume, json_t *cmd, json_t *mounts, int with_stdin)
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
    char image[128];
    zb_buf path = ZB_BUF_INIT;
    int rc = ensure_image(d, image, sizeof(image));
    if (rc == 0) {
        zb_helper_sweep(d);
        rc = create_container(a, image, cmd, mounts, with_stdin);
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
    return start(out, d, volume, cmd, json_pack("[o]", mount(volume, ZB_HELPER_MOUNT_POINT, !restore)), restore);
}

int zb_agent_copy(zb_docker *d, const char *from, const char *to, int remove_from)
{
    json_t *cmd = json_pack("[s,s,s,s]", "/" ZB_AGENT_NAME, "copy", "/from", "/to");
    if (cmd && remove_from)
        json_array_append_new(cmd, json_string("--remove"));
    zb_agent *a = NULL;
    uint64_t entries;
    int rc = start(&a, d, to, cmd, json_pack("[o,o]", mount(from, "/from", !remove_from), mount(to, "/to", 0)), 0);
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
    if (sscanf(text, "count %llu %llu", &entries, &sockets) == 2) {
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

ssize_t zb_agent_read(zb_agent *a, void *buf, size_t len)
{
    while (!a->out_ended) {
        int stream = 0;
        ssize_t n = zb_docker_attach_recv(a->attach, buf, len, &stream);
        if (n <= 0) {
            a->out_ended = 1;
            return n;
        }
        if (stream == 2)
            agent_stderr(a, buf, (size_t)n);
        else
            return n;
    }
    return 0;
}

int zb_agent_write(zb_agent *a, const void *data, size_t len)
{
    int rc = zb_docker_attach_send(a->attach, data, len);
    return rc < 0 ? zb_error_context("volume %s: the volume agent stopped taking the stream", a->volume) : 0;
}

int zb_agent_finish(zb_agent *a, uint64_t *entries)
{
    char rest[16384];
    ssize_t n;
    while ((n = zb_agent_read(a, rest, sizeof(rest))) > 0)
        ; /* a restore's agent writes nothing on stdout */
    if (a->line.len)
        agent_line(a);
    json_t *waited = NULL;
    zb_buf path = ZB_BUF_INIT;
    int rc = n < 0 ? (int)n : zb_docker_api_path(&path, "/containers/", a->id, "/wait");
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
    zb_helper_remove(a->d, a->id);
    zb_buf_free(&a->line);
    zb_buf_free(&a->last_error);
    free(a->id);
    free(a->volume);
    free(a);
}
