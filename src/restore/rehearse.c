#include "zakpos_backup/restore/rehearse.h"
#include "zakpos_backup/archive/reader.h"
#include "zakpos_backup/archive/writer.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/progress.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/repo/index.h"
#include "zakpos_backup/restore/plan.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Differences kept per part: enough to act on, bounded for a report. */
#define DIFFERENCE_LIMIT 500

typedef struct rehearsal {
    const zb_rehearse_options *opts;
    zb_rehearsal *out;
    zb_source_scratch scratch;
} rehearsal;

/* Every source of the archive gets a scratch target as its first entry
 * arrives, made by its kind. */
static int select_source(zb_restore_plan *plan, const char *kind, const char *name, void *payload)
{
    rehearsal *h = payload;
    const zb_source_ops *ops = zb_source_find(kind);
    if (!ops) /* the reader refuses unknown kinds first; this is a second guard */
        return zb_error_set(ZB_EFORMAT, "the archive holds a source of unknown kind '%s'", kind);
    char *target = NULL;
    zb_source_restore_options ro = {0};
    int rc = ops->scratch_target(&h->scratch, name, &target, &ro);
    if (rc == 0)
        rc = zb_restore_plan_add(plan, ops, name, target, &ro);
    if (rc == 0)
        zb_log_detail("restoring %s %s into scratch target %s", kind, name, target);
    free(target);
    return rc;
}

/* Reads one restored part back and compares it. Errors are failures to
 * compare, not differences. */
static int verify_part(rehearsal *h, const zb_restore_target_info *t, zb_archive_reader *r, zb_rehearsal_part *part)
{
    json_t *source = zb_archive_reader_manifest_source(r, t->kind, t->name);
    json_t *bytes = json_object_get(source, "bytes");
    part->meta = json_incref(json_object_get(source, "meta"));
    part->has_bytes = json_is_integer(bytes);
    part->bytes = (long long)json_integer_value(bytes);
    part->verified = 1;
    int rc = t->ops->verify(&h->scratch, t->state, r, t->name, t->target, DIFFERENCE_LIMIT, &part->check);
    part->result = rc < 0                           ? ZB_PART_ERROR
                   : part->check.count              ? ZB_PART_FAIL
                   : part->check.not_verified_count ? ZB_PART_INCOMPLETE
                                                    : ZB_PART_PASS;
    return rc;
}

static void remove_target(rehearsal *h, const zb_restore_target_info *t)
{
    if (t->ops->scratch_remove(&h->scratch, t->target) < 0)
        zb_log_warn("the scratch %s %s could not be removed: %s", t->kind, t->target, zb_error_message());
    else
        zb_log_detail("removed the scratch %s %s", t->kind, t->target);
}

/* NULL (error set) when memory ran out. */
static zb_rehearsal *new_rehearsal(const zb_rehearse_options *opts)
{
    zb_rehearsal *r = calloc(1, sizeof(*r));
    if (!r || !(r->archive = zb_strdup(opts->archive))) {
        free(r);
        zb_error_set(ZB_ENOMEM, "out of memory");
        return NULL;
    }
    snprintf(r->id, sizeof(r->id), "%08x", randombytes_random());
    zb_time_format_iso(r->started, sizeof(r->started), time(NULL));
    gethostname(r->host, sizeof(r->host) - 1);
    r->kept = opts->keep;
    return r;
}

/* Archive facts from the manifest: when it was made and its age now (the
 * recovery point a disaster at this moment would have). */
static void describe_archive(zb_rehearsal *out, zb_archive_reader *r)
{
    const char *created = json_string_value(json_object_get(zb_archive_reader_manifest(r), "created"));
    time_t at;
    if (created && zb_time_parse_utc(&at, created) == 0) {
        out->has_created = snprintf(out->created, sizeof(out->created), "%s", created) < (int)sizeof(out->created);
        out->age_seconds = (long long)(time(NULL) - at);
    }
    out->read = 1;
    out->bytes = (long long)zb_archive_reader_bytes_in(r);
}

static void finish(zb_rehearsal *out, int rc)
{
    /* objects the scratch role could not create: neither a pass nor a failure */
    int incomplete = 0;
    for (size_t i = 0; out->parts && i < out->part_count; i++)
        incomplete |= out->parts[i].result == ZB_PART_INCOMPLETE;
    out->result = rc < 0 ? ZB_REHEARSAL_FAIL : incomplete ? ZB_REHEARSAL_INCOMPLETE : ZB_REHEARSAL_PASS;
    if (rc < 0)
        out->error = zb_strdup(zb_error_message());
}

static int restore_all(rehearsal *h, zb_restore_plan *plan, zb_archive_reader **r)
{
    int rc = zb_archive_reader_open(r, h->opts->archive, &h->opts->keys);
    if (rc < 0)
        return rc;
    struct stat st;
    zb_progress_begin("restore", stat(h->opts->archive, &st) == 0 ? (uint64_t)st.st_size : 0);
    rc = zb_restore_plan_run(plan, *r);
    zb_progress_end();
    if (rc == 0)
        describe_archive(h->out, *r);
    return rc;
}

static int verify_timed(rehearsal *h, const zb_restore_target_info *t, zb_archive_reader *r, zb_rehearsal_part *part)
{
    double started = zb_time_monotonic();
    char phase[160];
    snprintf(phase, sizeof(phase), "verifying %s %s", t->kind, t->name);
    zb_progress_begin("verify --restore", 0);
    zb_progress_phase(phase, 0);
    int rc = verify_part(h, t, r, part);
    zb_progress_end();
    part->verify_seconds = zb_time_monotonic() - started;
    return rc;
}

/* Each part read back and compared, until one cannot be. */
static int verify_all(rehearsal *h, zb_restore_plan *plan, zb_archive_reader *r, int rc)
{
    zb_rehearsal *out = h->out;
    size_t count = plan ? zb_restore_plan_count(plan) : 0, differences = 0;
    out->parts = count ? calloc(count, sizeof(*out->parts)) : NULL;
    if (count && !out->parts)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        zb_restore_target_info t = zb_restore_plan_target(plan, i);
        zb_rehearsal_part *part = &out->parts[out->part_count++];
        part->ops = t.ops;
        part->name = zb_strdup(t.name);
        part->target = t.target ? zb_strdup(t.target) : NULL; /* none: a restore that never began */
        part->restore_seconds = t.load_seconds + t.finish_seconds;
        out->restore_seconds += part->restore_seconds;
        if (!part->name || (t.target && !part->target))
            rc = rc < 0 ? rc : zb_error_set(ZB_ENOMEM, "out of memory");
        if (rc == 0) {
            rc = verify_timed(h, &t, r, part);
            out->verify_seconds += part->verify_seconds;
            differences += part->check.count;
        } else {
            part->result = t.finished ? ZB_PART_NOT_VERIFIED : ZB_PART_NOT_RESTORED;
        }
    }
    if (rc == 0 && differences)
        rc = zb_error_set(ZB_EVERIFY, "%s: the restored data differs from the backup (%zu difference%s)", out->archive,
                          differences, differences == 1 ? "" : "s");
    return rc;
}

/* Scratch targets go, whatever happened, unless asked to stay; the error
 * (if any) is saved first so cleanup messages cannot replace it. */
static void clean_up(rehearsal *h, zb_restore_plan *plan, int rc)
{
    zb_error_saved failure;
    zb_error_save(&failure);
    for (size_t i = 0; plan && !h->opts->keep && i < zb_restore_plan_count(plan); i++) {
        zb_restore_target_info t = zb_restore_plan_target(plan, i);
        if (t.finished)
            remove_target(h, &t);
    }
    zb_restore_plan_free(plan); /* removes what a failed restore left half done */
    if (h->scratch.folder && !h->opts->keep)
        rmdir(h->scratch.folder);
    if (rc < 0)
        zb_error_raise(&failure);
}

int zb_rehearse_run(zb_rehearsal **out, const zb_rehearse_options *opts)
{
    *out = NULL;
    rehearsal h;
    memset(&h, 0, sizeof(h));
    h.opts = opts;
    if (!(h.out = new_rehearsal(opts)))
        return ZB_ENOMEM;
    *out = h.out;
    h.scratch = (zb_source_scratch){.id = h.out->id,
                                    .pg_conninfo = opts->pg_conninfo,
                                    .pg_password_file = opts->pg_password_file,
                                    .pg_jobs = opts->pg_jobs,
                                    .no_owner = opts->no_owner,
                                    .no_acl = opts->no_acl,
                                    .docker_host = opts->docker_host,
                                    .scratch_dir = opts->scratch_dir};
    zb_restore_plan *plan = NULL;
    zb_archive_reader *r = NULL;
    double started = zb_time_monotonic(), restored = started;
    int rc = zb_restore_plan_new(&plan);
    if (rc == 0) {
        zb_restore_plan_on_unselected(plan, select_source, &h);
        rc = restore_all(&h, plan, &r);
        restored = zb_time_monotonic();
    }
    rc = verify_all(&h, plan, r, rc);
    double verified = zb_time_monotonic();
    if ((rc == 0 || rc == ZB_EVERIFY) && opts->before_cleanup) {
        finish(h.out, rc); /* the parts' and the whole's results, for the callback */
        int checked = opts->before_cleanup(h.out, opts->payload);
        rc = rc == 0 ? checked : rc;
    }
    free(h.out->error);
    h.out->error = NULL;
    finish(h.out, rc);
    h.out->fetch_seconds = opts->fetch_seconds;
    h.out->read_seconds = restored - started - h.out->restore_seconds;
    h.out->total_seconds = verified - started + opts->fetch_seconds;
    clean_up(&h, plan, rc);
    zb_archive_reader_free(r);
    zb_source_scratch_free(&h.scratch);
    return rc;
}

void zb_rehearsal_free(zb_rehearsal *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->part_count; i++) {
        free(r->parts[i].name);
        free(r->parts[i].target);
        zb_source_check_free(&r->parts[i].check);
        json_decref(r->parts[i].meta);
    }
    free(r->parts);
    free(r->archive);
    free(r->error);
    free(r);
}

/* Whether a failed rehearsal says something about the archive (recorded) or
 * only about this machine (a server down: not recorded). */
static int says_something_about_archive(int rc)
{
    return rc == 0 || rc == ZB_EVERIFY || rc == ZB_EINTEGRITY || rc == ZB_EFORMAT || rc == ZB_EUNSAFE;
}

void zb_rehearse_record(const char *archive, json_t *report, int rc, const char *how)
{
    char *repo = NULL, *name = NULL;
    if (!report || !says_something_about_archive(rc) || zb_repo_split_path(&repo, &name, archive) < 0)
        return;
    zb_error_saved failure;
    zb_error_save(&failure);
    if (zb_repo_index_record_verification(repo, name, report, how) < 0)
        zb_log_warn("the result could not be recorded in the repository index: %s", zb_error_message());
    zb_error_raise(&failure);
    free(repo);
    free(name);
}
