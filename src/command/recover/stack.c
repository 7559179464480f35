#include "zakpos_backup/command/recover_parts.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fault.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/source/docker/helper.h"
#include "zakpos_backup/source/docker/quiesce.h"
#include "zakpos_backup/source/docker/volume.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COMPOSE_PROJECT_LABEL "com.docker.compose.project"

/* Whether name is one of the space-separated words of list. */
static int in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *at = list ? list : ""; *at;) {
        at += strspn(at, " \t,");
        size_t len = strcspn(at, " \t,");
        if (len == n && strncmp(at, name, n) == 0)
            return 1;
        at += len;
    }
    return 0;
}

static int mounts_volume(json_t *container, const char *list, const char *one)
{
    size_t i;
    json_t *m;
    json_array_foreach (json_object_get(container, "Mounts"), i, m) {
        const char *name = json_string_value(json_object_get(m, "Name"));
        if (name && ((list && in_list(list, name)) || (one && strcmp(name, one) == 0)))
            return 1;
    }
    return 0;
}

static const char *project_of(json_t *container)
{
    return json_string_value(json_object_get(json_object_get(container, "Labels"), COMPOSE_PROJECT_LABEL));
}

int zb_recover_stack_find(json_t **out, zb_docker *d, const zb_config *c)
{
    json_t *all = NULL;
    *out = NULL;
    int rc = zb_docker_json(d, "GET", "/containers/json?all=1", NULL, &all, NULL);
    if (rc < 0)
        return zb_error_context("cannot list the containers");
    /* the projects: the configured one, and those of the volumes' users */
    zb_buf projects = ZB_BUF_INIT;
    size_t i;
    json_t *x;
    zb_buf_puts(&projects, c->recover_compose_project ? c->recover_compose_project : "");
    json_array_foreach (all, i, x)
        if (mounts_volume(x, c->volumes, NULL) && project_of(x))
            zb_buf_printf(&projects, " %s", project_of(x));
    json_t *stack = json_array();
    json_array_foreach (all, i, x) {
        const char *state = json_string_value(json_object_get(x, "State"));
        const char *name = json_string_value(json_array_get(json_object_get(x, "Names"), 0));
        if (!state || strcmp(state, "running") != 0 || json_object_get(json_object_get(x, "Labels"), ZB_HELPER_LABEL))
            continue;
        if (mounts_volume(x, NULL, ZB_DEFAULT_PG_VOLUME))
            continue; /* the database server: the recovery writes through it */
        if (!mounts_volume(x, c->volumes, NULL) && !(project_of(x) && in_list(projects.data, project_of(x))))
            continue;
        json_array_append_new(stack, json_pack("{s:s, s:s}", "id", json_string_value(json_object_get(x, "Id")), "name",
                                               name && name[0] == '/' ? name + 1
                                               : name                 ? name
                                                                      : "?"));
    }
    zb_buf_free(&projects);
    json_decref(all);
    *out = stack;
    return stack ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
}

int zb_recover_stack_stop(zb_recover_journal *j, zb_docker *d, json_t *containers)
{
    json_t *held = json_object_get(j->doc, "containers");
    size_t i;
    json_t *c;
    int rc = 0;
    json_array_foreach (containers, i, c) {
        if (rc < 0)
            break;
        /* recorded first: a recovery killed after the stop starts it again */
        if ((rc = json_array_append(held, c) == 0 ? zb_recover_journal_save(j)
                                                  : zb_error_set(ZB_ENOMEM, "out of memory")) < 0)
            break;
        if ((rc = zb_container_call(d, json_string_value(json_object_get(c, "id")), "/stop?t=30")) == 0)
            zb_log_info("stopped container %s for the recovery", json_string_value(json_object_get(c, "name")));
        ZB_FAULT_POINT("recover-stopped", json_string_value(json_object_get(c, "name")));
    }
    return rc;
}

/* Running, and healthy when it has a health check: 1; still starting: 0;
 * stopped or unhealthy: <0. */
static int container_ready(zb_docker *d, const char *id, const char **health)
{
    zb_buf path = ZB_BUF_INIT;
    json_t *info = NULL;
    int rc = zb_docker_api_path(&path, "/containers/", id, "/json");
    if (rc == 0)
        rc = zb_docker_json(d, "GET", path.data, NULL, &info, NULL);
    zb_buf_free(&path);
    if (rc < 0)
        return rc;
    json_t *state = json_object_get(info, "State");
    const char *status = json_string_value(json_object_get(json_object_get(state, "Health"), "Status"));
    *health = !status                            ? "none"
              : strcmp(status, "healthy") == 0   ? "healthy"
              : strcmp(status, "unhealthy") == 0 ? "unhealthy"
                                                 : "starting";
    if (!json_is_true(json_object_get(state, "Running")))
        rc = zb_error_set(ZB_EDOCKER, "it stopped again (exit code %lld)",
                          (long long)json_integer_value(json_object_get(state, "ExitCode")));
    else if (strcmp(*health, "unhealthy") == 0)
        rc = zb_error_set(ZB_EDOCKER, "its health check fails");
    else
        rc = strcmp(*health, "starting") == 0 ? 0 : 1;
    json_decref(info);
    return rc;
}

static int wait_ready(zb_docker *d, const char *id, const char *name, int timeout, json_t *entry)
{
    double started = zb_time_monotonic();
    const char *health = "none";
    int rc;
    while ((rc = container_ready(d, id, &health)) == 0) {
        if (zb_time_monotonic() - started > timeout) {
            rc = zb_error_set(ZB_EDOCKER, "its health check did not pass within %d s", timeout);
            break;
        }
        if ((rc = zb_check_interrupt()) < 0)
            break;
        usleep(250 * 1000);
    }
    json_object_set_new(entry, "health", json_string(health));
    json_object_set_new(entry, "seconds", json_real(zb_time_monotonic() - started));
    if (rc < 0)
        return zb_error_context("container %s", name);
    zb_log_info("container %s runs again%s", name, strcmp(health, "healthy") == 0 ? " and is healthy" : "");
    return 0;
}

int zb_recover_stack_start(zb_recover_journal *j, zb_docker *d, int timeout, json_t *report)
{
    json_t *held = json_object_get(j->doc, "containers");
    int rc = 0;
    /* all started first (they may depend on each other), then waited for */
    for (size_t i = 0; rc == 0 && i < json_array_size(held); i++)
        rc = zb_container_call(d, json_string_value(json_object_get(json_array_get(held, i), "id")), "/start");
    ZB_FAULT_POINT("recover-started", NULL);
    for (size_t i = 0; rc == 0 && i < json_array_size(held); i++) {
        json_t *c = json_array_get(held, i);
        json_t *entry = json_pack("{s:s}", "name", json_string_value(json_object_get(c, "name")));
        rc = wait_ready(d, json_string_value(json_object_get(c, "id")), json_string_value(json_object_get(c, "name")),
                        timeout, entry);
        json_array_append_new(report, entry);
    }
    if (rc == 0) {
        json_array_clear(held);
        rc = zb_recover_journal_save(j);
    }
    return rc;
}
