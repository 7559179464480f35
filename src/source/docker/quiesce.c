#include "zakpos_backup/source/docker/quiesce.h"
#include "zakpos_backup/source/docker/helper.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RECORD_NAME "stopped-containers.json"

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
    int rc = zb_docker_api_path(&path, "/containers/", id, strcmp(action, "pause") == 0 ? "/unpause" : "/start");
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
    int rc = body && start ? zb_docker_api_path(&path, "/containers/", id, "/exec") : zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0)
        rc = zb_docker_json(d, "POST", path.data, body, &answer, NULL);
    const char *exec_id = json_string_value(json_object_get(answer, "Id"));
    if (rc == 0 && !exec_id)
        rc = zb_error_set(ZB_EDOCKER, "Docker returned no exec id");
    if (rc == 0 && (rc = zb_docker_api_path(&path, "/exec/", exec_id, "/start")) == 0)
        rc = zb_docker_stream(d, "POST", path.data, start, collect_exec, &out, NULL);
    log_hook_output(name, when, &out.text);
    if (rc == 0 && (rc = zb_docker_api_path(&path, "/exec/", exec_id, "/json")) == 0)
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
    return zb_docker_list_filtered(d, "/containers/json?filters=", "volume", volume, out);
}

static const char *first_name(json_t *c)
{
    const char *n = json_string_value(json_array_get(json_object_get(c, "Names"), 0));
    return n ? (*n == '/' ? n + 1 : n) : json_string_value(json_object_get(c, "Id"));
}

/* Stops, pauses or runs pre-hooks on the running containers that use the
 * volume, as their labels (or the options) say; each one is in the record
 * before it is touched, so a killed run leaves a way back. */
int zb_quiesce_hold(zb_quiesce *h, zb_docker *d, const char *volume, const zb_volume_backup_options *opts, int force_stop)
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
        zb_held_container *hc = &h->items[h->count];
        hc->id = (char *)json_string_value(json_object_get(c, "Id"));
        hc->name = (char *)name;
        hc->exec_post = json_string_value(json_object_get(labels, ZB_LABEL_EXEC_POST));
        if (json_object_get(labels, ZB_HELPER_LABEL))
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
        rc = zb_docker_api_path(&path, "/containers/", hc->id, strcmp(hc->action, "stop") == 0 ? "/stop?t=30" : "/pause");
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
int zb_quiesce_release(zb_quiesce *h, zb_docker *d)
{
    int rc = 0;
    zb_error_saved first;
    for (size_t i = h->count; i-- > 0;) {
        zb_held_container *hc = &h->items[i];
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

