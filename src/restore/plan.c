#include "zakpos_backup/restore/plan.h"
#include "zakpos_backup/archive/writer.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fault.h"
#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/common/timeutil.h"

#include <stdlib.h>
#include <string.h>

/* One selected source and the kind that restores it: entries of this
 * source go to its restore_entry, restore_finish runs once the archive is
 * verified. */
typedef struct restore_target {
    const zb_source_ops *ops;
    char *name;
    char *target;
    int seen;
    int finished;
    double load_seconds, finish_seconds;
    void *state;
} restore_target;

struct zb_restore_plan {
    restore_target *targets;
    size_t count, capacity;
    zb_restore_plan_select_fn select;
    void *select_payload;
    zb_restore_plan_entry_fn on_entry;
    void *entry_payload;
    zb_restore_plan_verified_fn on_verified;
    void *verified_payload;
};

int zb_restore_plan_new(zb_restore_plan **out)
{
    *out = calloc(1, sizeof(**out));
    return *out ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
}

void zb_restore_plan_free(zb_restore_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->count; i++) {
        restore_target *t = &p->targets[i];
        if (t->state)
            t->ops->restore_free(t->state);
        free(t->name);
        free(t->target);
    }
    free(p->targets);
    free(p);
}

void zb_restore_plan_on_unselected(zb_restore_plan *p, zb_restore_plan_select_fn select, void *payload)
{
    p->select = select;
    p->select_payload = payload;
}

void zb_restore_plan_on_entry(zb_restore_plan *p, zb_restore_plan_entry_fn fn, void *payload)
{
    p->on_entry = fn;
    p->entry_payload = payload;
}

void zb_restore_plan_on_verified(zb_restore_plan *p, zb_restore_plan_verified_fn fn, void *payload)
{
    p->on_verified = fn;
    p->verified_payload = payload;
}

static restore_target *new_target(zb_restore_plan *p, const zb_source_ops *ops, const char *name, const char *target)
{
    for (size_t i = 0; name && i < p->count; i++)
        if (p->targets[i].ops == ops && p->targets[i].name && strcmp(p->targets[i].name, name) == 0) {
            zb_error_set(ZB_EUSAGE, "%s %s is selected twice", ops->kind, name);
            return NULL;
        }
    if (p->count == p->capacity) {
        size_t capacity = p->capacity ? p->capacity * 2 : 4;
        restore_target *grown = realloc(p->targets, capacity * sizeof(*grown));
        if (!grown) {
            zb_error_set(ZB_ENOMEM, "out of memory");
            return NULL;
        }
        p->targets = grown;
        p->capacity = capacity;
    }
    restore_target *t = &p->targets[p->count];
    memset(t, 0, sizeof(*t));
    t->ops = ops;
    t->name = name ? zb_strdup(name) : NULL;
    t->target = target ? zb_strdup(target) : NULL;
    if ((name && !t->name) || (target && !t->target)) {
        free(t->name);
        free(t->target);
        zb_error_set(ZB_ENOMEM, "out of memory");
        return NULL;
    }
    p->count++;
    return t;
}

int zb_restore_plan_add(zb_restore_plan *p, const zb_source_ops *ops, const char *name, const char *target,
                        const zb_source_restore_options *opts)
{
    restore_target *t = new_target(p, ops, name, target);
    if (!t)
        return zb_error_code();
    return ops->restore_begin(&t->state, name, target, opts);
}

int zb_restore_plan_add_path(zb_restore_plan *p, const char *name, const char *target, int force)
{
    return zb_restore_plan_add(p, &zb_source_path, name, target, &(zb_source_restore_options){.force = force});
}

int zb_restore_plan_add_volume(zb_restore_plan *p, zb_docker *d, const char *name, const char *target,
                               const zb_volume_restore_options *opts)
{
    return zb_restore_plan_add(p, &zb_source_volume, name, target ? target : name,
                               &(zb_source_restore_options){.docker = d, .volume = opts});
}

int zb_restore_plan_add_pg(zb_restore_plan *p, const char *name, const zb_pg_restore_options *opts)
{
    return zb_restore_plan_add(p, &zb_source_pg, name, NULL, &(zb_source_restore_options){.pg = opts});
}

/* The target of a source into *out; a target of a kind that allows it,
 * added without a name, takes the first source of its kind. *out NULL: not
 * selected. */
static int find_target(restore_target **out, zb_restore_plan *p, const char *kind, const char *name)
{
    *out = NULL;
    for (size_t i = 0; i < p->count; i++) {
        restore_target *t = &p->targets[i];
        if (strcmp(t->ops->kind, kind) != 0)
            continue;
        if (!t->name && t->ops->any_name && (t->name = zb_strdup(name)) == NULL)
            return zb_error_set(ZB_ENOMEM, "out of memory");
        if (!t->name)
            continue;
        if (strcmp(t->name, name) == 0) {
            *out = t;
            return 0;
        }
    }
    return 0;
}

/* Whether this entry starts another source than the previous one (the
 * reader owns the names it hands out, so the last ones are copied). */
static int starts_source(char **last_kind, char **last_name, const zb_entry_info *info)
{
    if (*last_kind && strcmp(*last_kind, info->source_kind) == 0 && strcmp(*last_name, info->source_name) == 0)
        return 0;
    free(*last_kind);
    free(*last_name);
    *last_kind = zb_strdup(info->source_kind);
    *last_name = zb_strdup(info->source_name);
    return *last_kind && *last_name ? 1 : zb_error_set(ZB_ENOMEM, "out of memory");
}

static int read_and_dispatch(zb_restore_plan *p, zb_archive_reader *r)
{
    struct archive_entry *e;
    zb_entry_info info;
    int rc;
    char *last_kind = NULL, *last_name = NULL;
    while ((rc = zb_archive_reader_next(r, &e, &info)) > 0) {
        if ((rc = zb_check_interrupt()) < 0)
            break;
        if (p->on_entry && (rc = p->on_entry(r, e, &info, p->entry_payload)) != 0) {
            if (rc < 0)
                break;
            continue;
        }
        restore_target *t = NULL;
        if ((rc = find_target(&t, p, info.source_kind, info.source_name)) < 0)
            break;
        if (!t && p->select) {
            if ((rc = starts_source(&last_kind, &last_name, &info)) < 0)
                break;
            if (rc == 1 && (rc = p->select(p, info.source_kind, info.source_name, p->select_payload)) < 0)
                break;
            if ((rc = find_target(&t, p, info.source_kind, info.source_name)) < 0)
                break;
        }
        if (!t)
            continue; /* not selected: read (and so verified) but not restored */
        t->seen = 1;
        double started = zb_time_monotonic();
        rc = t->ops->restore_entry(t->state, r, e, &info);
        t->load_seconds += zb_time_monotonic() - started;
        if (rc < 0)
            break;
    }
    free(last_kind);
    free(last_name);
    return rc;
}

/* A selected source the archive does not have: say which ones it has. */
static int report_missing(const restore_target *t, zb_archive_reader *r)
{
    zb_buf names = ZB_BUF_INIT;
    size_t i;
    json_t *s;
    json_array_foreach (json_object_get(zb_archive_reader_manifest(r), "sources"), i, s)
        zb_buf_printf(&names, "%s%s %s", names.len ? ", " : "", json_string_value(json_object_get(s, "kind")),
                      json_string_value(json_object_get(s, "name")));
    zb_error_set(ZB_ENOTFOUND, "the archive has no %s source named '%s'; nothing was restored", t->ops->kind,
                 t->name ? t->name : "(any)");
    zb_error_hint("the archive holds: %s", names.data ? names.data : "no sources");
    zb_buf_free(&names);
    return ZB_ENOTFOUND;
}

int zb_restore_plan_run(zb_restore_plan *p, zb_archive_reader *r)
{
    int rc = read_and_dispatch(p, r);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < p->count; i++) {
        const restore_target *t = &p->targets[i];
        if (!t->seen && (!t->name || !zb_archive_reader_manifest_source(r, t->ops->kind, t->name)))
            return report_missing(t, r);
    }
    if (p->on_verified && (rc = p->on_verified(p->verified_payload)) < 0)
        return rc;
    for (size_t i = 0; i < p->count; i++) {
        restore_target *t = &p->targets[i];
        /* a signal before a target is finished leaves it as it was */
        if ((rc = zb_check_interrupt()) < 0)
            return rc;
        ZB_FAULT_POINT("restore-finish", t->ops->kind);
        double started = zb_time_monotonic();
        if ((rc = t->ops->restore_finish(t->state, r)) < 0)
            return rc;
        t->finish_seconds = zb_time_monotonic() - started;
        t->finished = 1;
    }
    return 0;
}

size_t zb_restore_plan_count(const zb_restore_plan *p) { return p->count; }

zb_restore_target_info zb_restore_plan_target(const zb_restore_plan *p, size_t i)
{
    const restore_target *t = &p->targets[i];
    zb_restore_target_info info = {t->ops->kind,
                                   t->name ? t->name : "(database)",
                                   t->ops->restore_target(t->state),
                                   t->load_seconds,
                                   t->finish_seconds,
                                   t->finished,
                                   t->ops,
                                   t->state};
    return info;
}
