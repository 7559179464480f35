#include "zakpos_backup/command/prune.h"
#include "zakpos_backup/archive/sign.h"
#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/config/settings.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/config/config.h"
#include "zakpos_backup/repo/index.h"
#include "zakpos_backup/repo/repo.h"
#include "zakpos_backup/repo/retention.h"
#include "zakpos_backup/source/docker/helper.h"
#include "zakpos_backup/source/pg/pitr/position.h"
#include "zakpos_backup/source/pg/pitr/segment.h"
#include "zakpos_backup/source/pg/pitr/start.h"
#include "zakpos_backup/source/pg/pitr/window.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A format-1 archive's detached signature goes with it; a leftover would
 * only be clutter (it matches no other header). */
static void remove_detached_signature(const char *archive)
{
    zb_buf sig = ZB_BUF_INIT;
    if (zb_buf_printf(&sig, "%s%s", archive, ZB_DETACHED_SIGNATURE_SUFFIX) == 0 && unlink(sig.data) < 0 &&
        errno != ENOENT)
        zb_log_warn("cannot remove %s: %s", sig.data, strerror(errno));
    zb_buf_free(&sig);
}

static const char help[] =
    "usage: zakpos-backup prune --repo DIR [--keep-last N] [--keep-hourly N] [--keep-daily N]\n"
    "           [--keep-weekly N] [--keep-monthly N] [--keep-yearly N] [--keep-within DURATION]\n"
    "           [--dry-run] [--json]\n"
    "\n"
    "Removes the archives that no --keep rule keeps, with restic's semantics:\n"
    "  --keep-last N         the N newest archives\n"
    "  --keep-hourly N       the newest archive of each of the N latest hours that have one\n"
    "  --keep-daily N        ... days, --keep-weekly N ISO weeks, --keep-monthly N months,\n"
    "                        --keep-yearly N years (N = -1: no limit). A rule that still has\n"
    "                        count left at the oldest archive keeps that one too.\n"
    "  --keep-within D       every archive less than D (e.g. 7d, 2y6m, 36h) older than the newest\n"
    "Time buckets (and calendar days of --keep-within) use the configuration's\n"
    "daemon.timezone, else TZ: the same zone as `run` and `daemon`. At least one\n"
    "rule that keeps something is required (--keep-within 0d keeps nothing).\n"
    "\n"
    "  --dry-run          remove nothing; show what would go and why each kept archive\n"
    "                     stays (reads only: takes no lock, works on a read-only repository)\n"
    "  --json             one JSON document on stdout\n"
    "  --lock-wait D      wait up to D (e.g. 30m) while another run holds the repository\n"
    "                     (default 0: exit 12 at once)\n"
    "\n"
    "Prints one line per archive on stdout: keep (with the rules that keep it),\n"
    "remove, or would-remove. Holds the repository lock while it removes.\n"
    "Unless --dry-run, also removes what killed runs left: hidden .partial\n"
    "archives in DIR and (when this host has a Docker daemon) their helper\n"
    "containers, logging each.\n"
    "\n"
    "Change-stream chains (`follow`, DIR/pitr/<chain>/): every kept archive's\n"
    "window runs up to the next kept archive, so a chain is kept (and its base\n"
    "archive with it) when any of it lies at or after the oldest kept archive,\n"
    "or a follower writes it; the others are removed, one line each\n"
    "(pitr/<chain>), under the chain's lock, which the follower holds while it\n"
    "writes: a chain in use stays.\n";

enum { OPT_DRY_RUN = ZB_OPT_COMMAND_BASE };

/* The keep_* rows of the settings table are in the order of the rules. */
_Static_assert(ZB_SET_KEEP_YEARLY - ZB_SET_KEEP_LAST == ZB_KEEP_YEARLY - ZB_KEEP_LAST, "keep rules out of order");

static int parse(zb_prune_request *req, int argc, char **argv)
{
    static const struct option local[] = {
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {"json", no_argument, NULL, ZB_OPT_JSON},
        {"help", no_argument, NULL, ZB_OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    struct option options[64];
    if (zb_settings_options(options, ZB_ARRAY_LEN(options), "prune", local) < 0)
        return zb_error_code();
    int opt, rc = 0;
    while (rc == 0 && (opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        int rule = opt - ZB_SETTING_OPT(ZB_SET_KEEP_LAST);
        if (rule >= 0 && rule <= ZB_KEEP_YEARLY - ZB_KEEP_LAST) {
            const zb_setting *s = &zb_settings[ZB_SET_KEEP_LAST + rule];
            char name[32];
            snprintf(name, sizeof(name), "--%s", s->flag);
            rc = zb_cli_parse_int(&req->policy.count[ZB_KEEP_LAST + rule], optarg, name, (int)s->min, (int)s->max);
            continue;
        }
        switch (opt) {
        case ZB_SETTING_OPT(ZB_SET_REPO): req->repo = optarg; break;
        case ZB_SETTING_OPT(ZB_SET_KEEP_WITHIN): rc = zb_retention_parse_within(&req->policy, optarg); break;
        case OPT_DRY_RUN: req->dry_run = 1; break;
        case ZB_OPT_JSON: req->as_json = 1; break;
        case ZB_SETTING_OPT(ZB_SET_COMMAND_LOCK_WAIT):
            rc = zb_cli_parse_duration(&req->lock_wait, optarg, "--lock-wait");
            break;
        case ZB_OPT_HELP: fputs(help, stdout); return 1;
        default: return zb_cli_bad_option("prune", argv);
        }
    }
    if (rc < 0)
        return rc;
    if (optind < argc)
        return zb_cli_usage_error("prune", "unexpected argument '%s'", argv[optind]);
    return 0;
}

/* What a request must hold, however it was made. */
static int check(const zb_prune_request *req)
{
    if (!req->repo)
        return zb_cli_usage_error("prune", "--repo DIR is required");
    if (zb_retention_is_empty(&req->policy))
        return zb_cli_usage_error("prune",
                                  "no --keep rule that keeps anything given: refusing to decide which "
                                  "archives to remove");
    return 0;
}

/* Beside the rules: the newest archive proven restorable (verify --restore
 * or drill) is never removed, so a good restore point always exists even
 * when newer archives were never tried or failed. */
#define KEEP_NEWEST_VERIFIED (1u << 31)
/* ... nor the base archive of a change-stream chain a kept snapshot needs:
 * replay starts from it. */
#define KEEP_CHAIN_BASE      (1u << 30)

static void reasons_text(zb_buf *b, unsigned keep, const zb_retention_policy *p)
{
    zb_buf_reset(b);
    if (keep & KEEP_NEWEST_VERIFIED)
        zb_buf_puts(b, "newest verified by restore");
    if (keep & KEEP_CHAIN_BASE)
        zb_buf_printf(b, "%sbase of a needed chain", b->len ? ", " : "");
    for (int r = 0; r < ZB_KEEP_RULES; r++) {
        if (!(keep & (1u << r)))
            continue;
        if (r == ZB_KEEP_WITHIN)
            zb_buf_printf(b, "%swithin %s", b->len ? ", " : "", p->within_text);
        else
            zb_buf_printf(b, "%s%s", b->len ? ", " : "", zb_retention_rule_name((enum zb_keep_rule)r));
    }
}

/* Buckets are days, weeks, months in one zone: the configuration's, as for
 * `run` and the daemon, so a job keeps the same archives however it runs. */
static int use_configured_zone(zb_context *ctx)
{
    const zb_config *c = NULL;
    int rc = zb_context_config(&c, ctx);
    return rc < 0 ? rc : zb_config_use_timezone(c);
}

/* The chain of the oldest kept snapshot, when that is not the chain's
 * base: no kept window reaches before the snapshot, so the segments replay
 * from it does not read go (zb_pitr_chain_cut), and the chain's base is no
 * longer needed. *cut_chain: that chain's index, or -1 if none was cut (a
 * follower holds its lock, no position recorded ...). */
static void cut_oldest(long *cut_chain, size_t *cut_segments, const zb_pitr_chain_info *chains, size_t chain_count,
                       const int *needed, const zb_repo_archive *oldest, json_t *index, const char *repo, int dry_run)
{
    *cut_chain = -1, *cut_segments = 0;
    long c = -1;
    for (size_t i = 0; oldest && i < chain_count; i++)
        if (needed[i] && chains[i].from <= oldest->created)
            c = (long)i;
    zb_pitr_position pos;
    json_t *recorded = c >= 0 ? zb_pitr_recorded_position(index, oldest->name, NULL) : NULL;
    if (!recorded || (chains[c].base && strcmp(chains[c].base, oldest->name) == 0) ||
        zb_pitr_position_parse(&pos, recorded) < 0 || pos.chain)
        return;
    int rc =
        zb_pitr_chain_cut(cut_segments, repo, chains[c].name, oldest->name, oldest->created, pos.scan_lsn, dry_run);
    if (rc < 0)
        zb_log_warn("chain %s stays whole: %s", chains[c].name, zb_error_message());
    else if (rc == 1)
        *cut_chain = c;
}

/* The chains the kept snapshots need (needed[i]), and their base archives
 * kept with them (but that of a chain cut at the oldest kept snapshot);
 * keep[] is newest first, as the rules read it. */
static int plan_chains(int **needed, zb_pitr_chain_info **chains, size_t *chain_count, long *cut_chain,
                       size_t *cut_segments, unsigned *keep, const zb_repo_list *list, json_t *index, const char *repo,
                       int dry_run)
{
    int rc = zb_pitr_chains_scan(chains, chain_count, repo);
    time_t *kept = rc == 0 ? calloc(list->count + 1, sizeof(*kept)) : NULL;
    *needed = rc == 0 ? calloc(*chain_count + 1, sizeof(**needed)) : NULL;
    if (rc == 0 && (!kept || !*needed))
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
    size_t kept_count = 0;
    const zb_repo_archive *oldest = NULL;
    for (size_t i = 0; rc == 0 && i < list->count; i++)
        if (keep[i])
            kept[kept_count++] = (oldest = &list->items[list->count - 1 - i])->created;
    if (rc == 0)
        zb_pitr_chains_needed(*needed, *chains, *chain_count, kept, kept_count);
    if (rc == 0)
        cut_oldest(cut_chain, cut_segments, *chains, *chain_count, *needed, oldest, index, repo, dry_run);
    for (size_t c = 0; rc == 0 && c < *chain_count; c++)
        for (size_t i = 0; (*needed)[c] && (long)c != *cut_chain && (*chains)[c].base && i < list->count; i++)
            if (strcmp(list->items[list->count - 1 - i].name, (*chains)[c].base) == 0)
                keep[i] |= KEEP_CHAIN_BASE;
    free(kept);
    return rc;
}

/* A chain no kept snapshot needs goes, under its lock: a follower writing
 * it holds the lock, and then the chain stays (said, not fatal). */
static const char *prune_chain(const char *repo, const zb_pitr_chain_info *c, int needed, int dry_run, size_t *removed)
{
    if (needed)
        return "keep";
    if (dry_run)
        return "would-remove";
    zb_repo_lock *lock = NULL;
    if (zb_pitr_chain_lock(&lock, repo, c->name, 0) < 0) {
        zb_log_warn("chain %s stays: %s", c->name, zb_error_message());
        return "keep";
    }
    int rc = zb_pitr_chain_remove(repo, c->name);
    zb_repo_lock_release(lock);
    if (rc < 0) {
        zb_log_warn("chain %s: %s", c->name, zb_error_message());
        return "keep";
    }
    (*removed)++;
    zb_log_detail("removed chain %s (%zu segments)", c->name, c->segments);
    return "remove";
}

static void report_cut(zb_context *ctx, json_t *doc, const zb_pitr_chain_info *c, size_t segments, int dry_run,
                       int as_json)
{
    const char *action = dry_run ? "would-cut" : "cut";
    if (as_json)
        json_array_append_new(
            doc, json_pack("{s:s, s:s, s:I}", "chain", c->name, "action", action, "segments", (json_int_t)segments));
    else
        zb_context_print(ctx, "%-12s %s/%s  %zu segments before the oldest kept snapshot\n", action, ZB_PITR_DIR,
                         c->name, segments);
}

static void report_chains(zb_context *ctx, json_t *doc, const char *repo, const zb_pitr_chain_info *chains,
                          const int *needed, size_t count, long cut_chain, size_t cut_segments, int dry_run,
                          int as_json)
{
    size_t removed = 0;
    for (size_t c = 0; needed && c < count; c++) {
        if ((long)c == cut_chain)
            report_cut(ctx, doc, &chains[c], cut_segments, dry_run, as_json);
        const char *action = prune_chain(repo, &chains[c], needed[c], dry_run, &removed);
        const char *reasons = strcmp(action, "keep") != 0 ? ""
                              : chains[c].active          ? "being followed"
                              : needed[c]                 ? "a kept snapshot's window"
                                                          : "in use";
        if (as_json)
            json_array_append_new(
                doc, json_pack("{s:s, s:s, s:s}", "chain", chains[c].name, "action", action, "reasons", reasons));
        else
            zb_context_print(ctx, "%-12s %s/%s%s%s\n", action, ZB_PITR_DIR, chains[c].name, *reasons ? "  " : "",
                             reasons);
    }
    if (count)
        zb_log_info("prune: %zu chains, %zu removed", count, removed);
}

int zb_cmd_prune(zb_context *ctx, int argc, char **argv)
{
    zb_prune_request req;
    memset(&req, 0, sizeof(req));
    int rc = parse(&req, argc, argv);
    if (rc == 0)
        rc = zb_prune_run(ctx, &req);
    return rc > 0 ? 0 : rc;
}

int zb_prune_run(zb_context *ctx, const zb_prune_request *req)
{
    const char *repo = req->repo;
    const zb_retention_policy *policy = &req->policy;
    int dry_run = req->dry_run, as_json = req->as_json;
    int rc = check(req);
    if (rc < 0)
        return rc;
    if ((rc = use_configured_zone(ctx)) < 0)
        return rc;
    zb_repo_lock *lock = NULL;
    zb_repo_list list = {0};
    unsigned *keep = NULL;
    time_t *times = NULL;
    json_t *index = NULL;
    json_t *doc = json_array();
    zb_pitr_chain_info *chains = NULL;
    size_t chain_count = 0;
    int *needed = NULL;
    long cut_chain = -1;
    size_t cut_segments = 0;
    zb_buf reasons = ZB_BUF_INIT;
    size_t removed = 0;
    /* A dry run changes nothing, so it needs no lock (and works on a
     * read-only repository, or beside a running backup). */
    if (!dry_run && (rc = zb_repo_lock_take(&lock, repo, req->lock_wait)) < 0)
        goto done;
    /* what killed runs left: unfinished archives (safe under the lock) and
     * helper containers; never fatal, and not in a dry run */
    if (!dry_run && zb_repo_sweep_partials(repo) < 0)
        zb_log_warn("%s", zb_error_message());
    if (!dry_run)
        zb_helper_sweep_host(NULL);
    if ((rc = zb_repo_scan(&list, repo)) < 0)
        goto done;
    keep = calloc(list.count + 1, sizeof(*keep));
    times = calloc(list.count + 1, sizeof(*times));
    if (!keep || !times) {
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
        goto done;
    }
    /* The scan is oldest first; the rules read newest first. */
    for (size_t i = 0; i < list.count; i++)
        times[i] = list.items[list.count - 1 - i].created;
    zb_retention_apply(keep, times, list.count, policy);
    if ((rc = zb_repo_index_load(&index, repo)) < 0)
        goto done;
    const zb_repo_archive *verified = zb_repo_index_newest_verified(index, &list);
    for (size_t i = 0; verified && i < list.count; i++)
        if (&list.items[list.count - 1 - i] == verified)
            keep[i] |= KEEP_NEWEST_VERIFIED;
    if ((rc = plan_chains(&needed, &chains, &chain_count, &cut_chain, &cut_segments, keep, &list, index, repo,
                          dry_run)) < 0)
        goto done;
    for (size_t i = 0; i < list.count; i++) {
        const zb_repo_archive *a = &list.items[list.count - 1 - i];
        const char *action = keep[i] ? "keep" : dry_run ? "would-remove" : "remove";
        reasons_text(&reasons, keep[i], policy);
        if (!keep[i] && !dry_run) {
            if (unlink(a->path) < 0 && errno != ENOENT) {
                rc = zb_error_errno(ZB_EIO, errno, "cannot remove %s", a->path);
                goto done;
            }
            remove_detached_signature(a->path);
            removed++;
            zb_log_detail("removed %s", a->path);
        }
        if (as_json)
            json_array_append_new(doc, json_pack("{s:s, s:s, s:s}", "archive", a->name, "action", action, "reasons",
                                                 reasons.data ? reasons.data : ""));
        else
            zb_context_print(ctx, "%-12s %s%s%s\n", action, a->name, keep[i] ? "  " : "", keep[i] ? reasons.data : "");
    }
    if (removed && (rc = zb_fs_fsync_dir(repo)) < 0)
        goto done;
    report_chains(ctx, doc, repo, chains, needed, chain_count, cut_chain, cut_segments, dry_run, as_json);
    if (!dry_run && zb_repo_index_forget_missing(repo) < 0)
        zb_log_warn("%s", zb_error_message()); /* entries of gone archives are ignored anyway */
    if (as_json) {
        char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (text)
            zb_context_print(ctx, "%s\n", text);
        free(text);
    }
    zb_log_info("prune: %zu archives, %zu removed%s", list.count, removed,
                dry_run ? " (dry run: nothing removed)" : "");
done:
    zb_pitr_chains_free(chains, chain_count);
    free(needed);
    json_decref(doc);
    zb_buf_free(&reasons);
    free(keep);
    free(times);
    json_decref(index);
    zb_repo_list_free(&list);
    zb_repo_lock_release(lock);
    return rc;
}
