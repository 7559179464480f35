#include "zakpos_backup/source/docker/helper.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fault.h"
#include "zakpos_backup/common/place.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/source/docker/agent.h"
#include "zakpos_backup/source/docker/record.h"
#include "zakpos_backup/source/docker/volume.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* before + value (percent-encoded) + after, into b. */
int zb_docker_api_path(zb_buf *b, const char *before, const char *value, const char *after)
{
    char *escaped = zb_docker_escape(value);
    if (!escaped)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    zb_buf_reset(b);
    int rc = zb_buf_printf(b, "%s%s%s", before, escaped, after);
    free(escaped);
    return rc;
}

/* The helper image: a tar with one empty folder, enough for containers that
 * are never started; imported once per tool version, no registry needed. */
/* An in-memory tar sent as a request body, read from a cursor. */
ssize_t zb_helper_tar_source(void *buf, size_t len, void *payload)
{
    zb_tar_upload *u = payload;
    size_t left = u->tar->len - u->at;
    size_t n = left < len ? left : len;
    memcpy(buf, u->tar->data + u->at, n);
    u->at += n;
    return (ssize_t)n;
}

static la_ssize_t append_to_buf(struct archive *a, void *payload, const void *data, size_t len)
{
    (void)a;
    return zb_buf_append(payload, data, len) == 0 ? (la_ssize_t)len : -1;
}

/* An image's rootfs tar, in memory: one entry, a folder (data NULL) or a
 * file with the given content. */
int zb_helper_image_tar(zb_buf *out, const char *name, const void *data, size_t len)
{
    struct archive *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();
    int ok = a && e && archive_write_set_format_pax_restricted(a) == ARCHIVE_OK &&
             archive_write_open(a, out, NULL, append_to_buf, NULL) == ARCHIVE_OK;
    if (ok) {
        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, data ? AE_IFREG : AE_IFDIR);
        archive_entry_set_perm(e, 0755);
        archive_entry_set_size(e, data ? (la_int64_t)len : 0);
        ok = archive_write_header(a, e) == ARCHIVE_OK &&
             (!data || archive_write_data(a, data, len) == (la_ssize_t)len) && archive_write_close(a) == ARCHIVE_OK;
    }
    archive_entry_free(e);
    archive_write_free(a);
    return ok ? 0 : zb_error_set(ZB_EFAIL, "cannot build an image for the helper containers");
}

/* 1 if the image is here, 0 if not, <0 on other errors. */
static int image_exists(zb_docker *d, const char *image)
{
    zb_buf path = ZB_BUF_INIT;
    long status = 0;
    int rc = zb_docker_api_path(&path, "/images/", image, "/json");
    if (rc == 0)
        rc = zb_docker_json(d, "GET", path.data, NULL, NULL, &status);
    zb_buf_free(&path);
    return rc == 0 ? 1 : status == 404 ? 0 : rc;
}

/* Imports repo:tag from a tar of one entry (see zb_helper_image_tar): no
 * registry is needed. */
static int import_image(zb_docker *d, const char *repo, const char *tag, const char *entry, const void *data,
                        size_t len)
{
    zb_buf path = ZB_BUF_INIT, tar = ZB_BUF_INIT;
    zb_log_detail("importing the helper image %s:%s (once)", repo, tag);
    int rc = zb_buf_printf(&path, "/images/create?fromSrc=-&repo=%s&tag=%s", repo, tag);
    if (rc == 0)
        rc = zb_helper_image_tar(&tar, entry, data, len);
    if (rc == 0)
        rc = zb_docker_send_stream(d, "POST", path.data, "application/x-tar", zb_helper_tar_source,
                                   &(zb_tar_upload){&tar, 0}, NULL, NULL);
    zb_buf_free(&path);
    zb_buf_free(&tar);
    return rc < 0 ? zb_error_context("cannot import the helper image %s", repo) : 0;
}

static int ensure_helper_image(zb_docker *d, char *image, size_t size)
{
    snprintf(image, size, "%s:%s", ZB_HELPER_REPO, ZB_VERSION);
    int rc = image_exists(d, image);
    return rc != 0 ? (rc > 0 ? 0 : rc) : import_image(d, ZB_HELPER_REPO, ZB_VERSION, "volume/", NULL, 0);
}

int zb_helper_ensure_image(zb_docker *d, const char *repo, const char *tag, const char *entry, const void *data,
                           size_t len)
{
    zb_buf image = ZB_BUF_INIT;
    int rc = zb_buf_printf(&image, "%s:%s", repo, tag);
    if (rc == 0)
        rc = image_exists(d, image.data);
    zb_buf_free(&image);
    return rc != 0 ? (rc > 0 ? 0 : rc) : import_image(d, repo, tag, entry, data, len);
}

void zb_helper_remove(zb_docker *d, const char *id);

/* Whether a helper's run is dead: by its run record when it has one (an
 * flock, right across PID namespaces and pid reuse), else (helpers of older
 * versions) by its pid on this host. */
static int helper_owner_dead(json_t *labels)
{
    const char *run = json_string_value(json_object_get(labels, ZB_HELPER_RUN_LABEL));
    if (run)
        return zb_record_run_dead(run);
    const char *owner = json_string_value(json_object_get(labels, ZB_HELPER_LABEL));
    long pid = owner ? strtol(owner, NULL, 10) : 0;
    return pid > 0 && pid != (long)getpid() && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* Helpers left by runs that were killed outright are removed, and the
 * folders of their streams' sockets. */
int zb_helper_sweep(zb_docker *d)
{
    zb_agent_sweep_folders();
    json_t *list = NULL;
    int rc =
        zb_docker_json(d, "GET", "/containers/json?all=1&filters=%7B%22label%22%3A%5B%22" ZB_HELPER_LABEL "%22%5D%7D",
                       NULL, &list, NULL);
    size_t i;
    json_t *c;
    json_array_foreach (list, i, c) {
        const char *id = json_string_value(json_object_get(c, "Id"));
        if (!id || !helper_owner_dead(json_object_get(c, "Labels")))
            continue;
        zb_log_info("removing helper container %.12s left by a run that was killed", id);
        zb_helper_remove(d, id);
    }
    json_decref(list);
    if (rc == 0)
        zb_record_forget_dead();
    return rc;
}

int zb_helper_sweep_host(zb_docker *given)
{
    const char *host = zb_place_docker_host();
    const char *socket = ZB_DOCKER_DEFAULT_HOST;
    socket += strlen("unix://"); /* the default host is a unix socket URL */
    if (!given && !(host && *host) && access(socket, F_OK) != 0) {
        zb_agent_sweep_folders();
        return 0; /* no Docker here: nothing of ours can be left in it */
    }
    zb_docker *d = given;
    int rc = d ? 0 : zb_docker_open(&d, NULL);
    if (rc == 0)
        rc = zb_helper_sweep(d);
    if (rc < 0)
        zb_log_detail("helper containers of killed runs were not looked for: %s", zb_error_message());
    if (!given)
        zb_docker_close(d);
    return rc;
}

json_t *zb_helper_labels(void)
{
    char pid[24];
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    const char *run = NULL;
    if (zb_record_self(&run) < 0)
        zb_log_detail("helper containers of this run are known by its pid only: %s", zb_error_message());
    return json_pack("{s:s, s:s?}", ZB_HELPER_LABEL, pid, ZB_HELPER_RUN_LABEL, run);
}

/* A helper container that is never started: the volume mounted at /volume. */
int zb_helper_create(zb_docker *d, const char *volume, int read_only, char **id)
{
    char image[128];
    int rc = ensure_helper_image(d, image, sizeof(image));
    if (rc < 0)
        return rc;
    zb_helper_sweep(d);
    json_t *body =
        json_pack("{s:s, s:[s], s:b, s:o, s:{s:[{s:s, s:s, s:s, s:b}]}}", "Image", image, "Cmd", "/nonexistent",
                  "NetworkDisabled", 1, "Labels", zb_helper_labels(), "HostConfig", "Mounts", "Type", "volume",
                  "Source", volume, "Target", ZB_HELPER_MOUNT_POINT, "ReadOnly", read_only);
    json_t *answer = NULL;
    rc = body ? zb_docker_json(d, "POST", "/containers/create", body, &answer, NULL)
              : zb_error_set(ZB_ENOMEM, "out of memory");
    const char *cid = json_string_value(json_object_get(answer, "Id"));
    if (rc == 0 && !cid)
        rc = zb_error_set(ZB_EDOCKER, "Docker created a container without an id");
    if (rc == 0 && !(*id = zb_strdup(cid)))
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
    json_decref(body);
    json_decref(answer);
    return rc;
}

void zb_helper_remove(zb_docker *d, const char *id)
{
    if (!id)
        return;
    zb_buf path = ZB_BUF_INIT;
    if (zb_docker_api_path(&path, "/containers/", id, "?force=1") == 0 &&
        zb_docker_json(d, "DELETE", path.data, NULL, NULL, NULL) < 0)
        zb_log_warn("cannot remove helper container %.12s: %s", id, zb_error_message());
    zb_buf_free(&path);
}

int zb_volume_inspect(zb_docker *d, const char *name, json_t **out)
{
    zb_buf path = ZB_BUF_INIT;
    long status = 0;
    int rc = zb_docker_api_path(&path, "/volumes/", name, "");
    if (rc == 0)
        rc = zb_docker_json(d, "GET", path.data, NULL, out, &status);
    zb_buf_free(&path);
    if (rc < 0 && status == 404) {
        zb_error_set(ZB_ENOTFOUND, "Docker volume '%s' does not exist", name);
        return zb_error_hint("list the volumes with GET /volumes (docker volume ls)");
    }
    return rc;
}

const char *zb_volume_reachable_folder(json_t *info)
{
    if (ZB_FAULT_VALUE("docker-volume-unreachable"))
        return NULL; /* a test of the paths for a folder on another host */
    const char *driver = json_string_value(json_object_get(info, "Driver"));
    const char *mountpoint = json_string_value(json_object_get(info, "Mountpoint"));
    struct stat st;
    /* a local volume with driver options (a bind, NFS, tmpfs) is mounted
     * onto its folder only while a container uses it: its folder is not
     * its content */
    int ok = driver && strcmp(driver, "local") == 0 && json_object_size(json_object_get(info, "Options")) == 0 &&
             mountpoint && stat(mountpoint, &st) == 0 && S_ISDIR(st.st_mode) && access(mountpoint, R_OK | X_OK) == 0;
    return ok ? mountpoint : NULL;
}

int zb_volume_folder(zb_docker *d, const char *name, char **folder)
{
    json_t *info = NULL;
    *folder = NULL;
    int rc = zb_volume_inspect(d, name, &info);
    const char *reachable = rc == 0 ? zb_volume_reachable_folder(info) : NULL;
    if (reachable && !(*folder = zb_strdup(reachable)))
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
    json_decref(info);
    return rc;
}

/* GET a listing filtered on one key (Docker's filters={"key":["value"]}). */
int zb_docker_list_filtered(zb_docker *d, const char *listing, const char *key, const char *value, json_t **out)
{
    json_t *filter = json_pack("{s:[s]}", key, value);
    char *text = filter ? json_dumps(filter, JSON_COMPACT) : NULL;
    zb_buf path = ZB_BUF_INIT;
    int rc = text ? zb_docker_api_path(&path, listing, text, "") : zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0)
        rc = zb_docker_json(d, "GET", path.data, NULL, out, NULL);
    json_decref(filter);
    free(text);
    zb_buf_free(&path);
    return rc;
}

/* An image holding only this host's static busybox. */
static int ensure_busybox_image(zb_docker *d, char *image, size_t size)
{
    static const char busybox[] = "/bin/busybox";
    snprintf(image, size, "%s-busybox:%s", ZB_HELPER_REPO, ZB_VERSION);
    int rc = image_exists(d, image);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    if (access(busybox, X_OK) != 0) {
        zb_error_set(ZB_EUSAGE, "writing a volume whose folder this host cannot reach needs %s on this host", busybox);
        return zb_error_hint("install busybox-static, or run the tool on the Docker host as root");
    }
    char *data = NULL;
    size_t data_len = 0;
    rc = zb_fs_read_file(&data, &data_len, busybox, 16u << 20);
    if (rc == 0)
        rc = import_image(d, ZB_HELPER_REPO "-busybox", ZB_VERSION, "busybox", data, data_len);
    free(data);
    return rc;
}

int zb_helper_run_script(zb_docker *d, json_t *mounts, const char *script, const char *what)
{
    char image[128], pid[24];
    int rc = ensure_busybox_image(d, image, sizeof(image));
    if (rc < 0)
        return rc;
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    json_t *list = json_array();
    const char *volume;
    json_t *target;
    json_object_foreach (mounts, volume, target)
        json_array_append_new(list, json_pack("{s:s, s:s, s:O}", "Type", "volume", "Source", volume, "Target", target));
    json_t *body =
        json_pack("{s:s, s:[s,s,s,s], s:b, s:{s:s}, s:{s:o}}", "Image", image, "Cmd", "/busybox", "sh", "-c", script,
                  "NetworkDisabled", 1, "Labels", ZB_HELPER_LABEL, pid, "HostConfig", "Mounts", list);
    json_t *created = NULL, *waited = NULL;
    zb_buf path = ZB_BUF_INIT;
    rc = body ? zb_docker_json(d, "POST", "/containers/create", body, &created, NULL)
              : zb_error_set(ZB_ENOMEM, "out of memory");
    const char *id = json_string_value(json_object_get(created, "Id"));
    if (rc == 0 && (rc = zb_docker_api_path(&path, "/containers/", id, "/start")) == 0)
        rc = zb_docker_json(d, "POST", path.data, NULL, NULL, NULL);
    if (rc == 0 && (rc = zb_docker_api_path(&path, "/containers/", id, "/wait")) == 0)
        rc = zb_docker_json(d, "POST", path.data, NULL, &waited, NULL);
    if (rc == 0 && json_integer_value(json_object_get(waited, "StatusCode")) != 0)
        rc = zb_error_set(ZB_EDOCKER, "%s failed (exit status %lld in the helper container)", what,
                          (long long)json_integer_value(json_object_get(waited, "StatusCode")));
    zb_helper_remove(d, id);
    json_decref(body);
    json_decref(created);
    json_decref(waited);
    zb_buf_free(&path);
    return rc;
}

int zb_docker_state_path(char *out, size_t size, const char *file)
{
    const char *dir = zb_place_state_dir();
    if (snprintf(out, size, "%s/%s", dir, file) >= (int)size)
        return zb_error_set(ZB_EUSAGE, "state folder path too long: %s", dir);
    return *file ? zb_fs_mkdir_p(dir, 0700) : 0; /* the folder itself is only looked at */
}
