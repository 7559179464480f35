#include "zakpos_backup/command/drill_pitr.h"
#include "zakpos_backup/command/drill.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/repo/index.h"
#include "zakpos_backup/repo/repo.h"
#include "zakpos_backup/source/pg/pitr/decode.h"

#include <stdlib.h>
#include <string.h>

static int choose_among(zb_drill_pitr *p, const char *const *archives, size_t count)
{
    int rc = zb_pitr_start_choose(&p->start, archives, count, NULL, &p->target);
    if (rc == 0 && !p->start.archive)
        rc = zb_error_set(ZB_ENOTFOUND,
                          "the repository index records no snapshot position for any archive\n"
                          "hint: archives written before snapshot positions were recorded cannot start "
                          "a drill --until; take a new backup");
    char *name = NULL;
    if (rc == 0)
        rc = zb_repo_split_path(&p->repo, &name, p->start.archive);
    free(name);
    /* the path given may not outlive the choice (a repository listing) */
    if (rc == 0 && !(p->archive = zb_strdup(p->start.archive)))
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0)
        p->start.archive = p->archive;
    return rc;
}

int zb_drill_pitr_choose(zb_drill_pitr *p, const char *const *archives, size_t count, const char *repo)
{
    if (count)
        return choose_among(p, archives, count);
    zb_repo_list list = {NULL, 0};
    int rc = zb_repo_scan(&list, repo);
    const char **paths = rc == 0 ? calloc(list.count + 1, sizeof(*paths)) : NULL;
    if (rc == 0 && !paths)
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < list.count; i++)
        paths[i] = list.items[i].path;
    if (rc == 0)
        rc = choose_among(p, paths, list.count);
    free(paths);
    zb_repo_list_free(&list);
    return rc;
}

int zb_drill_pitr_replay(zb_drill_pitr *p, const zb_rehearse_options *ro, const char *db, json_t *source_meta)
{
    /* restore --until makes the same check: a replay from an edited index's
     * position would skip or repeat transactions */
    int checked = zb_pitr_start_check(&p->start, source_meta);
    if (checked < 0)
        return checked;
    zb_pitr_replay_options o = {p->repo,
                                p->start.base,
                                &ro->keys,
                                ro->pg_conninfo,
                                ro->pg_password_file,
                                db,
                                NULL,
                                p->target,
                                NULL,
                                p->start.snapshot,
                                json_string_value(json_object_get(p->start.position, "lsn")),
                                NULL};
    zb_log_info("drill: replaying chain %s into %s up to %s",
                json_string_value(json_object_get(p->start.base, "chain")), db, p->until_text);
    double started = zb_time_monotonic();
    int rc = zb_pitr_replay(&p->result, &o);
    p->replay_seconds = zb_time_monotonic() - started;
    p->replayed = rc == 0;
    if (rc < 0)
        zb_error_context("replay of the change stream");
    return rc;
}

static const char *chain_name(const zb_drill_pitr *p)
{
    const char *chain = json_string_value(json_object_get(p->start.base, "chain"));
    return chain ? chain : "-";
}

json_t *zb_drill_pitr_json(const zb_drill_pitr *p)
{
    char lsn[32], when[40] = "";
    zb_pgo_lsn_format(lsn, sizeof(lsn), p->result.last_lsn);
    if (p->result.last_commit)
        zb_pgo_time_format(when, sizeof(when), p->result.last_commit);
    double rate = p->replay_seconds > 0 ? (double)p->result.changes / p->replay_seconds : 0;
    return json_pack("{s:s?, s:s?, s:s, s:s?, s:b, s:f, s:I, s:I, s:f, s:i, s:s, s:s?, s:b, s:s?}", "archive",
                     p->archive, "chain", json_string_value(json_object_get(p->start.base, "chain")), "from",
                     p->start.snapshot ? "snapshot" : "base", "until", p->until_text, "replayed", p->replayed,
                     "replay_seconds", p->replay_seconds, "transactions", (json_int_t)p->result.transactions, "changes",
                     (json_int_t)p->result.changes, "changes_per_second", rate, "segments", (int)p->result.segments,
                     "last_lsn", lsn, "last_commit", *when ? when : NULL, "reached_target", p->result.reached_target,
                     "compared_with", p->result.compared_with[0] ? p->result.compared_with : NULL);
}

void zb_drill_pitr_markdown(FILE *out, const zb_drill_pitr *p)
{
    char took[32], lsn[32], when[40] = "-";
    zb_pgo_lsn_format(lsn, sizeof(lsn), p->result.last_lsn);
    if (p->result.last_commit)
        zb_pgo_time_format(when, sizeof(when), p->result.last_commit);
    fprintf(out, "\n## Recovery to a point\n\n");
    fprintf(out, "- Point asked for: %s\n", p->until_text ? p->until_text : "-");
    fprintf(out, "- Started from: `%s` (%s), chain %s\n", p->archive ? p->archive : "-",
            p->start.snapshot ? "a snapshot inside the chain" : "the chain's base", chain_name(p));
    if (!p->replayed) {
        fprintf(out, "- Replay: not done or failed\n");
        return;
    }
    fprintf(out, "- Replay: %llu transactions, %llu changes from %u segments in %s (%.0f changes/s)\n",
            (unsigned long long)p->result.transactions, (unsigned long long)p->result.changes, p->result.segments,
            zb_report_duration(took, sizeof(took), p->replay_seconds),
            p->replay_seconds > 0 ? (double)p->result.changes / p->replay_seconds : 0);
    if (p->result.compared_with[0])
        fprintf(out, "- Passed `%s` and equalled it at its position (%u tables compared)\n", p->result.compared_with,
                p->result.tables_compared);
    fprintf(out, "- Recovered to: LSN %s, committed at %s%s\n", lsn, when,
            p->result.reached_target ? "" : " (the stream ends before the point asked for)");
}

void zb_drill_pitr_clear(zb_drill_pitr *p)
{
    if (!p)
        return;
    zb_pitr_start_clear(&p->start);
    free(p->repo);
    free(p->archive);
    p->repo = p->archive = NULL;
}
