#include "zakpos_backup/source/docker/quiesce.h"
#include "zakpos_backup/source/docker/helper.h"
#include "zakpos_backup/source/docker/record.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/place.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* -------------------------------------------- container state and put-back */

/* State.Status and State.StartedAt of a container; *gone when Docker no
 * longer knows it. */
static int container_state(zb_docker *d, const char *id, char *status, size_t status_size, char *started,
                           size_t started_size, int *gone)
{
    zb_buf path = ZB_BUF_INIT;
    json_t *info = NULL;
    long http = 0;
    *gone = 0;
    int rc = zb_docker_api_path(&path, "/containers/", id, "/json");
    if (rc == 0)
        rc = zb_docker_json(d, "GET", path.data, NULL, &info, &http);
    zb_buf_free(&path);
    if (rc < 0 && http == 404) {
        *gone = 1;
        return 0;
    }
    json_t *state = json_object_get(info, "State");
    const char *s = json_string_value(json_object_get(state, "Status"));
    const char *t = json_string_value(json_object_get(state, "StartedAt"));
    snprintf(status, status_size, "%s", rc == 0 && s ? s : "");
    snprintf(started, started_size, "%s", rc == 0 && t ? t : "");
    json_decref(info);
    return rc;
}

/* One lifecycle call: POST /containers/{id}{verb}; 304 ("already so") is
 * success. */
static int container_call(zb_docker *d, const char *id, const char *verb)
{
    zb_buf path = ZB_BUF_INIT;
    long status = 0;
    int rc = zb_docker_api_path(&path, "/containers/", id, verb);
    if (rc == 0)
        rc = zb_docker_json(d, "POST", path.data, NULL, NULL, &status);
    if (rc < 0 && status == 304)
        rc = 0;
    zb_buf_free(&path);
    return rc;
}

typedef enum put_back_result {
    PUT_BACK_NOTHING,
    PUT_BACK_STARTED,
    PUT_BACK_UNPAUSED,
    PUT_BACK_CHANGED,
    PUT_BACK_GONE
} put_back_result;

/* Puts a held container back in the state it had before the first hold
 * (origin), but only while it is still as the hold left it: a container
 * started since (by a user, or by Docker's restart policy after dockerd
 * restarted) has another StartedAt and is left alone. Entries of older
 * records carry no StartedAt: their state must match their action. */
static int put_back(zb_docker *d, json_t *entry, put_back_result *result)
{
    const char *id = json_string_value(json_object_get(entry, "id"));
    const char *origin = json_string_value(json_object_get(entry, "origin"));
    const char *held_started = json_string_value(json_object_get(entry, "started_at"));
    const char *action = json_string_value(json_object_get(entry, "action"));
    char status[32], started[64];
    int gone = 0;
    *result = PUT_BACK_NOTHING;
    if (!id)
        return 0;
    int rc = container_state(d, id, status, sizeof(status), started, sizeof(started), &gone);
    if (rc < 0 || gone) {
        *result = gone ? PUT_BACK_GONE : PUT_BACK_NOTHING;
        return rc;
    }
    int stopped = strcmp(status, "exited") == 0 || strcmp(status, "created") == 0;
    int paused = strcmp(status, "paused") == 0;
    if (held_started ? strcmp(held_started, started) != 0
                     : !((stopped && action && strcmp(action, "stop") == 0) ||
                         (paused && action && strcmp(action, "pause") == 0))) {
        *result = PUT_BACK_CHANGED;
        return 0;
    }
    int origin_paused = origin && strcmp(origin, "paused") == 0;
    if (stopped) {
        rc = container_call(d, id, "/start");
        if (rc == 0 && origin_paused)
            rc = container_call(d, id, "/pause");
        *result = PUT_BACK_STARTED;
    } else if (paused && !origin_paused) {
        rc = container_call(d, id, "/unpause");
        *result = PUT_BACK_UNPAUSED;
    }
    return rc;
}

typedef struct recover_ctx {
    zb_docker *d;
} recover_ctx;

/* A killed run's holds: put back unless a live run holds the container
 * too (that run puts it back), or it changed since. */
static int recover_run(const char *run_id, json_t *entries, void *payload)
{
    recover_ctx *ctx = payload;
    json_t *live = NULL;
    int rc = zb_record_live_holds(&live);
    size_t i;
    json_t *c;
    (void)run_id;
    json_array_foreach (entries, i, c) {
        if (rc < 0)
            break;
        const char *id = json_string_value(json_object_get(c, "id"));
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *action = json_string_value(json_object_get(c, "action"));
        int was_paused = action && strcmp(action, "pause") == 0;
        if (!id || zb_record_find(live, id)) {
            zb_log_detail("container %s held by a killed run is held by a running run too: that run puts it back",
                          name ? name : "?");
            continue;
        }
        put_back_result result;
        if ((rc = put_back(ctx->d, c, &result)) < 0)
            break;
        if (result == PUT_BACK_STARTED || result == PUT_BACK_UNPAUSED)
            zb_log_warn("a previous run was killed while container %s was %s: %s again", name ? name : id,
                        was_paused ? "paused" : "stopped", result == PUT_BACK_UNPAUSED ? "unpaused" : "started");
        else if (result == PUT_BACK_GONE)
            zb_log_detail("container %s, held by a killed run, no longer exists", name ? name : id);
        else if (result == PUT_BACK_CHANGED)
            zb_log_detail("container %s, held by a killed run, was started or changed since: left as it is",
                          name ? name : id);
    }
    json_decref(live);
    return rc;
}

int zb_volume_has_record(void) { return zb_record_any(); }

int zb_volume_recover(zb_docker *given)
{
    if (!zb_record_any())
        return 0;
    recover_ctx ctx = {given};
    int rc = given ? 0 : zb_docker_open(&ctx.d, NULL);
    if (rc == 0)
        rc = zb_record_recover(recover_run, &ctx);
    if (rc < 0)
        zb_error_context("containers held by a killed run were not all put back (records in %s/" ZB_RECORD_DIR ")",
                         zb_place_state_dir());
    if (!given)
        zb_docker_close(ctx.d);
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
                o->frame_left =
                    (size_t)o->header[4] << 24 | (size_t)o->header[5] << 16 | (size_t)o->header[6] << 8 | o->header[7];
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
    json_t *body =
        json_pack("{s:[s,s,s], s:b, s:b}", "Cmd", "/bin/sh", "-c", command, "AttachStdout", 1, "AttachStderr", 1);
    json_t *start = json_pack("{s:b, s:b}", "Detach", 0, "Tty", 0);
    json_t *answer = NULL, *inspect = NULL;
    zb_buf path = ZB_BUF_INIT;
    exec_output out;
    memset(&out, 0, sizeof(out));
    int rc = body && start ? zb_docker_api_path(&path, "/containers/", id, "/exec")
                           : zb_error_set(ZB_ENOMEM, "out of memory");
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
        rc = zb_error_set(ZB_EDOCKER, "the %s-backup hook of container %s (%s) exited with status %lld", when, name,
                          command, exit_code);
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
    /* all=1: a container another run stopped is listed too, so this run
     * joins that hold instead of letting it end under its read */
    return zb_docker_list_filtered(d, "/containers/json?all=1&filters=", "volume", volume, out);
}

static const char *first_name(json_t *c)
{
    const char *n = json_string_value(json_array_get(json_object_get(c, "Names"), 0));
    return n ? (*n == '/' ? n + 1 : n) : json_string_value(json_object_get(c, "Id"));
}

static int drop_hold(zb_quiesce *h, zb_held_container *hc)
{
    size_t k;
    json_t *c;
    json_array_foreach (h->record, k, c)
        if (c == hc->hold) {
            json_array_remove(h->record, k);
            break;
        }
    hc->hold = NULL;
    return zb_record_save(h->record);
}

/* Holds one container under the state-wide lock: joins another live run's
 * hold (keeping the state it found), leaves a container the user paused as
 * it is (a pause is what a hold would do; a stop still stops it), and
 * writes the hold to the record before touching the container. */
static int hold_one(zb_quiesce *h, zb_docker *d, zb_held_container *hc, const char *volume)
{
    int lock = -1;
    json_t *live = NULL;
    char status[32], started[64];
    int gone = 0;
    int rc = zb_record_lock(&lock);
    if (rc == 0)
        rc = zb_record_live_holds(&live);
    if (rc == 0)
        rc = container_state(d, hc->id, status, sizeof(status), started, sizeof(started), &gone);
    json_t *other = zb_record_find(live, hc->id);
    int stop = strcmp(hc->action, "stop") == 0;
    const char *origin = other ? json_string_value(json_object_get(other, "origin")) : status;
    const char *held_started = other ? json_string_value(json_object_get(other, "started_at")) : started;
    int act = strcmp(status, "running") == 0 || (stop && hc->must_stop && strcmp(status, "paused") == 0);
    if (rc < 0 || gone || !origin || !held_started)
        goto done;
    /* A container the user paused is frozen already: a backup leaves it
     * so; only a replacement of its volume stops it (and pauses it again). */
    if (!other && strcmp(status, "running") != 0 && (strcmp(status, "paused") != 0 || !hc->must_stop)) {
        if (strcmp(status, "paused") == 0)
            zb_log_info("container %s is already paused: left paused while volume %s is read", hc->name, volume);
        goto done;
    }
    hc->hold = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", hc->id, "name", hc->name, "action", hc->action, "origin",
                         origin, "started_at", held_started);
    if (!hc->hold || json_array_append_new(h->record, hc->hold) < 0) {
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = zb_record_save(h->record)) < 0 || !act) {
        if (rc == 0)
            zb_log_info("container %s is already held by another run (pid %lld): kept so while volume %s is read",
                        hc->name, json_integer_value(json_object_get(other, "pid")), volume);
        goto done;
    }
    rc = container_call(d, hc->id, stop ? "/stop?t=30" : "/pause");
    if (rc == 0)
        zb_log_info("%s container %s while volume %s is read", stop ? "stopped" : "paused", hc->name, volume);
done:
    json_decref(live);
    zb_record_unlock(lock);
    return rc;
}

/* Puts one held container back, unless another live run still holds it. */
static int release_one(zb_quiesce *h, zb_docker *d, zb_held_container *hc)
{
    int lock = -1;
    json_t *live = NULL, *entry = json_incref(hc->hold);
    int rc = zb_record_lock(&lock);
    if (rc == 0)
        rc = zb_record_live_holds(&live);
    json_t *other = rc == 0 ? zb_record_find(live, hc->id) : NULL;
    put_back_result result = PUT_BACK_NOTHING;
    if (rc == 0 && other)
        zb_log_info("container %s stays %s: another run (pid %lld) still holds it", hc->name,
                    strcmp(json_string_value(json_object_get(other, "action")), "pause") == 0 ? "paused" : "stopped",
                    json_integer_value(json_object_get(other, "pid")));
    else if (rc == 0)
        rc = put_back(d, entry, &result);
    if (rc == 0)
        rc = drop_hold(h, hc);
    if (result == PUT_BACK_STARTED || result == PUT_BACK_UNPAUSED)
        zb_log_info("%s container %s", result == PUT_BACK_STARTED ? "started" : "unpaused", hc->name);
    else if (result == PUT_BACK_CHANGED)
        zb_log_warn("container %s was started or changed by someone else while held: left as it is", hc->name);
    json_decref(entry);
    json_decref(live);
    zb_record_unlock(lock);
    return rc;
}

/* Post-hooks, newest first, where the pre-hook succeeded (or there was
 * none) and the container runs. */
static int run_post_hooks(zb_quiesce *h, zb_docker *d)
{
    int rc = 0;
    zb_error_saved first;
    for (size_t i = h->count; i-- > 0;) {
        zb_held_container *hc = &h->items[i];
        if (!hc->exec_post || !hc->pre_ok || hc->hold)
            continue;
        char status[32], started[64];
        int gone = 0;
        int one = container_state(d, hc->id, status, sizeof(status), started, sizeof(started), &gone);
        if (one == 0 && (gone || strcmp(status, "running") != 0)) {
            zb_log_info("post hook of container %s not run: it is %s", hc->name, gone ? "gone" : status);
            continue;
        }
        if (one == 0)
            one = run_hook(d, hc->id, hc->name, hc->exec_post, "post");
        if (one < 0 && rc == 0) {
            rc = one;
            zb_error_save(&first);
        }
    }
    return rc < 0 ? zb_error_raise(&first) : 0;
}

/* Every exec-pre runs first, so a failing one leaves nothing stopped or
 * paused (and the post-hooks of those that succeeded undo them); then the
 * containers are stopped or paused as their labels (or the options) say. */
int zb_quiesce_hold(zb_quiesce *h, zb_docker *d, const char *volume, const zb_volume_backup_options *opts,
                    int force_stop)
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
        zb_held_container *hc = &h->items[h->count];
        memset(hc, 0, sizeof(*hc));
        hc->id = (char *)json_string_value(json_object_get(c, "Id"));
        hc->name = (char *)name;
        hc->state = json_string_value(json_object_get(c, "State"));
        hc->exec_pre = json_string_value(json_object_get(labels, ZB_LABEL_EXEC_PRE));
        hc->exec_post = json_string_value(json_object_get(labels, ZB_LABEL_EXEC_POST));
        hc->pre_ok = 1;
        if (json_object_get(labels, ZB_HELPER_LABEL) || !hc->id || !hc->state)
            continue;
        hc->must_stop = force_stop;
        if (force_stop || (label && strcmp(label, "true") == 0) ||
            listed_name(opts ? opts->stop_containers : NULL, name))
            hc->action = "stop";
        else if ((label && strcmp(label, "pause") == 0) || listed_name(opts ? opts->pause_containers : NULL, name))
            hc->action = "pause";
        if (strcmp(hc->state, "running") != 0) /* hooks run in running containers only */
            hc->exec_pre = hc->exec_post = NULL;
        if (hc->action || hc->exec_pre || hc->exec_post)
            h->count++;
    }
    for (size_t i = 0; rc == 0 && i < h->count; i++) {
        zb_held_container *hc = &h->items[i];
        if (hc->exec_pre && (rc = run_hook(d, hc->id, hc->name, hc->exec_pre, "pre")) < 0)
            hc->pre_ok = 0;
        for (size_t k = i + 1; rc < 0 && k < h->count; k++)
            h->items[k].pre_ok = 0; /* never ran */
    }
    if (rc < 0) {
        zb_error_saved failed;
        zb_error_save(&failed);
        for (size_t i = 0; h->items && i < h->count; i++)
            if (!h->items[i].exec_pre)
                h->items[i].exec_post = NULL; /* nothing was done to undo */
        run_post_hooks(h, d);
        for (size_t i = 0; i < h->count; i++)
            h->items[i].exec_post = NULL; /* done */
        return zb_error_raise(&failed);
    }
    for (size_t i = 0; rc == 0 && i < h->count; i++)
        if (h->items[i].action)
            rc = hold_one(h, d, &h->items[i], volume);
    return rc;
}

/* Every held container is put back (also after a failure); post-hooks run;
 * h is emptied. */
int zb_quiesce_release(zb_quiesce *h, zb_docker *d)
{
    int rc = 0;
    zb_error_saved first;
    for (size_t i = h->count; i-- > 0;) {
        zb_held_container *hc = &h->items[i];
        int one = hc->hold ? release_one(h, d, hc) : 0;
        if (one < 0 && rc == 0) {
            rc = one;
            zb_error_save(&first);
        }
    }
    int posts = run_post_hooks(h, d);
    if (rc == 0 && posts < 0) {
        rc = posts;
        zb_error_save(&first);
    }
    if (rc < 0)
        zb_error_raise(&first);
    free(h->items);
    json_decref(h->record);
    json_decref(h->containers);
    memset(h, 0, sizeof(*h));
    return rc;
}

int zb_container_call(zb_docker *d, const char *id, const char *verb) { return container_call(d, id, verb); }
