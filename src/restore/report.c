#include "zakpos_backup/common/error.h"
#include "zakpos_backup/restore/rehearse.h"

/* The rehearsal's JSON report: the one place it becomes JSON, for the
 * files and the output that leave the process (drill's report, verify
 * --restore --json, the repository index). docs/FORMAT.md describes it;
 * members keep the order they always had. */

const char *zb_part_result_name(zb_part_result result)
{
    static const char *const names[] = {"pass", "fail", "incomplete", "error", "not verified", "not restored"};
    return (size_t)result < sizeof(names) / sizeof(names[0]) ? names[result] : "error";
}

static json_t *strings(char *const *items, size_t count)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < count; i++)
        json_array_append_new(a, json_string(items[i]));
    return a;
}

/* What the read-back found, in the order the members were always written. */
static void add_check(json_t *part, const zb_rehearsal_part *p)
{
    const zb_source_check *c = &p->check;
    if (p->has_bytes)
        json_object_set_new(part, "bytes", json_integer(p->bytes));
    if (c->has_amount)
        json_object_set_new(part, c->amount_is_rows ? "rows" : "entries", json_integer(c->amount));
    if (c->has_left_out) {
        json_object_set_new(part, "not_verified", strings(c->not_verified, c->not_verified_count));
        json_object_set_new(part, "owners_privileges_left_out", json_integer(c->settings_left_out));
    }
    json_object_set_new(part, "differences", strings(c->differences, c->kept));
    json_object_set_new(part, "difference_count", json_integer((json_int_t)c->count));
}

static json_t *part_json(const zb_rehearsal_part *p)
{
    json_t *part = json_pack("{s:s, s:s, s:s, s:f}", "kind", p->ops->kind, "name", p->name, "target", p->target,
                             "restore_seconds", p->restore_seconds);
    if (part && p->verified)
        add_check(part, p);
    if (part)
        json_object_set_new(part, "result", json_string(zb_part_result_name(p->result)));
    if (part && p->verified)
        json_object_set_new(part, "verify_seconds", json_real(p->verify_seconds));
    return part;
}

static void add_archive_facts(json_t *report, const zb_rehearsal *r)
{
    if (!r->read)
        return;
    if (r->has_created) {
        json_object_set_new(report, "archive_created", json_string(r->created));
        json_object_set_new(report, "archive_age_seconds", json_integer(r->age_seconds));
    }
    json_object_set_new(report, "bytes", json_integer(r->bytes));
}

json_t *zb_rehearsal_json(const zb_rehearsal *r, json_t *extra)
{
    static const char *const results[] = {"pass", "fail", "incomplete"};
    json_t *report = json_pack("{s:s, s:s, s:s, s:s, s:[], s:b}", "archive", r->archive, "id", r->id, "host", r->host,
                               "started", r->started, "parts", "kept", r->kept);
    if (!report)
        return NULL;
    json_t *parts = json_object_get(report, "parts");
    for (size_t i = 0; i < r->part_count; i++)
        json_array_append_new(parts, part_json(&r->parts[i])); /* a part without a target is left out */
    add_archive_facts(report, r);
    const char *key;
    json_t *value;
    json_object_foreach (extra, key, value)
        json_object_set(report, key, value);
    json_object_set_new(report, "result", json_string(results[r->result]));
    if (r->error)
        json_object_set_new(report, "error", json_string(r->error));
    json_object_set_new(report, "seconds",
                        json_pack("{s:f, s:f, s:f, s:f, s:f}", "fetch", r->fetch_seconds, "read", r->read_seconds,
                                  "restore", r->restore_seconds, "verify", r->verify_seconds, "total",
                                  r->total_seconds));
    return report;
}
