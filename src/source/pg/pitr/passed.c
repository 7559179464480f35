#include "zakpos_backup/source/pg/pitr/passed.h"
#include "zakpos_backup/archive/reader.h"
#include "zakpos_backup/archive/writer.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/json.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/source/pg/database.h"
#include "zakpos_backup/source/pg/pg.h"
#include "zakpos_backup/source/pg/pitr/decode.h"
#include "zakpos_backup/source/pg/pitr/position.h"
#include "zakpos_backup/source/pg/pitr/start.h"

#include <stdlib.h>
#include <string.h>

/* Differences named in the error at most (each names its table). */
#define DIFFERENCES_SHOWN 8

int zb_pitr_passed_find(zb_pitr_passed *out, const char *repo, const char *source, const char *chain, uint64_t scan_lsn,
                        const zb_pitr_target *target)
{
    memset(out, 0, sizeof(*out));
    zb_pitr_position pos;
    int rc = zb_pitr_start_passed(&out->archive, &out->position, repo, source, chain, scan_lsn, target);
    if (rc == 0 && out->archive)
        rc = zb_pitr_position_parse(&pos, out->position);
    if (rc == 0 && out->archive)
        rc = zb_xid_snapshot_parse(&out->snapshot, pos.snapshot);
    if (rc == 0 && out->archive)
        out->lsn = pos.lsn;
    if (rc < 0)
        zb_pitr_passed_clear(out);
    return rc;
}

/* The archive read whole (verified): its table of contents and the
 * manifest's summary of the database source, whose signed position must be
 * the one the index gave. */
static int load_snapshot(json_t **toc, json_t **summary, const zb_pitr_passed *p, const zb_read_keys *keys,
                         const char *source)
{
    zb_archive_reader *r = NULL;
    struct archive_entry *entry;
    zb_entry_info info;
    char *name = NULL; /* the source's name, once its toc is seen */
    int rc = zb_archive_reader_open(&r, p->archive, keys);
    while (rc >= 0 && (rc = zb_archive_reader_next(r, &entry, &info)) == 1) {
        if (strcmp(info.source_kind, ZB_SOURCE_PG) != 0 || (source && strcmp(info.source_name, source) != 0) ||
            strcmp(info.relative, ZB_PG_TOC_NAME) != 0 || *toc)
            continue;
        rc = zb_pg_read_json_entry(toc, r, entry, "the snapshot's table of contents");
        if (rc == 0) /* an SQL_ASCII database's text that is not UTF-8, stored in hex */
            rc = zb_json_texts_decode(*toc, "the snapshot's table of contents");
        if (rc == 0 && !(name = zb_strdup(info.source_name)))
            rc = zb_error_set(ZB_ENOMEM, "out of memory");
    }
    json_t *s = rc == 0 && name ? zb_archive_reader_manifest_source(r, ZB_SOURCE_PG, name) : NULL;
    zb_pitr_start recorded = {p->archive, p->position, NULL, NULL}; /* what the index said, as for a start */
    if (rc == 0 && !s)
        rc = zb_error_set(ZB_EFORMAT, "%s holds no database source to compare with", p->archive);
    else if (rc == 0)
        rc = zb_pitr_start_check(&recorded, json_object_get(s, "meta"));
    if (rc == 0)
        *summary = json_incref(json_object_get(s, "summary"));
    if (rc < 0)
        zb_error_context("reading %s", p->archive);
    free(name);
    zb_archive_reader_free(r);
    return rc;
}

static int listed(const char *const *tables, const char *schema, const char *name)
{
    size_t sl = strlen(schema);
    for (const char *const *t = tables; t && *t; t++)
        if (strncmp(*t, schema, sl) == 0 && (*t)[sl] == '.' && strcmp(*t + sl + 1, name) == 0)
            return 1;
    return 0;
}

/* The snapshot's tables the replay wrote: a table the stream never named
 * (left out of the publication) holds the starting snapshot's rows. */
static json_t *replayed_tables(json_t *toc, const char *const *tables)
{
    json_t *out = json_array(), *t;
    size_t i;
    json_array_foreach (json_object_get(toc, "tables"), i, t) {
        const char *schema = json_string_value(json_object_get(t, "schema"));
        const char *name = json_string_value(json_object_get(t, "name"));
        if (out && schema && name && listed(tables, schema, name))
            json_array_append(out, t);
    }
    return out;
}

static int differences_error(const zb_pitr_passed *p, json_t *differences, size_t count)
{
    zb_buf text = ZB_BUF_INIT;
    json_t *d;
    size_t i;
    json_array_foreach (differences, i, d)
        zb_buf_printf(&text, "%s%s", i ? "; " : "", json_string_value(d));
    if (count > json_array_size(differences))
        zb_buf_printf(&text, "; and %zu more", count - json_array_size(differences));
    char lsn[32];
    zb_pgo_lsn_format(lsn, sizeof(lsn), p->lsn);
    int rc = zb_error_set(ZB_EVERIFY,
                          "replay verification: at the position of snapshot %s (LSN %s) the replayed database "
                          "differs from it: %s",
                          p->archive, lsn, text.data ? text.data : "?");
    zb_buf_free(&text);
    return rc;
}

int zb_pitr_passed_compare(unsigned int *compared, const zb_pitr_passed *p, const zb_read_keys *keys,
                           const char *source, const zb_pg_verify_options *vo, const char *const *tables)
{
    json_t *toc = NULL, *summary = NULL, *chosen = NULL, *differences = json_array();
    size_t count = 0;
    double started = zb_time_monotonic();
    int rc = differences ? load_snapshot(&toc, &summary, p, keys, source) : zb_error_set(ZB_ENOMEM, "out of memory");
    double read = zb_time_monotonic() - started;
    if (rc == 0 && !(chosen = replayed_tables(toc, tables)))
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0)
        rc = zb_pg_verify_rows(differences, DIFFERENCES_SHOWN, &count, vo, toc, chosen, summary);
    *compared = rc == 0 ? (unsigned int)json_array_size(chosen) : 0;
    if (rc == 0 && count)
        rc = differences_error(p, differences, count);
    if (rc == 0)
        zb_log_detail(
            "replay verified against %s: %u tables equal at its position (archive read in %.1f s, "
            "tables in %.1f s)",
            p->archive, *compared, read, zb_time_monotonic() - started - read);
    json_decref(toc);
    json_decref(summary);
    json_decref(chosen);
    json_decref(differences);
    return rc;
}

void zb_pitr_passed_clear(zb_pitr_passed *p)
{
    if (!p)
        return;
    free(p->archive);
    json_decref(p->position);
    zb_xid_snapshot_clear(&p->snapshot);
    memset(p, 0, sizeof(*p));
}
