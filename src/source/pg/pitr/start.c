#include "zakpos_backup/source/pg/pitr/start.h"
#include "zakpos_backup/archive/writer.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/repo/index.h"
#include "zakpos_backup/source/pg/pitr/chain.h"
#include "zakpos_backup/source/pg/pitr/decode.h"
#include "zakpos_backup/source/pg/pitr/position.h"
#include "zakpos_backup/source/pg/pitr/window.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

json_t *zb_pitr_recorded_position(json_t *index, const char *archive_name, const char *source)
{
    json_t *sources = json_object_get(zb_repo_index_archive(index, archive_name), "sources");
    for (size_t i = 0; i < json_array_size(sources); i++) {
        json_t *s = json_array_get(sources, i);
        const char *kind = json_string_value(json_object_get(s, "kind"));
        const char *name = json_string_value(json_object_get(s, "name"));
        if (kind && strcmp(kind, ZB_SOURCE_PG) == 0 && (!source || (name && strcmp(name, source) == 0)))
            return json_object_get(s, "position");
    }
    return NULL;
}

/* Chains prune cut start at the snapshot their cut.json names (their base
 * archive may be gone): each is a candidate as a base would be. */
static int cut_chains(char **best, uint64_t *best_lsn, const char *repo, const zb_pitr_position *at)
{
    zb_pitr_chain_info *chains = NULL;
    size_t count = 0;
    int rc = zb_pitr_chains_scan(&chains, &count, repo);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        char *dir = zb_pitr_chain_dir(repo, chains[i].name);
        json_t *cut = NULL;
        uint64_t from = 0;
        rc = dir ? zb_pitr_chain_cut_read(&cut, dir) : zb_error_set(ZB_ENOMEM, "out of memory");
        if (rc == 0 && cut && zb_pgo_lsn_parse(&from, json_string_value(json_object_get(cut, "from_lsn"))) == 0 &&
            from <= at->scan_lsn && (!*best || from > *best_lsn)) {
            free(*best);
            *best = zb_strdup(chains[i].name), *best_lsn = from;
            rc = *best ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
        }
        json_decref(cut);
        free(dir);
    }
    zb_pitr_chains_free(chains, count);
    return rc;
}

/* The chain a nightly snapshot continues: of the chains' bases in its
 * repository (same source), and of the chains cut at a snapshot, the one
 * whose stream began (or was cut) last at or before the WAL position read
 * ahead of the snapshot. */
static int find_chain(json_t **base, json_t *index, const char *repo, const char *source, const zb_pitr_position *at)
{
    const char *name;
    char *best = NULL;
    uint64_t best_lsn = 0;
    json_t *record;
    json_object_foreach (json_object_get(index, "archives"), name, record) {
        zb_pitr_position p;
        json_t *pos = zb_pitr_recorded_position(index, name, source);
        if (!pos || zb_pitr_position_parse(&p, pos) < 0 || !p.chain || p.scan_lsn > at->scan_lsn)
            continue;
        if (!best || p.scan_lsn > best_lsn) {
            free(best);
            if (!(best = zb_strdup(p.chain)))
                return zb_error_set(ZB_ENOMEM, "out of memory");
            best_lsn = p.scan_lsn;
        }
    }
    (void)record;
    int rc = cut_chains(&best, &best_lsn, repo, at);
    char *dir = rc == 0 && best ? zb_pitr_chain_dir(repo, best) : NULL;
    struct stat st;
    if (rc == 0 && (!best || !dir || stat(dir, &st) != 0))
        rc = zb_error_set(ZB_ENOTFOUND,
                          "no change stream in %s began before the snapshot, so it cannot be brought to a later point\n"
                          "hint: `zakpos-backup follow` must have been running when the snapshot was taken",
                          repo);
    else if (rc == 0)
        rc = (*base = json_pack("{s:s}", "chain", best)) ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
    free(dir);
    free(best);
    return rc;
}

/* One candidate: its position if the index knows it and it lies before the
 * target (1), 0 to pass it over. */
static int candidate(json_t **position, zb_pitr_position *pos, const char *path, const char *source,
                     const zb_pitr_target *target, int *known)
{
    char *repo = NULL, *name = NULL;
    json_t *index = NULL;
    int rc = zb_repo_split_path(&repo, &name, path);
    if (rc == 0)
        rc = zb_repo_index_load(&index, repo);
    json_t *recorded = rc == 0 ? zb_pitr_recorded_position(index, name, source) : NULL;
    if (rc == 0 && recorded && zb_pitr_position_parse(pos, recorded) == 0) {
        ++*known;
        if (zb_pitr_position_before_target(pos, target)) {
            *position = json_deep_copy(recorded);
            rc = *position ? 1 : zb_error_set(ZB_ENOMEM, "out of memory");
        } else {
            zb_log_detail("%s: its snapshot was taken after the point asked for", path);
        }
    } else if (rc == 0) {
        zb_log_detail("%s: the repository index records no snapshot position", path);
    }
    json_decref(index);
    free(repo);
    free(name);
    return rc;
}

int zb_pitr_start_choose(zb_pitr_start *out, const char *const *archives, size_t count, const char *source,
                         const zb_pitr_target *target)
{
    memset(out, 0, sizeof(*out));
    zb_pitr_position best_pos, pos;
    int rc = 0, known = 0;
    for (size_t i = 0; rc >= 0 && i < count; i++) {
        json_t *position = NULL;
        rc = candidate(&position, &pos, archives[i], source, target, &known);
        if (rc == 1 && (!out->archive || pos.lsn > best_pos.lsn)) {
            json_decref(out->position);
            out->archive = archives[i], out->position = position, best_pos = pos;
            best_pos.snapshot = best_pos.chain = NULL; /* borrowed from the copy below */
        } else {
            json_decref(position);
        }
    }
    if (rc >= 0 && !out->archive && known)
        rc = zb_error_set(ZB_ENOTFOUND,
                          "every snapshot given was taken after the point asked for\n"
                          "hint: give an older archive of the database too (the chain's base is the oldest)");
    if (rc < 0 || !out->archive)
        return rc < 0 ? rc : 0;
    rc = zb_pitr_position_parse(&best_pos, out->position);
    if (rc == 0 && best_pos.chain) {
        out->base = json_pack("{s:s, s:O}", "chain", best_pos.chain, "lsn", json_object_get(out->position, "scan_lsn"));
        rc = out->base ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
    } else if (rc == 0) {
        out->snapshot = best_pos.snapshot;
        char *repo = NULL, *name = NULL;
        json_t *index = NULL;
        rc = zb_repo_split_path(&repo, &name, out->archive);
        if (rc == 0)
            rc = zb_repo_index_load(&index, repo);
        if (rc == 0)
            rc = find_chain(&out->base, index, repo, source, &best_pos);
        if (rc == 0)
            rc = json_object_set(out->base, "lsn", json_object_get(out->position, "scan_lsn")) == 0
                     ? 0
                     : zb_error_set(ZB_ENOMEM, "out of memory");
        json_decref(index);
        free(repo);
        free(name);
    }
    if (rc < 0)
        zb_pitr_start_clear(out);
    return rc;
}

int zb_pitr_start_check(const zb_pitr_start *start, json_t *source_meta)
{
    json_t *signed_position = json_object_get(source_meta, "position");
    if (!json_equal(signed_position, start->position))
        return zb_error_set(ZB_EINTEGRITY,
                            "%s: the snapshot position in its manifest differs from the repository index's\n"
                            "hint: the index is rebuilt from the archives by `zakpos-backup list --rebuild-index`",
                            start->archive);
    return 0;
}

/* A nightly snapshot of this chain (not a base: those begin chains) after
 * scan_lsn and before the target: 1 with its parsed position, else 0. */
static int passed_candidate(zb_pitr_position *pos, json_t *index, const char *repo, const char *name,
                            const char *source, const char *chain, uint64_t scan_lsn, const zb_pitr_target *target)
{
    json_t *recorded = zb_pitr_recorded_position(index, name, source), *base = NULL;
    zb_buf path = ZB_BUF_INIT;
    struct stat st;
    /* an index record whose archive is gone (removed by hand) is no snapshot to compare with */
    int present = zb_buf_printf(&path, "%s/%s", repo, name) == 0 && stat(path.data, &st) == 0;
    zb_buf_free(&path);
    if (!present || !recorded || zb_pitr_position_parse(pos, recorded) < 0 || pos->chain || pos->scan_lsn <= scan_lsn ||
        !zb_pitr_position_before_target(pos, target)) {
        zb_error_clear(); /* a position it cannot read: not a snapshot to compare with */
        return 0;
    }
    int rc = find_chain(&base, index, repo, source, pos);
    int same = rc == 0 && strcmp(json_string_value(json_object_get(base, "chain")) ?: "", chain) == 0;
    json_decref(base);
    zb_error_clear(); /* no chain began before it: not this chain's */
    return same;
}

int zb_pitr_start_passed(char **archive, json_t **position, const char *repo, const char *source, const char *chain,
                         uint64_t scan_lsn, const zb_pitr_target *target)
{
    *archive = NULL, *position = NULL;
    json_t *index = NULL, *record;
    const char *name, *best = NULL;
    uint64_t best_lsn = 0;
    int rc = zb_repo_index_load(&index, repo);
    json_object_foreach (json_object_get(index, "archives"), name, record) {
        zb_pitr_position pos;
        if (rc == 0 && passed_candidate(&pos, index, repo, name, source, chain, scan_lsn, target) &&
            (!best || pos.lsn > best_lsn))
            best = name, best_lsn = pos.lsn;
    }
    (void)record;
    zb_buf path = ZB_BUF_INIT;
    if (rc == 0 && best && zb_buf_printf(&path, "%s/%s", repo, best) == 0) {
        *position = json_deep_copy(zb_pitr_recorded_position(index, best, source));
        *archive = zb_buf_detach(&path);
    }
    if (rc == 0 && best && (!*archive || !*position)) {
        free(*archive), json_decref(*position);
        *archive = NULL, *position = NULL;
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
    }
    zb_buf_free(&path);
    json_decref(index);
    return rc;
}

void zb_pitr_start_clear(zb_pitr_start *s)
{
    if (!s)
        return;
    json_decref(s->position);
    json_decref(s->base);
    memset(s, 0, sizeof(*s));
}
