#include "zakpos_backup/archive/manifest.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fault.h"
#include "zakpos_backup/common/json.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/source/pg/conn.h"
#include "zakpos_backup/source/pg/pg.h"
#include "zakpos_backup/source/pg/verify.h"
#include "zakpos_backup/source/source.h"

#include <stdlib.h>
#include <string.h>

/* PostgreSQL behind the source interface (source/source.h). */

static int selected(const zb_source_selection *sel) { return sel->pg_selected; }

/* The database's name in the archive: the one asked for, else its dbname
 * when that is a valid source name, else "db". */
static int backup(zb_archive_writer *w, const zb_source_selection *sel)
{
    char *dbname = sel->pg_name ? NULL : zb_pg_conninfo_dbname(sel->pg->conninfo);
    const char *name = sel->pg_name                                           ? sel->pg_name
                       : dbname && zb_manifest_check_source_name(dbname) == 0 ? dbname
                                                                              : "db";
    int rc = zb_manifest_check_source_name(name);
    if (rc == 0)
        rc = zb_pg_backup(w, name, sel->pg);
    free(dbname);
    return rc;
}

static int restore_begin(void **state, const char *name, const char *target, const zb_source_restore_options *opts)
{
    (void)target; /* the options name the target database */
    zb_pg_restore *p = NULL;
    int rc = zb_pg_restore_begin(&p, name, opts->pg);
    *state = p;
    return rc;
}

ZB_SOURCE_RESTORE_WRAPPERS(zb_pg_restore, zb_pg_restore)

static int scratch_target(zb_source_scratch *s, const char *name, char **target, zb_source_restore_options *opts)
{
    (void)name;
    zb_buf b = ZB_BUF_INIT;
    int rc = s->pg_count++ ? zb_buf_printf(&b, ZB_SOURCE_SCRATCH_DB_PREFIX "%s_%d", s->id, s->pg_count)
                           : zb_buf_printf(&b, ZB_SOURCE_SCRATCH_DB_PREFIX "%s", s->id);
    if (rc == 0)
        *target = zb_buf_detach(&b);
    zb_buf_free(&b);
    s->pg = (zb_pg_restore_options){.conninfo = s->pg_conninfo,
                                    .target_db = rc == 0 ? *target : NULL,
                                    .password_file = s->pg_password_file,
                                    .jobs = s->pg_jobs,
                                    .no_owner = s->no_owner,
                                    .no_acl = s->no_acl,
                                    .scratch = 1};
    opts->pg = &s->pg;
    return rc;
}

/* What the scratch restore's role could not do: objects it could not
 * create are "not verified" (neither a pass nor a difference), owners and
 * privileges it could not set are counted. */
static int describe_left_out(zb_source_check *out, json_t *left_out)
{
    size_t i;
    json_t *x;
    int rc = 0;
    out->has_left_out = 1;
    json_array_foreach (left_out, i, x) {
        if (strcmp(json_string_value(json_object_get(x, "what")) ?: "", "object") != 0) {
            out->settings_left_out++;
            continue;
        }
        zb_buf b = ZB_BUF_INIT;
        char *shown = NULL; /* an SQL_ASCII database's names need not be UTF-8; reports are */
        if (rc == 0 && (rc = zb_buf_printf(&b, "%s: %s", json_string_value(json_object_get(x, "id")) ?: "?",
                                           json_string_value(json_object_get(x, "reason")) ?: "?")) == 0)
            rc = (shown = zb_json_printable(b.data)) ? zb_source_check_add_not_verified(out, shown)
                                                     : zb_error_set(ZB_ENOMEM, "out of memory");
        free(shown);
        zb_buf_free(&b);
    }
    return rc;
}

static int verify(zb_source_scratch *s, void *restore_state, zb_archive_reader *r, const char *name, const char *target,
                  size_t limit, zb_source_check *out)
{
    zb_pg_restore *restored = restore_state;
    json_t *source = zb_archive_reader_manifest_source(r, ZB_SOURCE_PG, name);
    json_t *differences = json_array();
    zb_pg_verify_options v = {s->pg_conninfo,
                              s->pg_password_file,
                              target,
                              s->pg_jobs,
                              s->no_owner,
                              s->no_acl,
                              ZB_FAULT_VALUE("pg-before-compare-sql"),
                              zb_pg_restore_left_out(restored),
                              zb_pg_restore_catalog(restored),
                              zb_pg_restore_catalog_objects(restored)};
    size_t count = 0;
    long long rows = 0;
    int rc = differences ? zb_pg_verify_database(differences, limit, &count, &rows, &v, zb_pg_restore_toc(restored),
                                                 json_object_get(source, "summary"))
                         : zb_error_set(ZB_ENOMEM, "out of memory");
    out->amount = rows;
    out->amount_is_rows = out->has_amount = 1;
    int taken = zb_source_check_take_differences(out, differences, count);
    rc = rc < 0 ? rc : taken;
    json_decref(differences);
    int described = describe_left_out(out, zb_pg_restore_left_out(restored));
    return rc < 0 ? rc : described;
}

static int scratch_remove(zb_source_scratch *s, const char *target)
{
    return zb_pg_drop_database_at(s->pg_conninfo, s->pg_password_file, target);
}

const zb_source_ops zb_source_pg = {
    .kind = ZB_SOURCE_PG,
    .reading = "reading the database",
    .selected = selected,
    .backup = backup,
    .any_name = 1,
    .restore_begin = restore_begin,
    .restore_entry = zb_pg_restore_entry_op,
    .restore_finish = zb_pg_restore_finish_op,
    .restore_target = zb_pg_restore_target_op,
    .restore_free = zb_pg_restore_free_op,
    .scratch_target = scratch_target,
    .verify = verify,
    .scratch_remove = scratch_remove,
};
