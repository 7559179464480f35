#include "zakpos_backup/source/docker/volume.h"
#include "zakpos_backup/archive/manifest.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/progress.h"
#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/source/docker/helper.h"
#include "zakpos_backup/source/docker/quiesce.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PIPE_BYTES (1 << 20)
#define DATA_DIR "data"
#define META_NAME "volume.json"


struct zb_volume_restore {
    zb_docker *d;
    char *name;   /* in the archive */
    char *target; /* the volume written */
    int force;
    int created;  /* the target was made by this restore: removed on failure */
    int finished;
    char *helper;
    zb_quiesce held;    /* containers stopped while a forced restore replaces content */
    int holding;
    /* the upload: libarchive writes a tar into a pipe, a thread PUTs it */
    struct archive *out;
    int pipe_read, pipe_write; /* libarchive does not close the fd it writes to */
    pthread_t thread;
    int thread_started;
    int upload_failed;
    zb_error_saved upload_error;
    zb_buf put_path;
};

static ssize_t read_from_pipe(void *buf, size_t len, void *payload)
{
    zb_volume_restore *v = payload;
    ssize_t n;
    do
        n = read(v->pipe_read, buf, len);
    while (n < 0 && errno == EINTR);
    return n < 0 ? zb_error_errno(ZB_EIO, errno, "cannot read the upload pipe") : n;
}

static void *upload_main(void *arg)
{
    zb_volume_restore *v = arg;
    if (zb_docker_send_stream(v->d, "PUT", v->put_path.data, "application/x-tar", read_from_pipe, v, NULL, NULL) < 0) {
        v->upload_failed = 1;
        zb_error_save(&v->upload_error);
    }
    /* drain, so the writer never blocks on a full pipe after a failure */
    char sink[4096];
    while (read(v->pipe_read, sink, sizeof(sink)) > 0)
        ;
    return NULL;
}

/* Empties a volume that a forced restore replaces: a helper container with
 * the host's static busybox deletes everything under the mount point. */
static int clear_volume(zb_volume_restore *v)
{
    static const char busybox[] = "/bin/busybox";
    if (access(busybox, X_OK) != 0) {
        zb_error_set(ZB_EUSAGE, "replacing the content of volume %s needs %s on this host to empty it", v->target, busybox);
        return zb_error_hint("install busybox-static, or restore into a new volume (--volume %s=NEWNAME)", v->name);
    }
    zb_buf tar = ZB_BUF_INIT, path = ZB_BUF_INIT;
    /* an image holding only busybox, tagged with the tool's version */
    char *data = NULL;
    size_t size = 0;
    int rc = zb_fs_read_file(&data, &size, busybox, 16u << 20);
    if (rc == 0)
        rc = zb_helper_image_tar(&tar, "busybox", data, size);
    if (rc == 0)
        rc = zb_buf_printf(&path, "/images/create?fromSrc=-&repo=%s-cleaner&tag=%s", ZB_HELPER_REPO, ZB_VERSION);
    if (rc == 0)
        rc = zb_docker_send_stream(v->d, "POST", path.data, "application/x-tar", zb_helper_tar_source, &(zb_tar_upload){&tar, 0},
                                   NULL, NULL);
    char image[128];
    snprintf(image, sizeof(image), "%s-cleaner:%s", ZB_HELPER_REPO, ZB_VERSION);
    json_t *body = json_pack("{s:s, s:[s,s,s,s,s,s,s,s,s,s,s,s,s], s:b, s:{s:s}, s:{s:[{s:s, s:s, s:s}]}}", "Image", image,
                             "Cmd", "/busybox", "find", ZB_HELPER_MOUNT_POINT, "-mindepth", "1", "-maxdepth", "1", "-exec", "/busybox",
                             "rm", "-rf", "{}", "+", "NetworkDisabled", 1, "Labels", ZB_HELPER_LABEL,
                             "true", "HostConfig", "Mounts", "Type", "volume", "Source", v->target, "Target", ZB_HELPER_MOUNT_POINT);
    json_t *created = NULL, *waited = NULL;
    if (rc == 0)
        rc = zb_docker_json(v->d, "POST", "/containers/create", body, &created, NULL);
    const char *id = json_string_value(json_object_get(created, "Id"));
    if (rc == 0 && (rc = zb_docker_api_path(&path, "/containers/", id, "/start")) == 0)
        rc = zb_docker_json(v->d, "POST", path.data, NULL, NULL, NULL);
    if (rc == 0 && (rc = zb_docker_api_path(&path, "/containers/", id, "/wait")) == 0)
        rc = zb_docker_json(v->d, "POST", path.data, NULL, &waited, NULL);
    if (rc == 0 && json_integer_value(json_object_get(waited, "StatusCode")) != 0)
        rc = zb_error_set(ZB_EDOCKER, "emptying volume %s failed (status %lld)", v->target,
                          (long long)json_integer_value(json_object_get(waited, "StatusCode")));
    zb_helper_remove(v->d, id);
    json_decref(body);
    json_decref(created);
    json_decref(waited);
    free(data);
    zb_buf_free(&tar);
    zb_buf_free(&path);
    return rc;
}

int zb_volume_restore_begin(zb_volume_restore **out, zb_docker *d, const char *name, const char *target, int force)
{
    zb_volume_restore *v = calloc(1, sizeof(*v));
    if (!v || !(v->name = zb_strdup(name)) || !(v->target = zb_strdup(target ? target : name))) {
        zb_volume_restore_free(v);
        return zb_error_set(ZB_ENOMEM, "out of memory");
    }
    v->d = d;
    v->force = force;
    v->pipe_read = v->pipe_write = -1;
    *out = v;
    json_t *info = NULL;
    int rc = zb_volume_inspect(d, v->target, &info);
    json_decref(info);
    if (rc == 0 && !force) {
        zb_error_set(ZB_EEXIST, "Docker volume '%s' exists; nothing was changed", v->target);
        return zb_error_hint("restore into a new volume (--volume %s=NEWNAME), or pass --force to replace its content", name);
    }
    if (rc == ZB_ENOTFOUND)
        rc = 0; /* made from volume.json when it arrives */
    return rc;
}

static int create_volume(zb_volume_restore *v, json_t *meta)
{
    json_t *body = json_pack("{s:s, s:s, s:O?, s:O?}", "Name", v->target, "Driver",
                             json_string_value(json_object_get(meta, "driver")) ? json_string_value(json_object_get(meta, "driver")) : "local",
                             "Labels", json_object_get(meta, "labels"), "DriverOpts", json_object_get(meta, "options"));
    int rc = body ? zb_docker_json(v->d, "POST", "/volumes/create", body, NULL, NULL) : zb_error_set(ZB_ENOMEM, "out of memory");
    json_decref(body);
    if (rc == 0) {
        v->created = 1;
        zb_log_detail("created volume %s", v->target);
    }
    return rc;
}

/* volume.json: the target is made (or emptied, with --force) and the upload
 * into it starts. */
static int start_upload(zb_volume_restore *v, zb_archive_reader *r)
{
    char text[65536];
    ssize_t n = zb_archive_reader_read(r, text, sizeof(text) - 1);
    if (n < 0)
        return (int)n;
    text[n] = '\0';
    json_t *meta = json_loads(text, 0, NULL);
    if (!json_is_object(meta)) {
        json_decref(meta);
        return zb_error_set(ZB_EFORMAT, "volume %s: volume.json is not valid", v->name);
    }
    json_t *info = NULL;
    int exists = zb_volume_inspect(v->d, v->target, &info) == 0;
    json_decref(info);
    int rc = 0;
    if (!exists) {
        rc = create_volume(v, meta);
    } else if ((rc = zb_quiesce_hold(&v->held, v->d, v->target, NULL, 1)) == 0) {
        v->holding = 1;
        rc = clear_volume(v);
    }
    json_decref(meta);
    if (rc == 0)
        rc = zb_helper_create(v->d, v->target, 0, &v->helper);
    if (rc == 0)
        rc = zb_docker_api_path(&v->put_path, "/containers/", v->helper, "/archive?path=/");
    int fds[2];
    if (rc == 0 && pipe2(fds, O_CLOEXEC) < 0)
        rc = zb_error_errno(ZB_EIO, errno, "cannot make a pipe");
    if (rc < 0)
        return rc;
    fcntl(fds[1], F_SETPIPE_SZ, PIPE_BYTES);
    v->pipe_read = fds[0];
    v->pipe_write = fds[1];
    v->out = archive_write_new();
    if (!v->out || archive_write_set_format_pax_restricted(v->out) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(v->out, 1) != ARCHIVE_OK || archive_write_open_fd(v->out, fds[1]) != ARCHIVE_OK)
        return zb_error_set(ZB_EFAIL, "cannot start the upload stream");
    if (pthread_create(&v->thread, NULL, upload_main, v) != 0)
        return zb_error_set(ZB_EFAIL, "cannot start the upload thread");
    v->thread_started = 1;
    return 0;
}

/* A symbolic link may point anywhere inside the volume, never outside it. */
static int check_link(const char *relative, const char *target)
{
    if (target[0] == '/')
        return zb_error_set(ZB_EUNSAFE, "refusing %s: a symbolic link to an absolute path (%s) leaves the volume", relative, target);
    int depth = 0;
    for (const char *p = relative; *p; p++)
        depth += *p == '/';
    for (const char *p = target; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && strncmp(p, "..", 2) == 0)
            depth--;
        else if (n > 0 && !(n == 1 && *p == '.'))
            depth++;
        if (depth < 0)
            return zb_error_set(ZB_EUNSAFE, "refusing %s: its link target %s leaves the volume", relative, target);
        p += n;
        while (*p == '/')
            p++;
    }
    return 0;
}

static void close_upload_pipe(zb_volume_restore *v)
{
    if (v->pipe_write >= 0)
        close(v->pipe_write); /* the end of the body: the upload finishes */
    v->pipe_write = -1;
}

static int upload_failure(zb_volume_restore *v)
{
    if (v->thread_started) {
        archive_write_free(v->out);
        v->out = NULL;
        close_upload_pipe(v);
        pthread_join(v->thread, NULL);
        v->thread_started = 0;
    }
    return v->upload_failed ? zb_error_raise(&v->upload_error) : ZB_EDOCKER;
}

int zb_volume_restore_entry(zb_volume_restore *v, zb_archive_reader *r, struct archive_entry *entry, const zb_entry_info *info)
{
    if (strcmp(info->relative, META_NAME) == 0)
        return v->out ? zb_error_set(ZB_EFORMAT, "volume %s has two volume.json entries", v->name) : start_upload(v, r);
    if (strcmp(info->relative, ".") == 0)
        return 0;
    if (strncmp(info->relative, DATA_DIR, strlen(DATA_DIR)) != 0 ||
        (info->relative[strlen(DATA_DIR)] != '/' && info->relative[strlen(DATA_DIR)] != '\0'))
        return zb_error_set(ZB_EFORMAT, "unexpected entry %s in volume %s", info->relative, v->name);
    if (!v->out)
        return zb_error_set(ZB_EFORMAT, "volume %s: content before volume.json", v->name);
    const char *inside = info->relative[strlen(DATA_DIR)] ? info->relative + strlen(DATA_DIR) + 1 : ".";
    const char *symlink = archive_entry_symlink(entry);
    int rc = symlink ? check_link(inside, symlink) : 0;
    if (rc < 0)
        return rc;
    struct archive_entry *e = archive_entry_clone(entry);
    zb_buf name = ZB_BUF_INIT, link = ZB_BUF_INIT;
    /* Names go below the mount point, uploaded from the container's root:
     * Docker skips a "." entry, so only this way does the volume's own
     * folder get its owner, mode and time back (Redis must own its folder). */
    rc = e ? zb_buf_printf(&name, "%s%s%s", ZB_HELPER_MOUNT_NAME, strcmp(inside, ".") == 0 ? "" : "/",
                           strcmp(inside, ".") == 0 ? "" : inside)
           : zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0 && info->hardlink_relative)
        rc = zb_buf_printf(&link, "%s/%s", ZB_HELPER_MOUNT_NAME, info->hardlink_relative + strlen(DATA_DIR) + 1);
    if (rc < 0) {
        archive_entry_free(e);
        zb_buf_free(&name);
        zb_buf_free(&link);
        return rc;
    }
    archive_entry_set_pathname(e, name.data);
    if (info->hardlink_relative)
        archive_entry_set_hardlink(e, link.data);
    zb_buf_free(&name);
    zb_buf_free(&link);
    if (archive_write_header(v->out, e) < ARCHIVE_WARN) /* a warning: a name kept as raw bytes */
        rc = v->upload_failed ? upload_failure(v) : zb_error_set(ZB_EIO, "cannot stream %s: %s", inside, archive_error_string(v->out));
    const void *data;
    size_t len;
    int64_t offset, at = 0;
    while (rc == 0 && archive_entry_filetype(e) == AE_IFREG && !info->hardlink_relative &&
           (rc = zb_archive_reader_read_block(r, &data, &len, &offset)) > 0) {
        rc = 0;
        static const char zeros[65536];
        while (rc == 0 && at < offset) { /* holes go as zeros: Docker's extractor has no sparse files */
            size_t n = offset - at < (int64_t)sizeof(zeros) ? (size_t)(offset - at) : sizeof(zeros);
            rc = archive_write_data(v->out, zeros, n) == (la_ssize_t)n ? 0 : upload_failure(v);
            at += (int64_t)n;
        }
        if (rc == 0 && len && archive_write_data(v->out, data, len) != (la_ssize_t)len)
            rc = upload_failure(v);
        at += (int64_t)len;
    }
    zb_progress_rename("reading, loading volumes"); /* the bar counts archive bytes: the reader adds them */
    archive_entry_free(e);
    return rc;
}

int zb_volume_restore_finish(zb_volume_restore *v, zb_archive_reader *r)
{
    (void)r;
    if (!v->out)
        return zb_error_set(ZB_EFORMAT, "volume %s has no volume.json", v->name);
    int rc = archive_write_close(v->out) == ARCHIVE_OK ? 0 : zb_error_set(ZB_EIO, "cannot finish the upload stream");
    archive_write_free(v->out);
    v->out = NULL;
    close_upload_pipe(v);
    pthread_join(v->thread, NULL);
    v->thread_started = 0;
    if (v->upload_failed)
        rc = zb_error_raise(&v->upload_error);
    if (rc == 0)
        v->finished = 1;
    /* done with the volume: the helper goes now, so the volume is free */
    zb_helper_remove(v->d, v->helper);
    free(v->helper);
    v->helper = NULL;
    return rc;
}

const char *zb_volume_restore_target(const zb_volume_restore *v) { return v->target; }

void zb_volume_restore_free(zb_volume_restore *v)
{
    if (!v)
        return;
    if (v->thread_started)
        upload_failure(v);
    archive_write_free(v->out);
    close_upload_pipe(v);
    if (v->pipe_read >= 0)
        close(v->pipe_read);
    zb_helper_remove(v->d, v->helper);
    if (v->holding)
        zb_quiesce_release(&v->held, v->d);
    if (v->created && !v->finished) {
        zb_buf path = ZB_BUF_INIT;
        if (zb_docker_api_path(&path, "/volumes/", v->target, "") == 0 && zb_docker_json(v->d, "DELETE", path.data, NULL, NULL, NULL) == 0)
            zb_log_detail("the partly restored volume %s was removed", v->target);
        else
            zb_log_warn("the partly restored volume %s could not be removed: %s", v->target, zb_error_message());
        zb_buf_free(&path);
    }
    free(v->helper);
    free(v->name);
    free(v->target);
    zb_buf_free(&v->put_path);
    free(v);
}

