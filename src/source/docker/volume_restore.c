#include "zakpos_backup/source/docker/volume.h"
#include "zakpos_backup/archive/manifest.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fault.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/progress.h"
#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/common/walk.h"
#include "zakpos_backup/source/docker/acl.h"
#include "zakpos_backup/source/docker/agent.h"
#include "zakpos_backup/source/path/fine.h"
#include "zakpos_backup/source/docker/helper.h"
#include "zakpos_backup/source/docker/swap.h"
#include "zakpos_backup/source/path/path.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PIPE_BYTES           (1 << 20)
#define DATA_DIR             "data"
#define META_NAME            "volume.json"
#define COMPOSE_LABEL_PREFIX "com.docker.compose."
/* Docker's archive upload fails on longer names ("file name too long") */
#define API_PATH_MAX         4096

/* The upload through the helper: libarchive writes a tar into a pipe, a
 * thread PUTs it to /containers/{id}/archive. Through the volume agent,
 * libarchive writes the pax stream straight into the attached connection. */
typedef struct volume_upload {
    zb_docker *d;
    char *helper;
    zb_agent *agent;
    uint64_t agent_entries; /* the agent's count of the written volume */
    zb_buf agent_absent;    /* the entries it wrote that its count lacks, as it named them */
    struct archive *out;
    int pipe_read, pipe_write; /* libarchive does not close the fd it writes to */
    pthread_t thread;
    int thread_started;
    int failed;
    zb_error_saved error;
    zb_buf put_path;
    zb_buf links; /* symbolic links sent so far, "\n"-separated: nothing is written through them */
} volume_upload;

struct zb_volume_restore {
    zb_docker *d;
    char *name;   /* in the archive */
    char *target; /* the volume restored into */
    zb_volume_restore_options opts;
    int replace; /* the target exists (force): written into a stage, then swapped in */
    zb_swap *swap;
    const char *written; /* the volume being written: the target or the stage */
    int created;         /* the target was made by this restore: removed unless finished */
    int finished;
    uint64_t entries; /* content entries received, the volume's folder included */
    char *folder;     /* the written volume's folder, when reachable from here */
    int folder_known; /* folder set from the volume's creation */
    zb_path_restore *direct;
    volume_upload *upload;
    zb_tree_fine *fine; /* a rehearsal's record of what the manifest lacks, for the read-back */
    FILE *names;        /* the entries' names, NUL-ended, where the folder is counted: to name what is missing */
};

/* ------------------------------------------------------ upload (API mode) */

static ssize_t read_from_pipe(void *buf, size_t len, void *payload)
{
    volume_upload *u = payload;
    ssize_t n;
    do
        n = read(u->pipe_read, buf, len);
    while (n < 0 && errno == EINTR);
    return n < 0 ? zb_error_errno(ZB_EIO, errno, "cannot read the upload pipe") : n;
}

static void *upload_main(void *arg)
{
    volume_upload *u = arg;
    if (zb_docker_send_stream(u->d, "PUT", u->put_path.data, "application/x-tar", read_from_pipe, u, NULL, NULL) < 0) {
        u->failed = 1;
        zb_error_save(&u->error);
    }
    /* drain, so the writer never blocks on a full pipe after a failure */
    char sink[4096];
    while (read(u->pipe_read, sink, sizeof(sink)) > 0)
        ;
    return NULL;
}

static void close_upload_pipe(volume_upload *u)
{
    if (u->pipe_write >= 0)
        close(u->pipe_write); /* the end of the body: the upload finishes */
    u->pipe_write = -1;
}

/* Ends the upload thread; the upload's own error if it failed. */
static int upload_stop(volume_upload *u)
{
    if (u->agent) { /* the agent stopped taking the stream: its own words say why */
        archive_write_free(u->out);
        u->out = NULL;
        zb_error_saved failure;
        zb_error_save(&failure);
        uint64_t entries;
        return zb_agent_finish(u->agent, &entries) < 0 ? zb_error_code() : zb_error_raise(&failure);
    }
    if (u->thread_started) {
        archive_write_free(u->out);
        u->out = NULL;
        close_upload_pipe(u);
        pthread_join(u->thread, NULL);
        u->thread_started = 0;
    }
    return u->failed ? zb_error_raise(&u->error) : zb_error_set(ZB_EDOCKER, "the upload to Docker stopped");
}

static void upload_free(volume_upload *u)
{
    if (!u)
        return;
    if (u->thread_started) { /* its own words ("the upload stopped") would hide why the restore stopped */
        zb_error_saved failure;
        zb_error_save(&failure);
        upload_stop(u);
        zb_error_raise(&failure);
    }
    archive_write_free(u->out);
    close_upload_pipe(u);
    if (u->pipe_read >= 0)
        close(u->pipe_read);
    zb_agent_free(u->agent);
    zb_helper_remove(u->d, u->helper);
    free(u->helper);
    zb_buf_free(&u->put_path);
    zb_buf_free(&u->links);
    zb_buf_free(&u->agent_absent);
    free(u);
}

static la_ssize_t to_agent(struct archive *a, void *payload, const void *data, size_t len)
{
    (void)a;
    volume_upload *u = payload;
    if (zb_agent_write(u->agent, data, len) < 0) {
        u->failed = 1;
        zb_error_save(&u->error);
        return -1;
    }
    return (la_ssize_t)len;
}

static int agent_upload_start(volume_upload *u, const char *volume)
{
    int rc = zb_agent_start(&u->agent, u->d, volume, 1);
    if (rc < 0)
        return rc;
    u->out = archive_write_new();
    /* full pax: the restricted form leaves out sub-second times */
    if (!u->out || archive_write_set_format_pax(u->out) != ARCHIVE_OK ||
        archive_write_set_bytes_per_block(u->out, 64 * 1024) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(u->out, 1) != ARCHIVE_OK ||
        archive_write_open2(u->out, u, NULL, to_agent, NULL, NULL) != ARCHIVE_OK)
        return zb_error_set(ZB_EFAIL, "cannot start the stream to the volume agent");
    return 0;
}

static int upload_start(volume_upload **out, zb_docker *d, const char *volume, int agent)
{
    volume_upload *u = calloc(1, sizeof(*u));
    if (!u)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    *out = u;
    u->d = d;
    u->pipe_read = u->pipe_write = -1;
    if (agent)
        return agent_upload_start(u, volume);
    int rc = zb_helper_create(d, volume, 0, &u->helper);
    if (rc == 0)
        rc = zb_docker_api_path(&u->put_path, "/containers/", u->helper, "/archive?path=/");
    int fds[2];
    if (rc == 0 && pipe2(fds, O_CLOEXEC) < 0)
        rc = zb_error_errno(ZB_EIO, errno, "cannot make a pipe");
    if (rc < 0)
        return rc;
    fcntl(fds[1], F_SETPIPE_SZ, PIPE_BYTES);
    u->pipe_read = fds[0];
    u->pipe_write = fds[1];
    u->out = archive_write_new();
    if (!u->out || archive_write_set_format_pax_restricted(u->out) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(u->out, 1) != ARCHIVE_OK ||
        archive_write_open_fd(u->out, fds[1]) != ARCHIVE_OK)
        return zb_error_set(ZB_EFAIL, "cannot start the upload stream");
    if (pthread_create(&u->thread, NULL, upload_main, u) != 0)
        return zb_error_set(ZB_EFAIL, "cannot start the upload thread");
    u->thread_started = 1;
    return 0;
}

/* Links are data: any target is restored as a link. What is refused is an
 * entry below a link sent before, which Docker's extractor would write
 * through it. */
static int check_not_through_link(volume_upload *u, const char *inside)
{
    for (const char *l = u->links.data; l && *l;) {
        size_t n = strcspn(l, "\n");
        if (strncmp(inside, l, n) == 0 && inside[n] == '/')
            return zb_error_set(ZB_EUNSAFE, "refusing %s: it lies below the symbolic link %.*s", inside, (int)n, l);
        l += n + (l[n] == '\n');
    }
    return 0;
}

static int upload_data(volume_upload *u, zb_archive_reader *r)
{
    const void *data;
    size_t len;
    int64_t offset, at = 0;
    int rc;
    static const char zeros[65536];
    while ((rc = zb_archive_reader_read_block(r, &data, &len, &offset)) > 0) {
        rc = 0;
        while (rc == 0 && at < offset) { /* holes go as zeros: Docker's extractor has no sparse files */
            size_t n = offset - at < (int64_t)sizeof(zeros) ? (size_t)(offset - at) : sizeof(zeros);
            rc = archive_write_data(u->out, zeros, n) == (la_ssize_t)n ? 0 : upload_stop(u);
            at += (int64_t)n;
        }
        if (rc == 0 && len && archive_write_data(u->out, data, len) != (la_ssize_t)len)
            rc = upload_stop(u);
        if (rc < 0)
            return rc;
        at += (int64_t)len;
        if ((rc = zb_check_interrupt()) < 0)
            return rc;
    }
    return rc;
}

static int upload_entry(volume_upload *u, zb_archive_reader *r, struct archive_entry *entry, const char *inside,
                        const char *hardlink_inside)
{
    if (!u->agent && strlen(inside) + strlen(ZB_HELPER_MOUNT_NAME) + 1 >= API_PATH_MAX) {
        /* named by its ends, as a missing entry is: the whole name would not fit the message */
        size_t n = strlen(inside);
        zb_error_set(
            ZB_EDOCKER,
            "%.100s...%s (%zu bytes) cannot be written through the Docker API: its name is longer than %d bytes",
            inside, inside + n - 120, n, API_PATH_MAX);
        return zb_error_hint(
            "run the restore on the Docker host (as root), where the volume's folder is written "
            "directly, or through the volume agent (--volume-agent), which writes paths of any length");
    }
    int rc = check_not_through_link(u, inside);
    if (rc == 0 && archive_entry_filetype(entry) == AE_IFLNK)
        rc = zb_buf_printf(&u->links, "%s\n", inside);
    struct archive_entry *e = rc == 0 ? archive_entry_clone(entry) : NULL;
    zb_buf name = ZB_BUF_INIT, link = ZB_BUF_INIT;
    if (rc == 0 && e && u->agent)
        rc = zb_acl_to_xattrs(e);
    /* Names go below the mount point, uploaded from the container's root:
     * Docker skips a "." entry, so only this way does the volume's own
     * folder get its owner, mode and time back (Redis must own its folder). */
    /* the agent is given names inside the volume */
    const char *top = u->agent ? "." : ZB_HELPER_MOUNT_NAME;
    if (rc == 0)
        rc = e ? zb_buf_printf(&name, "%s%s%s", top, strcmp(inside, ".") == 0 ? "" : "/",
                               strcmp(inside, ".") == 0 ? "" : inside)
               : zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0 && hardlink_inside)
        rc = zb_buf_printf(&link, "%s/%s", top, hardlink_inside);
    if (rc == 0) {
        archive_entry_set_pathname(e, name.data);
        if (hardlink_inside)
            archive_entry_set_hardlink(e, link.data);
        if (archive_write_header(u->out, e) < ARCHIVE_WARN) /* a warning: a name kept as raw bytes */
            rc = u->failed ? upload_stop(u)
                           : zb_error_set(ZB_EIO, "cannot stream %s: %s", inside, archive_error_string(u->out));
    }
    if (rc == 0 && archive_entry_filetype(e) == AE_IFREG && !hardlink_inside)
        rc = upload_data(u, r);
    archive_entry_free(e);
    zb_buf_free(&name);
    zb_buf_free(&link);
    return rc;
}

static int upload_finish(volume_upload *u)
{
    int rc = archive_write_close(u->out) == ARCHIVE_OK ? 0 : zb_error_set(ZB_EIO, "cannot finish the upload stream");
    archive_write_free(u->out);
    u->out = NULL;
    if (u->agent) {
        if (rc < 0 && u->failed)
            rc = upload_stop(u);
        else if (rc == 0)
            rc = zb_agent_finish(u->agent, &u->agent_entries);
        if (rc == 0)
            rc = zb_buf_puts(&u->agent_absent, zb_agent_absent(u->agent));
        zb_agent_free(u->agent); /* done with the volume: it is free again */
        u->agent = NULL;
        return rc;
    }
    close_upload_pipe(u);
    pthread_join(u->thread, NULL);
    u->thread_started = 0;
    if (u->failed)
        rc = zb_error_raise(&u->error);
    /* done with the volume: the helper goes now, so the volume is free */
    zb_helper_remove(u->d, u->helper);
    free(u->helper);
    u->helper = NULL;
    return rc;
}

/* -------------------------------------------------------- the new volume */

int zb_volume_restore_begin(zb_volume_restore **out, zb_docker *d, const char *name, const char *target,
                            const zb_volume_restore_options *opts)
{
    zb_volume_restore *v = calloc(1, sizeof(*v));
    if (!v || !(v->name = zb_strdup(name)) || !(v->target = zb_strdup(target ? target : name))) {
        zb_volume_restore_free(v);
        return zb_error_set(ZB_ENOMEM, "out of memory");
    }
    v->d = d;
    if (opts)
        v->opts = *opts;
    *out = v;
    if (v->opts.scratch && zb_tree_fine_new(&v->fine) < 0)
        return zb_error_code();
    json_t *info = NULL;
    int rc = zb_volume_inspect(d, v->target, &info);
    json_decref(info);
    if (rc == 0 && (!v->opts.force || v->opts.scratch)) {
        zb_error_set(ZB_EEXIST, "Docker volume '%s' exists; nothing was changed", v->target);
        return zb_error_hint("restore into a new volume (--volume %s=NEWNAME), or pass --force to replace its content",
                             name);
    }
    v->replace = rc == 0;
    if (rc == ZB_ENOTFOUND)
        rc = 0; /* made when volume.json arrives */
    return rc;
}

/* Driver options that make the volume a view of a host folder: writing the
 * archive into it would write that folder. */
static int binds_host_path(json_t *options)
{
    const char *type = json_string_value(json_object_get(options, "type"));
    const char *o = json_string_value(json_object_get(options, "o"));
    int bind_option = 0;
    for (const char *p = o; p && *p;) {
        size_t n = strcspn(p, ",");
        bind_option |= (n == 4 && strncmp(p, "bind", 4) == 0) || (n == 5 && strncmp(p, "rbind", 5) == 0);
        p += n + (p[n] == ',');
    }
    return (type && strcmp(type, "none") == 0) || bind_option || json_object_get(options, "device") != NULL;
}

/* The labels a new volume gets: Compose's own only when the volume keeps the
 * name Compose gave it (else Compose would adopt a copy as its own). */
static json_t *labels_for(const zb_volume_restore *v, json_t *recorded)
{
    int same_name = strcmp(v->name, v->target) == 0 && !v->opts.scratch;
    json_t *labels = json_object();
    const char *key;
    json_t *value;
    json_object_foreach (recorded, key, value) {
        if (same_name || strncmp(key, COMPOSE_LABEL_PREFIX, strlen(COMPOSE_LABEL_PREFIX)) != 0)
            json_object_set(labels, key, value);
    }
    return labels;
}

/* The archive's driver and options (only when asked for, never for a scratch
 * volume, and a host bind only with its own permission). */
static int driver_for(const zb_volume_restore *v, json_t *meta, const char **driver, json_t **options)
{
    json_t *recorded = json_object_get(meta, "options");
    const char *recorded_driver = json_string_value(json_object_get(meta, "driver"));
    *driver = "local";
    *options = NULL;
    int has_options = json_object_size(recorded) > 0 || (recorded_driver && strcmp(recorded_driver, "local") != 0);
    if (!has_options)
        return 0;
    if (v->opts.scratch || !v->opts.options_from_archive) {
        if (!v->opts.scratch)
            zb_log_info(
                "volume %s: created as a plain local volume; the archive's driver and options are not applied "
                "without --volume-options-from-archive",
                v->target);
        return 0;
    }
    if (binds_host_path(recorded)) {
        const char *device = json_string_value(json_object_get(recorded, "device"));
        if (!v->opts.allow_host_bind) {
            zb_error_set(ZB_EUNSAFE, "volume %s: the archive's options bind the host path %s; nothing was restored",
                         v->target, device ? device : "(unnamed)");
            return zb_error_hint(
                "check that host path, then add --allow-host-bind, or restore without "
                "--volume-options-from-archive into a plain volume");
        }
        zb_log_warn("volume %s is created bound to the host path %s, as the archive records (--allow-host-bind)",
                    v->target, device ? device : "(unnamed)");
    }
    *driver = recorded_driver ? recorded_driver : "local";
    *options = recorded;
    return 0;
}

static int create_volume(zb_volume_restore *v, json_t *meta)
{
    const char *driver;
    json_t *options;
    int rc = driver_for(v, meta, &driver, &options);
    if (rc < 0)
        return rc;
    json_t *body = json_pack("{s:s, s:s, s:o, s:O?}", "Name", v->target, "Driver", driver, "Labels",
                             labels_for(v, json_object_get(meta, "labels")), "DriverOpts", options);
    json_t *created = NULL;
    rc = body ? zb_docker_json(v->d, "POST", "/volumes/create", body, &created, NULL)
              : zb_error_set(ZB_ENOMEM, "out of memory");
    json_decref(body);
    if (rc == 0) {
        v->created = 1;
        zb_log_detail("created volume %s", v->target);
        /* Docker's answer is the volume's inspection: no second request */
        const char *reachable = zb_volume_reachable_folder(created);
        if (reachable && !(v->folder = zb_strdup(reachable)))
            rc = zb_error_set(ZB_ENOMEM, "out of memory");
        v->folder_known = 1;
    }
    json_decref(created);
    return rc;
}

/* volume.json: the volume written into is made (the target, or with --force
 * a stage beside it) and the writing starts: directly into its folder when
 * reachable (every attribute kept), else through the helper. */
static int start_volume(zb_volume_restore *v, zb_archive_reader *r)
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
    int rc;
    if (v->replace) {
        rc = zb_swap_begin(&v->swap, v->d, v->target, v->opts.api, v->opts.agent);
        v->written = v->swap ? zb_swap_stage(v->swap) : NULL;
    } else {
        rc = create_volume(v, meta);
        v->written = v->target;
    }
    json_decref(meta);
    if (rc == 0 && !v->folder_known)
        rc = zb_volume_folder(v->d, v->written, &v->folder);
    zb_volume_mode mode =
        rc == 0 ? zb_volume_choose_mode(v->written, v->folder != NULL, v->opts.api, v->opts.agent) : ZB_VOLUME_API;
    if (mode == ZB_VOLUME_ERROR)
        rc = zb_error_code();
    if (rc == 0 && mode == ZB_VOLUME_DIRECT) {
        zb_log_detail("writing volume %s directly into %s", v->written, v->folder);
        rc = zb_path_restore_begin(&v->direct, v->name, v->folder, 0);
    } else if (rc == 0) {
        rc = upload_start(&v->upload, v->d, v->written, mode == ZB_VOLUME_AGENT);
    }
    return rc;
}

/* "data/x" -> "x", "data" -> "." */
static const char *inside_volume(const char *relative)
{
    return relative[strlen(DATA_DIR)] ? relative + strlen(DATA_DIR) + 1 : ".";
}

/* A name on disk, not in memory: the list is read only when the count of the
 * written folder falls short. */
static int note_name(zb_volume_restore *v, const char *relative)
{
    if (!v->names && !(v->names = tmpfile()))
        return zb_error_errno(ZB_EIO, errno, "cannot make a temporary file");
    if (fwrite(relative, strlen(relative) + 1, 1, v->names) != 1)
        return zb_error_errno(ZB_EIO, errno, "cannot write a temporary file");
    return 0;
}

int zb_volume_restore_entry(zb_volume_restore *v, zb_archive_reader *r, struct archive_entry *entry,
                            const zb_entry_info *info)
{
    zb_progress_rename("reading, loading volumes"); /* the bar counts archive bytes: the reader adds them */
    if (strcmp(info->relative, META_NAME) == 0)
        return v->written ? zb_error_set(ZB_EFORMAT, "volume %s has two volume.json entries", v->name)
                          : start_volume(v, r);
    if (strcmp(info->relative, ".") == 0)
        return 0;
    if (strncmp(info->relative, DATA_DIR, strlen(DATA_DIR)) != 0 ||
        (info->relative[strlen(DATA_DIR)] != '/' && info->relative[strlen(DATA_DIR)] != '\0'))
        return zb_error_set(ZB_EFORMAT, "unexpected entry %s in volume %s", info->relative, v->name);
    /* a hard link may only name content: anything else would link to a
     * file outside what this restore writes */
    if (info->hardlink_relative && strncmp(info->hardlink_relative, DATA_DIR "/", strlen(DATA_DIR) + 1) != 0)
        return zb_error_set(ZB_EUNSAFE, "volume %s: refusing %s: its hard-link target %s is not in the volume's data",
                            v->name, inside_volume(info->relative), info->hardlink_relative);
    if (!v->direct && !v->upload)
        return zb_error_set(ZB_EFORMAT, "volume %s: content before volume.json", v->name);
    v->entries++;
    zb_entry_info inside = *info;
    inside.relative = inside_volume(info->relative);
    if (v->folder && note_name(v, inside.relative) < 0)
        return zb_error_code();
    inside.hardlink_relative = info->hardlink_relative ? inside_volume(info->hardlink_relative) : NULL;
    if (v->fine && !inside.hardlink_relative && zb_tree_fine_add(v->fine, inside.relative, entry) < 0)
        return zb_error_code();
    if (v->direct)
        return zb_path_restore_entry(v->direct, r, entry, &inside);
    return upload_entry(v->upload, r, entry, inside.relative, inside.hardlink_relative);
}

/* No entry is dropped silently: the written volume's folder, counted apart,
 * holds exactly the entries the archive gave, or the error names those it
 * lacks. */
static int cross_check(const zb_volume_restore *v)
{
    if (!v->folder && v->upload && v->upload->agent_entries) {
        /* counted by the agent, in a walk of its own after the stream; a
         * volume bound to a host folder may hold more than it was given */
        uint64_t counted = v->upload->agent_entries;
        const zb_buf *absent = &v->upload->agent_absent;
        if (counted < v->entries)
            return zb_error_set(
                ZB_EIO, "volume %s: the archive holds %llu entries but the volume agent counts %llu written%s%s",
                v->target, (unsigned long long)v->entries, (unsigned long long)counted, absent->len ? "; missing:" : "",
                absent->len ? absent->data : "");
        if (counted > v->entries)
            zb_log_info("volume %s holds %llu entries besides the archive's %llu: content its folder had before",
                        v->target, (unsigned long long)(counted - v->entries), (unsigned long long)v->entries);
        return 0;
    }
    if (!v->folder) {
        zb_log_detail("volume %s: its folder is not reachable from here, so its entries cannot be counted apart",
                      v->target);
        return 0;
    }
    ZB_FAULT_POINT("volume-restore-written", v->folder);
    zb_walk_count counted;
    int rc = zb_walk_count_tree(&counted, v->folder);
    if (rc < 0 || counted.entries + counted.sockets == v->entries)
        return rc;
    zb_buf missing = ZB_BUF_INIT;
    uint64_t missing_count = 0;
    if (v->names && fflush(v->names) == 0)
        zb_walk_list_absent(&missing, &missing_count, v->folder, v->names, 10);
    zb_error_set(ZB_EIO, "volume %s: the archive holds %llu entries but %llu were written%s%s", v->target,
                 (unsigned long long)v->entries, (unsigned long long)(counted.entries + counted.sockets),
                 missing.len ? "; missing:" : "", missing.len ? missing.data : "");
    zb_buf_free(&missing);
    return zb_error_code();
}

int zb_volume_restore_finish(zb_volume_restore *v, zb_archive_reader *r)
{
    if (!v->written)
        return zb_error_set(ZB_EFORMAT, "volume %s has no volume.json", v->name);
    int rc = v->direct ? zb_path_restore_finish(v->direct, r) : upload_finish(v->upload);
    if (rc == 0)
        rc = cross_check(v);
    if (rc == 0 && v->replace) {
        /* the manifest, the archive's last entry, is known only now */
        json_t *source = zb_archive_reader_manifest_source(r, ZB_SOURCE_VOLUME, v->name);
        rc = zb_swap_finish(v->swap, (uint64_t)json_integer_value(json_object_get(source, "bytes")));
    }
    if (rc == 0)
        v->finished = 1;
    return rc < 0 ? zb_error_context("restore of volume %s", v->name) : 0;
}

const char *zb_volume_restore_target(const zb_volume_restore *v) { return v->target; }

void zb_volume_restore_free(zb_volume_restore *v)
{
    if (!v)
        return;
    zb_path_restore_free(v->direct);
    upload_free(v->upload);
    zb_swap_free(v->swap);
    if (v->created && !v->finished) {
        zb_error_saved failure;
        zb_error_save(&failure);
        if (zb_volume_remove(v->d, v->target) == 0)
            zb_log_detail("the partly restored volume %s was removed", v->target);
        else
            zb_log_warn("the partly restored volume %s could not be removed: %s", v->target, zb_error_message());
        zb_error_raise(&failure);
    }
    zb_tree_fine_free(v->fine);
    if (v->names)
        fclose(v->names);
    free(v->folder);
    free(v->name);
    free(v->target);
    free(v);
}

const zb_tree_fine *zb_volume_restore_fine(const zb_volume_restore *v) { return v ? v->fine : NULL; }
