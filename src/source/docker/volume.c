#include "zakpos_backup/source/docker/volume.h"
#include "zakpos_backup/archive/manifest.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/progress.h"
#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/restore/links.h"
#include "zakpos_backup/source/path/path.h"
#include "zakpos_backup/source/path/prefetch.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HELPER_REPO "zakpos-backup-helper"
#define HELPER_LABEL "zakpos-backup.helper"
#define MOUNT_NAME "volume"
#define MOUNT_POINT "/" MOUNT_NAME
#define RECORD_NAME "stopped-containers.json"
#define PIPE_BYTES (1 << 20)
#define DATA_DIR "data"
#define META_NAME "volume.json"

/* ---------------------------------------------------------------- helpers */

/* before + value (percent-encoded) + after, into b. */
static int api_path(zb_buf *b, const char *before, const char *value, const char *after)
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
typedef struct tar_upload {
    const zb_buf *tar;
    size_t at;
} tar_upload;

static ssize_t image_tar_source(void *buf, size_t len, void *payload)
{
    tar_upload *u = payload;
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
static int build_image_tar(zb_buf *out, const char *name, const void *data, size_t len)
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
        ok = archive_write_header(a, e) == ARCHIVE_OK && (!data || archive_write_data(a, data, len) == (la_ssize_t)len) &&
             archive_write_close(a) == ARCHIVE_OK;
    }
    archive_entry_free(e);
    archive_write_free(a);
    return ok ? 0 : zb_error_set(ZB_EFAIL, "cannot build an image for the helper containers");
}

static int ensure_helper_image(zb_docker *d, char *image, size_t size)
{
    snprintf(image, size, "%s:%s", HELPER_REPO, ZB_VERSION);
    zb_buf path = ZB_BUF_INIT, tar = ZB_BUF_INIT;
    long status = 0;
    int rc = api_path(&path, "/images/", image, "/json");
    if (rc == 0 && zb_docker_json(d, "GET", path.data, NULL, NULL, &status) == 0) {
        zb_buf_free(&path);
        return 0;
    }
    if (status != 404) {
        zb_buf_free(&path);
        return zb_error_code();
    }
    zb_log_detail("importing the helper image %s (once)", image);
    zb_buf_reset(&path);
    rc = zb_buf_printf(&path, "/images/create?fromSrc=-&repo=%s&tag=%s", HELPER_REPO, ZB_VERSION);
    if (rc == 0)
        rc = build_image_tar(&tar, "volume/", NULL, 0);
    if (rc == 0)
        rc = zb_docker_send_stream(d, "POST", path.data, "application/x-tar", image_tar_source, &(tar_upload){&tar, 0},
                                   NULL, NULL);
    zb_buf_free(&path);
    zb_buf_free(&tar);
    return rc < 0 ? zb_error_context("cannot import the helper image") : 0;
}

static void remove_helper(zb_docker *d, const char *id);

/* Helpers left by a run that was killed outright (their label holds the pid
 * of the run that made them, which is gone) are removed. */
static void sweep_helpers(zb_docker *d)
{
    json_t *list = NULL;
    if (zb_docker_json(d, "GET", "/containers/json?all=1&filters=%7B%22label%22%3A%5B%22" HELPER_LABEL "%22%5D%7D", NULL, &list,
                       NULL) < 0)
        return;
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c) {
        const char *owner = json_string_value(json_object_get(json_object_get(c, "Labels"), HELPER_LABEL));
        long pid = owner ? strtol(owner, NULL, 10) : 0;
        if (pid > 0 && pid != (long)getpid() && kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
            zb_log_detail("removing helper container %.12s left by a run that was killed", json_string_value(json_object_get(c, "Id")));
            remove_helper(d, json_string_value(json_object_get(c, "Id")));
        }
    }
    json_decref(list);
}

/* A helper container that is never started: the volume mounted at /volume. */
static int create_helper(zb_docker *d, const char *volume, int read_only, char **id)
{
    char image[128], pid[24];
    int rc = ensure_helper_image(d, image, sizeof(image));
    if (rc < 0)
        return rc;
    sweep_helpers(d);
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    json_t *body = json_pack("{s:s, s:[s], s:b, s:{s:s}, s:{s:[{s:s, s:s, s:s, s:b}]}}", "Image", image, "Cmd",
                             "/nonexistent", "NetworkDisabled", 1, "Labels", HELPER_LABEL, pid, "HostConfig", "Mounts",
                             "Type", "volume", "Source", volume, "Target", MOUNT_POINT, "ReadOnly", read_only);
    json_t *answer = NULL;
    rc = body ? zb_docker_json(d, "POST", "/containers/create", body, &answer, NULL) : zb_error_set(ZB_ENOMEM, "out of memory");
    const char *cid = json_string_value(json_object_get(answer, "Id"));
    if (rc == 0 && !cid)
        rc = zb_error_set(ZB_EDOCKER, "Docker created a container without an id");
    if (rc == 0 && !(*id = zb_strdup(cid)))
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
    json_decref(body);
    json_decref(answer);
    return rc;
}

static void remove_helper(zb_docker *d, const char *id)
{
    if (!id)
        return;
    zb_buf path = ZB_BUF_INIT;
    if (api_path(&path, "/containers/", id, "?force=1") == 0 && zb_docker_json(d, "DELETE", path.data, NULL, NULL, NULL) < 0)
        zb_log_warn("cannot remove helper container %.12s: %s", id, zb_error_message());
    zb_buf_free(&path);
}

static int inspect_volume(zb_docker *d, const char *name, json_t **out)
{
    zb_buf path = ZB_BUF_INIT;
    long status = 0;
    int rc = api_path(&path, "/volumes/", name, "");
    if (rc == 0)
        rc = zb_docker_json(d, "GET", path.data, NULL, out, &status);
    zb_buf_free(&path);
    if (rc < 0 && status == 404) {
        zb_error_set(ZB_ENOTFOUND, "Docker volume '%s' does not exist", name);
        return zb_error_hint("list the volumes with GET /volumes (docker volume ls)");
    }
    return rc;
}

/* ------------------------------------------------------------- selection */

static int add_name(char ***names, size_t *count, const char *name)
{
    for (size_t i = 0; i < *count; i++)
        if (strcmp((*names)[i], name) == 0)
            return 0;
    char **grown = realloc(*names, (*count + 1) * sizeof(char *));
    if (!grown)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    *names = grown;
    if (!(grown[*count] = zb_strdup(name)))
        return zb_error_set(ZB_ENOMEM, "out of memory");
    (*count)++;
    return 0;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* GET a listing filtered on one key (Docker's filters={"key":["value"]}). */
static int list_filtered(zb_docker *d, const char *listing, const char *key, const char *value, json_t **out)
{
    json_t *filter = json_pack("{s:[s]}", key, value);
    char *text = filter ? json_dumps(filter, JSON_COMPACT) : NULL;
    zb_buf path = ZB_BUF_INIT;
    int rc = text ? api_path(&path, listing, text, "") : zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0)
        rc = zb_docker_json(d, "GET", path.data, NULL, out, NULL);
    json_decref(filter);
    free(text);
    zb_buf_free(&path);
    return rc;
}

static int volumes_with_label(char ***names, size_t *count, zb_docker *d, const char *label, int pg_named)
{
    json_t *answer = NULL;
    int rc = list_filtered(d, "/volumes?filters=", "label", label, &answer);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(answer, "Volumes"), i, v) {
        const char *name = json_string_value(json_object_get(v, "Name"));
        if (rc < 0 || !name)
            continue;
        if (strcmp(name, ZB_DEFAULT_PG_VOLUME) == 0 && !pg_named) {
            zb_log_info("leaving out volume %s (PostgreSQL's data files): the database snapshot (--pg) covers it; "
                        "name it with --volume to copy its files too", name);
            continue;
        }
        rc = add_name(names, count, name);
    }
    json_decref(answer);
    return rc;
}

int zb_volume_select(char ***names, size_t *count, zb_docker *d, const char *const *names_given,
                     const char *const *labels, const char *const *projects)
{
    *names = NULL;
    *count = 0;
    int rc = 0, pg_named = 0;
    for (const char *const *n = names_given; rc == 0 && n && *n; n++) {
        json_t *info = NULL;
        pg_named |= strcmp(*n, ZB_DEFAULT_PG_VOLUME) == 0;
        if ((rc = inspect_volume(d, *n, &info)) == 0)
            rc = add_name(names, count, *n);
        json_decref(info);
    }
    for (const char *const *l = labels; rc == 0 && l && *l; l++)
        rc = volumes_with_label(names, count, d, *l, pg_named);
    for (const char *const *p = projects; rc == 0 && p && *p; p++) {
        zb_buf label = ZB_BUF_INIT;
        rc = zb_buf_printf(&label, "com.docker.compose.project=%s", *p);
        if (rc == 0)
            rc = volumes_with_label(names, count, d, label.data, pg_named);
        zb_buf_free(&label);
    }
    if (rc < 0) {
        zb_volume_names_free(*names, *count);
        *names = NULL;
        *count = 0;
        return rc;
    }
    qsort(*names, *count, sizeof(char *), by_name);
    return 0;
}

void zb_volume_names_free(char **names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

/* ------------------------------------------- the record of stopped services */

static int record_path(char *out, size_t size)
{
    const char *dir = getenv(ZB_ENV_STATE_DIR);
    if (!dir || !*dir)
        dir = ZB_DEFAULT_STATE_DIR;
    if (snprintf(out, size, "%s/%s", dir, RECORD_NAME) >= (int)size)
        return zb_error_set(ZB_EUSAGE, "state folder path too long: %s", dir);
    return zb_fs_mkdir_p(dir, 0700);
}

static int record_save(json_t *held)
{
    char path[PATH_MAX];
    int rc = record_path(path, sizeof(path));
    if (rc < 0)
        return rc;
    if (json_array_size(held) == 0) {
        if (unlink(path) < 0 && errno != ENOENT)
            return zb_error_errno(ZB_EIO, errno, "cannot remove %s", path);
        return 0;
    }
    json_t *doc = json_pack("{s:i, s:O}", "pid", (int)getpid(), "containers", held);
    char *text = doc ? json_dumps(doc, JSON_INDENT(1)) : NULL;
    rc = text ? zb_fs_write_file_atomic(path, text, strlen(text), 0600) : zb_error_set(ZB_ENOMEM, "out of memory");
    free(text);
    json_decref(doc);
    return rc;
}

int zb_volume_has_record(void)
{
    char path[PATH_MAX];
    const char *dir = getenv(ZB_ENV_STATE_DIR);
    snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : ZB_DEFAULT_STATE_DIR, RECORD_NAME);
    return access(path, F_OK) == 0;
}

/* Starts (or unpauses) one container the tool held; 304 means it already runs. */
static int release_container(zb_docker *d, const char *id, const char *action)
{
    zb_buf path = ZB_BUF_INIT;
    long status = 0;
    int rc = api_path(&path, "/containers/", id, strcmp(action, "pause") == 0 ? "/unpause" : "/start");
    if (rc == 0)
        rc = zb_docker_json(d, "POST", path.data, NULL, NULL, &status);
    if (rc < 0 && (status == 304 || (status == 409 && strcmp(action, "pause") == 0)))
        rc = 0; /* already running */
    zb_buf_free(&path);
    return rc;
}

int zb_volume_recover(zb_docker *given)
{
    char path[PATH_MAX];
    if (!zb_volume_has_record() || record_path(path, sizeof(path)) < 0)
        return 0;
    json_t *doc = json_load_file(path, 0, NULL);
    int pid = (int)json_integer_value(json_object_get(doc, "pid"));
    if (pid > 0 && pid != getpid() && kill(pid, 0) == 0) {
        json_decref(doc); /* the run that holds them is alive: it restarts them */
        return 0;
    }
    zb_docker *d = given;
    int rc = d ? 0 : zb_docker_open(&d, NULL);
    size_t i;
    json_t *c, *left = json_array();
    json_array_foreach(json_object_get(doc, "containers"), i, c) {
        const char *id = json_string_value(json_object_get(c, "id"));
        const char *action = json_string_value(json_object_get(c, "action"));
        const char *name = json_string_value(json_object_get(c, "name"));
        if (rc == 0 && id && action && release_container(d, id, action) == 0) {
            zb_log_warn("a previous run was killed while container %s was %s: %s again", name ? name : id,
                        strcmp(action, "pause") == 0 ? "paused" : "stopped", strcmp(action, "pause") == 0 ? "unpaused" : "started");
            continue;
        }
        json_array_append(left, c);
    }
    if (rc == 0)
        rc = record_save(left);
    if (json_array_size(left) > 0)
        zb_log_error("containers stopped by a killed run could not be started again; see %s", path);
    json_decref(left);
    json_decref(doc);
    if (!given)
        zb_docker_close(d);
    return rc;
}

/* ----------------------------------------------- consistency for services */

typedef struct held_container {
    char *id;
    char *name;
    const char *action; /* "stop" or "pause"; NULL for a hook-only container */
    const char *exec_post;
} held_container;

typedef struct hold {
    held_container *items;
    size_t count;
    json_t *record;
    json_t *containers; /* the GET /containers/json answer, owns the strings above */
} hold;

static int listed_name(const char *const *list, const char *name)
{
    for (; list && *list && name; list++)
        if (strcmp(*list, name) == 0)
            return 1;
    return 0;
}

/* stdout and stderr of an exec, demultiplexed (8-byte frame headers). */
typedef struct exec_output {
    unsigned char header[8];
    size_t header_len;
    size_t frame_left;
    zb_buf text;
} exec_output;

static int collect_exec(const void *data, size_t len, void *payload)
{
    exec_output *o = payload;
    const unsigned char *p = data;
    while (len > 0) {
        if (o->frame_left == 0) {
            size_t n = 8 - o->header_len < len ? 8 - o->header_len : len;
            memcpy(o->header + o->header_len, p, n);
            o->header_len += n, p += n, len -= n;
            if (o->header_len == 8) {
                o->frame_left = (size_t)o->header[4] << 24 | (size_t)o->header[5] << 16 | (size_t)o->header[6] << 8 | o->header[7];
                o->header_len = 0;
            }
            continue;
        }
        size_t n = o->frame_left < len ? o->frame_left : len;
        if (o->text.len < 65536)
            zb_buf_append(&o->text, p, n);
        o->frame_left -= n, p += n, len -= n;
    }
    return 0;
}

static void log_hook_output(const char *name, const char *when, zb_buf *text)
{
    char *line = text->data;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (*line)
            zb_log_detail("%s hook of %s: %s", when, name, line);
        line = nl ? nl + 1 : NULL;
    }
}

/* Runs a hook inside a container (exec API): its output goes to the log,
 * its exit code decides. The label holds a command line, run by /bin/sh -c
 * inside the service's own container. */
static int run_hook(zb_docker *d, const char *id, const char *name, const char *command, const char *when)
{
    json_t *body = json_pack("{s:[s,s,s], s:b, s:b}", "Cmd", "/bin/sh", "-c", command, "AttachStdout", 1, "AttachStderr", 1);
    json_t *start = json_pack("{s:b, s:b}", "Detach", 0, "Tty", 0);
    json_t *answer = NULL, *inspect = NULL;
    zb_buf path = ZB_BUF_INIT;
    exec_output out;
    memset(&out, 0, sizeof(out));
    int rc = body && start ? api_path(&path, "/containers/", id, "/exec") : zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0)
        rc = zb_docker_json(d, "POST", path.data, body, &answer, NULL);
    const char *exec_id = json_string_value(json_object_get(answer, "Id"));
    if (rc == 0 && !exec_id)
        rc = zb_error_set(ZB_EDOCKER, "Docker returned no exec id");
    if (rc == 0 && (rc = api_path(&path, "/exec/", exec_id, "/start")) == 0)
        rc = zb_docker_stream(d, "POST", path.data, start, collect_exec, &out, NULL);
    log_hook_output(name, when, &out.text);
    if (rc == 0 && (rc = api_path(&path, "/exec/", exec_id, "/json")) == 0)
        rc = zb_docker_json(d, "GET", path.data, NULL, &inspect, NULL);
    long long exit_code = json_integer_value(json_object_get(inspect, "ExitCode"));
    if (rc == 0 && exit_code != 0)
        rc = zb_error_set(ZB_EDOCKER, "the %s-backup hook of container %s (%s) exited with status %lld", when, name, command,
                          exit_code);
    else if (rc == 0)
        zb_log_detail("%s hook of container %s done: %s", when, name, command);
    zb_buf_free(&out.text);
    zb_buf_free(&path);
    json_decref(body);
    json_decref(start);
    json_decref(answer);
    json_decref(inspect);
    return rc;
}

static int containers_using(zb_docker *d, const char *volume, json_t **out)
{
    return list_filtered(d, "/containers/json?filters=", "volume", volume, out);
}

static const char *first_name(json_t *c)
{
    const char *n = json_string_value(json_array_get(json_object_get(c, "Names"), 0));
    return n ? (*n == '/' ? n + 1 : n) : json_string_value(json_object_get(c, "Id"));
}

/* Stops, pauses or runs pre-hooks on the running containers that use the
 * volume, as their labels (or the options) say; each one is in the record
 * before it is touched, so a killed run leaves a way back. */
static int hold_services(hold *h, zb_docker *d, const char *volume, const zb_volume_backup_options *opts, int force_stop)
{
    memset(h, 0, sizeof(*h));
    h->record = json_array();
    int rc = containers_using(d, volume, &h->containers);
    size_t n = json_array_size(h->containers);
    h->items = rc == 0 ? calloc(n + 1, sizeof(*h->items)) : NULL;
    if (rc == 0 && !h->items)
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        json_t *c = json_array_get(h->containers, i);
        json_t *labels = json_object_get(c, "Labels");
        const char *name = first_name(c);
        const char *label = json_string_value(json_object_get(labels, ZB_LABEL_STOP));
        const char *pre = json_string_value(json_object_get(labels, ZB_LABEL_EXEC_PRE));
        held_container *hc = &h->items[h->count];
        hc->id = (char *)json_string_value(json_object_get(c, "Id"));
        hc->name = (char *)name;
        hc->exec_post = json_string_value(json_object_get(labels, ZB_LABEL_EXEC_POST));
        if (json_object_get(labels, HELPER_LABEL))
            continue;
        if (force_stop || (label && strcmp(label, "true") == 0) || listed_name(opts ? opts->stop_containers : NULL, name))
            hc->action = "stop";
        else if ((label && strcmp(label, "pause") == 0) || listed_name(opts ? opts->pause_containers : NULL, name))
            hc->action = "pause";
        if (!hc->action && !pre && !hc->exec_post)
            continue;
        h->count++;
        if (pre && (rc = run_hook(d, hc->id, name, pre, "pre")) < 0)
            break;
        if (!hc->action)
            continue;
        json_array_append_new(h->record, json_pack("{s:s, s:s, s:s}", "id", hc->id, "name", name, "action", hc->action));
        if ((rc = record_save(h->record)) < 0)
            break;
        zb_buf path = ZB_BUF_INIT;
        rc = api_path(&path, "/containers/", hc->id, strcmp(hc->action, "stop") == 0 ? "/stop?t=30" : "/pause");
        long status = 0;
        if (rc == 0)
            rc = zb_docker_json(d, "POST", path.data, NULL, NULL, &status);
        if (rc < 0 && status == 304)
            rc = 0;
        zb_buf_free(&path);
        if (rc == 0)
            zb_log_info("%s container %s while volume %s is read", strcmp(hc->action, "stop") == 0 ? "stopped" : "paused", name, volume);
    }
    return rc;
}

/* Every held container runs again (also after a failure); post-hooks run. */
static int release_services(hold *h, zb_docker *d)
{
    int rc = 0;
    zb_error_saved first;
    for (size_t i = h->count; i-- > 0;) {
        held_container *hc = &h->items[i];
        int one = 0;
        if (hc->action && (one = release_container(d, hc->id, hc->action)) == 0)
            zb_log_info("%s container %s", strcmp(hc->action, "stop") == 0 ? "started" : "unpaused", hc->name);
        if (one == 0 && hc->action) {
            size_t k;
            json_t *c;
            json_array_foreach(h->record, k, c) if (strcmp(json_string_value(json_object_get(c, "id")), hc->id) == 0) {
                json_array_remove(h->record, k);
                break;
            }
        }
        if (one == 0 && hc->exec_post)
            one = run_hook(d, hc->id, hc->name, hc->exec_post, "post");
        if (one < 0 && rc == 0) {
            rc = one;
            zb_error_save(&first);
        }
    }
    int saved = record_save(h->record);
    if (rc == 0)
        rc = saved;
    else
        zb_error_raise(&first);
    free(h->items);
    json_decref(h->record);
    json_decref(h->containers);
    memset(h, 0, sizeof(*h));
    return rc;
}

/* ------------------------------------------------------------- backup */

/* Docker's tar stream reaches libarchive through a pipe: a thread runs the
 * request and writes the body into it, the reader pulls from the other end. */
typedef struct archive_fetch {
    zb_docker *d;
    char *path;
    int fd;
    pthread_t thread;
    int failed;
    zb_error_saved error;
} archive_fetch;

static int write_to_pipe(const void *data, size_t len, void *payload)
{
    archive_fetch *f = payload;
    return zb_fs_write_all(f->fd, data, len, "the stream pipe");
}

static void *fetch_main(void *arg)
{
    archive_fetch *f = arg;
    if (zb_docker_get_stream(f->d, f->path, write_to_pipe, f, NULL) < 0) {
        f->failed = 1;
        zb_error_save(&f->error);
    }
    close(f->fd);
    return NULL;
}

static int strip_dot(const char *name, const char **relative)
{
    if (strcmp(name, "./") == 0 || strcmp(name, ".") == 0) {
        *relative = ".";
        return 0;
    }
    if (strncmp(name, "./", 2) != 0)
        return zb_error_set(ZB_EUNSAFE, "Docker sent an entry outside the volume: %s", name);
    *relative = name + 2;
    return 0;
}

/* One entry of Docker's stream with its names inside the volume ("." the
 * root); a regular file's data is read from `in`. */
typedef int (*entry_visit_fn)(struct archive *in, struct archive_entry *e, const char *relative,
                              const char *link_relative, void *payload);

static int visit_entry(struct archive *in, struct archive_entry *e, char *last_name, size_t last_size,
                       entry_visit_fn visit, void *payload)
{
    const char *relative = NULL, *link_relative = NULL;
    char *name = zb_strdup(archive_entry_pathname(e));
    if (!name)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    size_t n = strlen(name);
    if (n > 1 && name[n - 1] == '/')
        name[n - 1] = '\0';
    int rc = strip_dot(name, &relative);
    snprintf(last_name, last_size, "%s", relative ? relative : name);
    if (rc == 0 && archive_entry_hardlink(e))
        rc = strip_dot(archive_entry_hardlink(e), &link_relative);
    if (rc == 0)
        rc = visit(in, e, relative, link_relative, payload);
    free(name);
    return rc;
}

/* Copies one entry from Docker's stream into the archive. */
static int copy_entry(struct archive *in, struct archive_entry *e, const char *relative, const char *link_relative,
                      void *payload)
{
    zb_archive_writer *w = payload;
    zb_buf stored = ZB_BUF_INIT, stored_link = ZB_BUF_INIT;
    /* content lives under data/, beside volume.json */
    int rc = strcmp(relative, ".") == 0 ? zb_buf_puts(&stored, DATA_DIR) : zb_buf_printf(&stored, DATA_DIR "/%s", relative);
    if (rc == 0 && link_relative)
        rc = zb_buf_printf(&stored_link, DATA_DIR "/%s", link_relative);
    if (rc == 0) {
        archive_entry_set_pathname(e, stored.data);
        if (link_relative)
            archive_entry_set_hardlink(e, stored_link.data);
        rc = zb_archive_writer_begin_entry(w, e);
    }
    zb_buf_free(&stored);
    zb_buf_free(&stored_link);
    const void *buf;
    size_t len;
    la_int64_t offset, pos = 0;
    int ar = ARCHIVE_EOF;
    while (rc == 0 && archive_entry_filetype(e) == AE_IFREG && !link_relative &&
           ((ar = archive_read_data_block(in, &buf, &len, &offset)) == ARCHIVE_OK || ar == ARCHIVE_WARN)) {
        if (offset > pos)
            rc = zb_archive_writer_write_zeros(w, (uint64_t)(offset - pos));
        if (rc == 0 && len)
            rc = zb_archive_writer_write(w, buf, len);
        pos = offset + (la_int64_t)len;
        if (rc == 0)
            rc = zb_check_interrupt();
    }
    if (rc == 0 && ar != ARCHIVE_EOF)
        rc = zb_error_set(ZB_EDOCKER, "the stream broke inside %s: %s", relative, archive_error_string(in));
    if (rc == 0 && pos < archive_entry_size(e) && archive_entry_filetype(e) == AE_IFREG && !link_relative)
        rc = zb_archive_writer_write_zeros(w, (uint64_t)(archive_entry_size(e) - pos));
    if (rc == 0)
        rc = zb_archive_writer_end_entry(w);
    return rc;
}

/* One read of the volume (through the helper container), entry by entry.
 * *stream_broke tells a retryable failure (Docker's stream ended early or
 * was malformed) from one of the visitor's (the archive writer, an
 * interrupt). When the volume's folder is on this host (local_folder), a
 * read-ahead thread walks it in Docker's order a window ahead of the
 * stream, so Docker, which reads one file after another, finds them in
 * the page cache. */
static int read_volume_once(zb_docker *d, const char *helper, const char *local_folder, entry_visit_fn visit,
                            void *payload, int *stream_broke, char *last_name, size_t last_size)
{
    int fds[2];
    *stream_broke = 0;
    if (pipe2(fds, O_CLOEXEC) < 0)
        return zb_error_errno(ZB_EIO, errno, "cannot make a pipe");
    fcntl(fds[1], F_SETPIPE_SZ, PIPE_BYTES);
    archive_fetch f = {d, NULL, fds[1], 0, 0, {0, "", ""}};
    zb_buf path = ZB_BUF_INIT;
    int rc = api_path(&path, "/containers/", helper, "/archive?path=" MOUNT_POINT "/.");
    f.path = path.data;
    if (rc == 0 && pthread_create(&f.thread, NULL, fetch_main, &f) != 0)
        rc = zb_error_set(ZB_EFAIL, "cannot start the stream thread");
    if (rc < 0) {
        close(fds[0]);
        close(fds[1]);
        zb_buf_free(&path);
        return rc;
    }
    zb_prefetch *prefetch = NULL;
    if (local_folder)
        zb_prefetch_start(&prefetch, local_folder, ZB_PREFETCH_WINDOW, 1);
    struct archive *in = archive_read_new();
    archive_read_support_format_tar(in);
    int ar = archive_read_open_fd(in, fds[0], PIPE_BYTES);
    struct archive_entry *e;
    int ours = 0;
    /* a warning is a name libarchive cannot convert to this locale: the raw
     * bytes are kept, as the path source keeps them */
    while (rc == 0 && ar == ARCHIVE_OK && ((ar = archive_read_next_header(in, &e)) == ARCHIVE_OK || ar == ARCHIVE_WARN)) {
        ar = ARCHIVE_OK;
        if ((rc = visit_entry(in, e, last_name, last_size, visit, payload)) < 0)
            ours = zb_error_code() != ZB_EDOCKER;
        else if (archive_entry_filetype(e) == AE_IFREG)
            zb_prefetch_advance(prefetch, (uint64_t)archive_entry_size(e));
    }
    zb_prefetch_stop(prefetch);
    if (rc == 0 && ar != ARCHIVE_EOF)
        rc = zb_error_set(ZB_EDOCKER, "Docker's tar stream is broken after %s: %s", last_name, archive_error_string(in));
    archive_read_free(in);
    close(fds[0]); /* a thread still writing gets EPIPE and stops */
    pthread_join(f.thread, NULL);
    if (f.failed && !ours) {
        zb_error_raise(&f.error);
        rc = ZB_EDOCKER;
    }
    *stream_broke = rc < 0 && !ours && rc != ZB_EINTR;
    zb_buf_free(&path);
    return rc;
}

static json_t *volume_meta(json_t *info);

/* Direct mode: a local volume whose folder this process can read (the tool
 * runs on the Docker host, as root or in a container that mounts it). */
static int can_read_directly(json_t *info)
{
    const char *driver = json_string_value(json_object_get(info, "Driver"));
    const char *mountpoint = json_string_value(json_object_get(info, "Mountpoint"));
    struct stat st;
    return driver && strcmp(driver, "local") == 0 && mountpoint && stat(mountpoint, &st) == 0 && S_ISDIR(st.st_mode) &&
           access(mountpoint, R_OK | X_OK) == 0;
}

/* volume.json comes first, so a restore can create the volume as it was
 * before the content arrives. */
static int write_meta(zb_archive_writer *w, json_t *info)
{
    json_t *meta = volume_meta(info);
    json_object_set(meta, "name", json_object_get(info, "Name"));
    char *text = meta ? json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    int rc = text ? zb_archive_writer_add_file(w, META_NAME, text, strlen(text), 0600) : zb_error_set(ZB_ENOMEM, "out of memory");
    free(text);
    json_decref(meta);
    return rc;
}

static json_t *volume_meta(json_t *info)
{
    return json_pack("{s:O?, s:O?, s:O?, s:O?}", "driver", json_object_get(info, "Driver"), "labels",
                     json_object_get(info, "Labels"), "options", json_object_get(info, "Options"), "scope",
                     json_object_get(info, "Scope"));
}

/* A stream that breaks off (a file changed while Docker read it) cannot be
 * taken back out of an archive already being written, so the caller is told
 * (*retry) and writes the whole archive again, a bounded number of times. */
int zb_volume_backup(zb_archive_writer *w, zb_docker *d, const char *name, const zb_volume_backup_options *opts,
                     int *retry)
{
    *retry = 0;
    json_t *info = NULL;
    char *helper = NULL;
    char last_name[1024] = "(start of the volume)";
    hold h;
    memset(&h, 0, sizeof(h));
    int rc = inspect_volume(d, name, &info);
    int direct = rc == 0 && opts && opts->direct && can_read_directly(info);
    if (rc == 0 && opts && opts->direct && !direct)
        zb_log_info("volume %s: its mount point cannot be read from here; reading it through the Docker API", name);
    if (rc == 0 && !direct)
        rc = create_helper(d, name, 1, &helper);
    int held = 0;
    if (rc == 0)
        rc = hold_services(&h, d, name, opts, 0), held = 1;
    if (rc == 0)
    {
        json_t *meta = volume_meta(info);
        json_object_set_new(meta, "read", json_string(direct ? "direct" : "api"));
        rc = zb_archive_writer_begin_source(w, ZB_SOURCE_VOLUME, name, meta);
    }
    if (rc == 0)
        rc = write_meta(w, info);
    int broke = 0;
    const char *mountpoint = json_string_value(json_object_get(info, "Mountpoint"));
    if (rc == 0 && direct) {
        zb_log_detail("reading volume %s directly from %s", name, mountpoint);
        rc = zb_path_add_tree(w, mountpoint, DATA_DIR);
    } else if (rc == 0) {
        rc = read_volume_once(d, helper, can_read_directly(info) ? mountpoint : NULL, copy_entry, w, &broke, last_name,
                              sizeof(last_name));
    }
    if (rc == 0)
        rc = zb_archive_writer_end_source(w, NULL);
    if (held) {
        int released = release_services(&h, d);
        if (rc == 0)
            rc = released;
    }
    *retry = rc < 0 && broke;
    if (rc < 0 && broke) {
        zb_error_context("volume %s could not be read consistently (last file: %s)", name, last_name);
        zb_error_hint("files change while they are read; stop or pause the service during the backup with the label "
                      ZB_LABEL_STOP "=true (or =pause), or flush it with " ZB_LABEL_EXEC_PRE);
    } else if (rc < 0) {
        zb_error_context("backup of volume %s", name);
    }
    remove_helper(d, helper);
    free(helper);
    json_decref(info);
    return rc;
}

int zb_volume_walk(zb_docker *d, const char *name, zb_volume_visit_fn visit, void *payload)
{
    json_t *info = NULL;
    char *helper = NULL;
    char last_name[1024] = "(start of the volume)";
    int broke = 0;
    int rc = inspect_volume(d, name, &info);
    if (rc == 0)
        rc = create_helper(d, name, 1, &helper);
    if (rc == 0)
        rc = read_volume_once(d, helper, can_read_directly(info) ? json_string_value(json_object_get(info, "Mountpoint")) : NULL,
                              visit, payload, &broke, last_name, sizeof(last_name));
    if (rc < 0)
        zb_error_context("reading volume %s back", name);
    remove_helper(d, helper);
    free(helper);
    json_decref(info);
    return rc;
}

int zb_volume_remove(zb_docker *d, const char *name)
{
    zb_buf path = ZB_BUF_INIT;
    int rc = api_path(&path, "/volumes/", name, "");
    if (rc == 0)
        rc = zb_docker_json(d, "DELETE", path.data, NULL, NULL, NULL);
    zb_buf_free(&path);
    if (rc < 0)
        zb_error_context("cannot remove volume %s", name);
    return rc;
}

/* ------------------------------------------------------------- restore */

struct zb_volume_restore {
    zb_docker *d;
    char *name;   /* in the archive */
    char *target; /* the volume written */
    int force;
    int created;  /* the target was made by this restore: removed on failure */
    int finished;
    char *helper;
    hold held;    /* containers stopped while a forced restore replaces content */
    int holding;
    /* the upload: libarchive writes a tar into a pipe, a thread PUTs it */
    struct archive *out;
    int pipe_read, pipe_write; /* libarchive does not close the fd it writes to */
    pthread_t thread;
    int thread_started;
    int upload_failed;
    zb_error_saved upload_error;
    zb_buf put_path;
    zb_link_guard *links; /* the symbolic links restored so far: nothing is written through them */
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
        rc = build_image_tar(&tar, "busybox", data, size);
    if (rc == 0)
        rc = zb_buf_printf(&path, "/images/create?fromSrc=-&repo=%s-cleaner&tag=%s", HELPER_REPO, ZB_VERSION);
    if (rc == 0)
        rc = zb_docker_send_stream(v->d, "POST", path.data, "application/x-tar", image_tar_source, &(tar_upload){&tar, 0},
                                   NULL, NULL);
    char image[128];
    snprintf(image, sizeof(image), "%s-cleaner:%s", HELPER_REPO, ZB_VERSION);
    json_t *body = json_pack("{s:s, s:[s,s,s,s,s,s,s,s,s,s,s,s,s], s:b, s:{s:s}, s:{s:[{s:s, s:s, s:s}]}}", "Image", image,
                             "Cmd", "/busybox", "find", MOUNT_POINT, "-mindepth", "1", "-maxdepth", "1", "-exec", "/busybox",
                             "rm", "-rf", "{}", "+", "NetworkDisabled", 1, "Labels", HELPER_LABEL,
                             "true", "HostConfig", "Mounts", "Type", "volume", "Source", v->target, "Target", MOUNT_POINT);
    json_t *created = NULL, *waited = NULL;
    if (rc == 0)
        rc = zb_docker_json(v->d, "POST", "/containers/create", body, &created, NULL);
    const char *id = json_string_value(json_object_get(created, "Id"));
    if (rc == 0 && (rc = api_path(&path, "/containers/", id, "/start")) == 0)
        rc = zb_docker_json(v->d, "POST", path.data, NULL, NULL, NULL);
    if (rc == 0 && (rc = api_path(&path, "/containers/", id, "/wait")) == 0)
        rc = zb_docker_json(v->d, "POST", path.data, NULL, &waited, NULL);
    if (rc == 0 && json_integer_value(json_object_get(waited, "StatusCode")) != 0)
        rc = zb_error_set(ZB_EDOCKER, "emptying volume %s failed (status %lld)", v->target,
                          (long long)json_integer_value(json_object_get(waited, "StatusCode")));
    remove_helper(v->d, id);
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
    int rc = inspect_volume(d, v->target, &info);
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
    int exists = inspect_volume(v->d, v->target, &info) == 0;
    json_decref(info);
    int rc = 0;
    if (!exists) {
        rc = create_volume(v, meta);
    } else if ((rc = hold_services(&v->held, v->d, v->target, NULL, 1)) == 0) {
        v->holding = 1;
        rc = clear_volume(v);
    }
    json_decref(meta);
    if (rc == 0)
        rc = create_helper(v->d, v->target, 0, &v->helper);
    if (rc == 0)
        rc = api_path(&v->put_path, "/containers/", v->helper, "/archive?path=/");
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

/* The part of an archive name below data/ (the volume's content), "." for
 * data itself, or NULL for a name elsewhere. */
static const char *inside_data(const char *relative)
{
    size_t n = strlen(DATA_DIR);
    if (strncmp(relative, DATA_DIR, n) != 0 || (relative[n] != '/' && relative[n] != '\0'))
        return NULL;
    return relative[n] ? relative + n + 1 : ".";
}

/* Names and links are checked against the links this restore made, never
 * by counting "..": a link's target is data, restored as it is. */
static int check_entry(zb_volume_restore *v, const char *inside, const zb_entry_info *info, struct archive_entry *entry,
                       const char **link_inside)
{
    *link_inside = NULL;
    if (info->hardlink_relative) {
        *link_inside = inside_data(info->hardlink_relative);
        if (!*link_inside || strcmp(*link_inside, ".") == 0)
            return zb_error_set(ZB_EUNSAFE, "volume %s: refusing %s: its hard-link target %s is not in the volume's data",
                                v->name, inside, info->hardlink_relative);
    }
    if (!v->links && zb_link_guard_new(&v->links) < 0)
        return ZB_ENOMEM;
    char what[300];
    snprintf(what, sizeof(what), "volume %s", v->name);
    return zb_link_guard_entry(v->links, inside, *link_inside, entry, what);
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
    const char *inside = inside_data(info->relative), *link_inside = NULL;
    if (!inside)
        return zb_error_set(ZB_EFORMAT, "unexpected entry %s in volume %s", info->relative, v->name);
    if (!v->out)
        return zb_error_set(ZB_EFORMAT, "volume %s: content before volume.json", v->name);
    int rc = check_entry(v, inside, info, entry, &link_inside);
    if (rc < 0)
        return rc;
    struct archive_entry *e = archive_entry_clone(entry);
    zb_buf name = ZB_BUF_INIT, link = ZB_BUF_INIT;
    /* Names go below the mount point, uploaded from the container's root:
     * Docker skips a "." entry, so only this way does the volume's own
     * folder get its owner, mode and time back (Redis must own its folder). */
    rc = e ? zb_buf_printf(&name, "%s%s%s", MOUNT_NAME, strcmp(inside, ".") == 0 ? "" : "/",
                           strcmp(inside, ".") == 0 ? "" : inside)
           : zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0 && link_inside)
        rc = zb_buf_printf(&link, "%s/%s", MOUNT_NAME, link_inside);
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
        if (rc == 0)
            zb_progress_add(len);
    }
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
    remove_helper(v->d, v->helper);
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
    remove_helper(v->d, v->helper);
    if (v->holding)
        release_services(&v->held, v->d);
    if (v->created && !v->finished) {
        zb_buf path = ZB_BUF_INIT;
        if (api_path(&path, "/volumes/", v->target, "") == 0 && zb_docker_json(v->d, "DELETE", path.data, NULL, NULL, NULL) == 0)
            zb_log_detail("the partly restored volume %s was removed", v->target);
        else
            zb_log_warn("the partly restored volume %s could not be removed: %s", v->target, zb_error_message());
        zb_buf_free(&path);
    }
    free(v->helper);
    free(v->name);
    free(v->target);
    zb_buf_free(&v->put_path);
    zb_link_guard_free(v->links);
    free(v);
}
