#include "zakpos_backup/restore/rehearse.h"
#include "zakpos_backup/archive/reader.h"
#include "zakpos_backup/archive/writer.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fault.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/progress.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/repo/index.h"
#include "zakpos_backup/restore/check.h"
#include "zakpos_backup/restore/plan.h"
#include "zakpos_backup/source/docker/helper.h"
#include "zakpos_backup/source/docker/volume.h"
#include "zakpos_backup/source/pg/conn.h"
#include "zakpos_backup/source/pg/verify.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Differences kept per part: every one a catalog comparison names in
 * practice (one per changed attribute), bounded for a report. */
#define DIFFERENCE_LIMIT 500

typedef struct rehearsal {
    const zb_rehearse_options *opts;
    char id[9];
    zb_docker *docker;
    char *scratch_root;
    int pg_sources;
} rehearsal;

static int open_docker(rehearsal *h)
{
    return h->docker ? 0 : zb_docker_open(&h->docker, h->opts->docker_host);
}

static int scratch_folder(rehearsal *h)
{
    if (h->scratch_root)
        return 0;
    const char *parent = h->opts->scratch_dir ? h->opts->scratch_dir : getenv("TMPDIR");
    zb_buf b = ZB_BUF_INIT;
    int rc = zb_buf_printf(&b, "%s/zakpos-backup-verify-%s", parent && *parent ? parent : "/tmp", h->id);
    if (rc == 0 && mkdir(b.data, 0700) < 0)
        rc = zb_error_errno(ZB_EIO, errno, "cannot make the scratch folder %s", b.data);
    if (rc == 0)
        h->scratch_root = zb_buf_detach(&b);
    zb_buf_free(&b);
    return rc;
}

/* Every source of the archive gets a scratch target as its first entry arrives. */
static int select_source(zb_restore_plan *plan, const char *kind, const char *name, void *payload)
{
    rehearsal *h = payload;
    zb_buf target = ZB_BUF_INIT;
    int rc;
    if (strcmp(kind, ZB_SOURCE_PATH) == 0) {
        if ((rc = scratch_folder(h)) == 0 && (rc = zb_buf_printf(&target, "%s/%s", h->scratch_root, name)) == 0)
            rc = zb_restore_plan_add_path(plan, name, target.data, 0);
    } else if (strcmp(kind, ZB_SOURCE_VOLUME) == 0) {
        if ((rc = open_docker(h)) == 0 && (rc = zb_buf_printf(&target, "%s_verify_%s", name, h->id)) == 0)
            rc = zb_restore_plan_add_volume(plan, h->docker, name, target.data,
                                            &(zb_volume_restore_options){.scratch = 1}); /* plain local, always */
    } else {
        rc = h->pg_sources++ ? zb_buf_printf(&target, ZB_REHEARSE_SCRATCH_DB_PREFIX "%s_%d", h->id, h->pg_sources)
                             : zb_buf_printf(&target, ZB_REHEARSE_SCRATCH_DB_PREFIX "%s", h->id);
        zb_pg_restore_options pg = {0};
        pg.conninfo = h->opts->pg_conninfo;
        pg.target_db = target.data;
        pg.password_file = h->opts->pg_password_file;
        pg.jobs = h->opts->pg_jobs;
        pg.no_owner = h->opts->no_owner;
        pg.no_acl = h->opts->no_acl;
        pg.scratch = 1;
        if (rc == 0)
            rc = zb_restore_plan_add_pg(plan, name, &pg);
    }
    if (rc == 0)
        zb_log_detail("restoring %s %s into scratch target %s", kind, name, target.data);
    zb_buf_free(&target);
    return rc;
}

static int add_volume_entry(struct archive *in, struct archive_entry *e, const char *relative, const char *hardlink_relative,
                            void *payload)
{
    return zb_tree_check_add(payload, in, e, relative, hardlink_relative);
}

/* What the scratch restore's role could not do: objects it could not create
 * are "not verified" (neither a pass nor a difference), owners and
 * privileges it could not set are counted. */
static void describe_left_out(json_t *part, json_t *left_out)
{
    json_t *objects = json_array();
    json_int_t settings = 0;
    size_t i;
    json_t *x;
    json_array_foreach(left_out, i, x) {
        if (strcmp(json_string_value(json_object_get(x, "what")) ?: "", "object") != 0) {
            settings++;
            continue;
        }
        zb_buf b = ZB_BUF_INIT;
        if (zb_buf_printf(&b, "%s: %s", json_string_value(json_object_get(x, "id")) ?: "?",
                          json_string_value(json_object_get(x, "reason")) ?: "?") == 0)
            json_array_append_new(objects, json_string(b.data));
        zb_buf_free(&b);
    }
    json_object_set_new(part, "not_verified", objects);
    json_object_set_new(part, "owners_privileges_left_out", json_integer(settings));
}

/* Reads one restored part back and compares it; the part's report gets
 * the result. Errors are failures to compare, not differences. */
static int verify_part(rehearsal *h, zb_restore_plan *plan, size_t i, zb_archive_reader *r, json_t *part)
{
    zb_restore_target_info t = zb_restore_plan_target(plan, i);
    json_t *differences = json_array();
    size_t count = 0;
    int rc = 0;
    json_object_set(part, "bytes", json_object_get(zb_archive_reader_manifest_source(r, t.kind, t.name), "bytes"));
    if (strcmp(t.kind, ZB_SOURCE_PG) == 0) {
        json_t *source = zb_archive_reader_manifest_source(r, ZB_SOURCE_PG, t.name);
        zb_pg_restore *restored = zb_restore_plan_pg(plan, i);
        zb_pg_verify_options v = {h->opts->pg_conninfo, h->opts->pg_password_file, t.target, h->opts->pg_jobs,
                                  h->opts->no_owner, h->opts->no_acl, ZB_FAULT_VALUE("pg-before-compare-sql"),
                                  zb_pg_restore_left_out(restored), zb_pg_restore_catalog(restored)};
        long long rows = 0;
        rc = zb_pg_verify_database(differences, DIFFERENCE_LIMIT, &count, &rows, &v, zb_pg_restore_toc(restored),
                                   json_object_get(source, "summary"));
        json_object_set_new(part, "rows", json_integer(rows));
        describe_left_out(part, zb_pg_restore_left_out(restored));
    } else {
        zb_tree_check *check = NULL;
        int is_volume = strcmp(t.kind, ZB_SOURCE_VOLUME) == 0;
        ZB_FAULT_POINT("before-read-back", t.target);
        char *folder = NULL;
        rc = zb_tree_check_new(&check);
        /* a volume whose folder is reachable is read back there, as it was
         * written: Docker's archive stream would leave out what it cannot carry */
        if (rc == 0 && is_volume)
            rc = zb_volume_folder(h->docker, t.target, &folder);
        if (rc == 0)
            rc = is_volume && !folder ? zb_volume_walk(h->docker, t.target, add_volume_entry, check)
                                      : zb_tree_check_add_folder(check, folder ? folder : t.target);
        free(folder);
        if (rc == 0)
            rc = zb_tree_check_compare(check, r, t.kind, t.name, is_volume ? "data" : NULL, differences, DIFFERENCE_LIMIT,
                                       &count);
        if (rc == 0)
            json_object_set_new(part, "entries", json_integer((json_int_t)zb_tree_check_count(check)));
        zb_tree_check_free(check);
    }
    json_object_set_new(part, "differences", differences);
    json_object_set_new(part, "difference_count", json_integer((json_int_t)count));
    int incomplete = json_array_size(json_object_get(part, "not_verified")) > 0;
    json_object_set_new(part, "result", json_string(rc < 0 ? "error" : count ? "fail" : incomplete ? "incomplete" : "pass"));
    return rc;
}

static void remove_target(rehearsal *h, const zb_restore_target_info *t)
{
    int rc;
    if (strcmp(t->kind, ZB_SOURCE_PG) == 0)
        rc = zb_pg_drop_database_at(h->opts->pg_conninfo, h->opts->pg_password_file, t->target);
    else if (strcmp(t->kind, ZB_SOURCE_VOLUME) == 0)
        rc = zb_volume_remove(h->docker, t->target);
    else
        rc = zb_fs_remove_tree(t->target);
    if (rc < 0)
        zb_log_warn("the scratch %s %s could not be removed: %s", t->kind, t->target, zb_error_message());
    else
        zb_log_detail("removed the scratch %s %s", t->kind, t->target);
}

static json_t *new_report(const rehearsal *h)
{
    char started[32];
    zb_time_format_iso(started, sizeof(started), time(NULL));
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    return json_pack("{s:s, s:s, s:s, s:s, s:[], s:b}", "archive", h->opts->archive, "id", h->id, "host", host, "started",
                     started, "parts", "kept", h->opts->keep);
}

/* Archive facts from the manifest: when it was made and its age now (the
 * recovery point a disaster at this moment would have). */
static void describe_archive(json_t *report, zb_archive_reader *r)
{
    const char *created = json_string_value(json_object_get(zb_archive_reader_manifest(r), "created"));
    time_t at;
    if (created && zb_time_parse_utc(&at, created) == 0) {
        json_object_set_new(report, "archive_created", json_string(created));
        json_object_set_new(report, "archive_age_seconds", json_integer((json_int_t)(time(NULL) - at)));
    }
    json_object_set_new(report, "bytes", json_integer((json_int_t)zb_archive_reader_bytes_in(r)));
}

static void finish_report(json_t *report, int rc, double read_seconds, double restore_seconds, double verify_seconds,
                          double total_seconds, double fetch_seconds)
{
    /* objects the scratch role could not create: neither a pass nor a failure */
    int incomplete = 0;
    size_t i;
    json_t *part;
    json_array_foreach(json_object_get(report, "parts"), i, part)
        incomplete |= strcmp(json_string_value(json_object_get(part, "result")) ?: "", "incomplete") == 0;
    json_object_set_new(report, "result", json_string(rc < 0 ? "fail" : incomplete ? "incomplete" : "pass"));
    if (rc < 0)
        json_object_set_new(report, "error", json_string(zb_error_message()));
    json_object_set_new(report, "seconds",
                        json_pack("{s:f, s:f, s:f, s:f, s:f}", "fetch", fetch_seconds, "read", read_seconds, "restore",
                                  restore_seconds, "verify", verify_seconds, "total", total_seconds + fetch_seconds));
}

static int restore_all(rehearsal *h, zb_restore_plan *plan, zb_archive_reader **r, json_t *report)
{
    int rc = zb_archive_reader_open(r, h->opts->archive, &h->opts->keys);
    if (rc < 0)
        return rc;
    struct stat st;
    zb_progress_begin("restore", stat(h->opts->archive, &st) == 0 ? (uint64_t)st.st_size : 0);
    rc = zb_restore_plan_run(plan, *r);
    zb_progress_end();
    if (rc == 0)
        describe_archive(report, *r);
    return rc;
}

int zb_rehearse_run(json_t **report, const zb_rehearse_options *opts)
{
    rehearsal h;
    memset(&h, 0, sizeof(h));
    h.opts = opts;
    uint32_t id = randombytes_random();
    snprintf(h.id, sizeof(h.id), "%08x", id);
    zb_restore_plan *plan = NULL;
    zb_archive_reader *r = NULL;
    double started = zb_time_monotonic(), restored = started, verified;
    double restore_seconds = 0, verify_seconds = 0;
    *report = new_report(&h);
    if (!*report)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    int rc = zb_restore_plan_new(&plan);
    if (rc == 0) {
        zb_restore_plan_on_unselected(plan, select_source, &h);
        rc = restore_all(&h, plan, &r, *report);
        restored = zb_time_monotonic();
    }
    size_t differences = 0;
    json_t *parts = json_object_get(*report, "parts");
    for (size_t i = 0; plan && i < zb_restore_plan_count(plan); i++) {
        zb_restore_target_info t = zb_restore_plan_target(plan, i);
        json_t *part = json_pack("{s:s, s:s, s:s, s:f}", "kind", t.kind, "name", t.name, "target", t.target,
                                 "restore_seconds", t.load_seconds + t.finish_seconds);
        restore_seconds += t.load_seconds + t.finish_seconds;
        if (rc == 0) {
            double part_started = zb_time_monotonic();
            char phase[160];
            snprintf(phase, sizeof(phase), "verifying %s %s", t.kind, t.name);
            zb_progress_begin("verify --restore", 0);
            zb_progress_phase(phase, 0);
            rc = verify_part(&h, plan, i, r, part);
            zb_progress_end();
            double took = zb_time_monotonic() - part_started;
            json_object_set_new(part, "verify_seconds", json_real(took));
            verify_seconds += took;
            differences += (size_t)json_integer_value(json_object_get(part, "difference_count"));
        } else {
            json_object_set_new(part, "result", json_string(t.finished ? "not verified" : "not restored"));
        }
        json_array_append_new(parts, part);
    }
    verified = zb_time_monotonic();
    if (rc == 0 && differences)
        rc = zb_error_set(ZB_EVERIFY, "%s: the restored data differs from the backup (%zu difference%s)", opts->archive,
                          differences, differences == 1 ? "" : "s");
    if ((rc == 0 || rc == ZB_EVERIFY) && opts->before_cleanup) {
        int checked = opts->before_cleanup(*report, opts->payload);
        rc = rc == 0 ? checked : rc;
    }
    finish_report(*report, rc, restored - started - restore_seconds, restore_seconds, verify_seconds, verified - started,
                  opts->fetch_seconds);
    /* scratch targets go, whatever happened, unless asked to stay; the
     * error (if any) is saved first so cleanup messages cannot replace it */
    zb_error_saved failure;
    zb_error_save(&failure);
    for (size_t i = 0; plan && !opts->keep && i < zb_restore_plan_count(plan); i++) {
        zb_restore_target_info t = zb_restore_plan_target(plan, i);
        if (t.finished)
            remove_target(&h, &t);
    }
    zb_restore_plan_free(plan); /* removes what a failed restore left half done */
    if (h.scratch_root && !opts->keep)
        rmdir(h.scratch_root);
    if (rc < 0)
        zb_error_raise(&failure);
    zb_archive_reader_free(r);
    zb_docker_close(h.docker);
    free(h.scratch_root);
    return rc;
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
