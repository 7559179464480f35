#include "zakpos_backup/command/drill.h"
#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/config/settings.h"
#include "zakpos_backup/cli/rehearsal.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/config/config.h"
#include "zakpos_backup/repo/repo.h"
#include "zakpos_backup/source/pg/conn.h"
#include "zakpos_backup/source/pg/pitr/decode.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: zakpos-backup drill [ARCHIVE|latest|remote:NAME/ARCHIVE] (--key FILE | --passphrase-file FILE)\n"
    "           [--repo DIR] [--pg-target CONNINFO] [--docker-host URL] [--report FILE] [--json]\n"
    "       zakpos-backup drill [ARCHIVE...] --until TIMESTAMP | --until-lsn LSN [options as above]\n"
    "\n"
    "Rehearses a disaster: restores everything in the archive (default: the\n"
    "newest of the repository; remote:NAME/latest fetches one from an offsite\n"
    "copy first, and the download counts as the recovery's first phase) into a\n"
    "fresh environment - another PostgreSQL server or Docker host, or scratch\n"
    "names on the same ones - runs every check of verify --restore, then the\n"
    "smoke checks of the configuration ([check NAME] sections: an SQL query run\n"
    "in the restored database and the result it must give), and reports: the\n"
    "archive and its age at drill time (the recovery point a disaster now would\n"
    "have), the time to fetch, decrypt, restore each part and verify (the\n"
    "recovery time), sizes, throughput, and every check\n"
    "with its result. The scratch targets are removed unless --keep. The result\n"
    "is recorded in the repository index like verify --restore's. Exits 0 only\n"
    "if everything passed (14 when data differs or a smoke check fails).\n"
    "\n"
    "  --key FILE / --passphrase-file FILE   as for verify\n" ZB_READ_KEYS_HELP
    "  --repo DIR               the repository for 'latest' (default: the configuration's)\n"
    "  --report FILE            write the report as FILE.md and FILE.json (a FILE\n"
    "                           ending in .md or .json names one of the two); without\n"
    "                           it the Markdown report goes to stdout\n"
    "  --json                   the JSON report on stdout instead of Markdown\n"
    "  --until TIMESTAMP        rehearse a recovery to a point (UTC, like\n"
    "                           2026-12-07T14:03:00Z): the newest snapshot before it among\n"
    "                           the ARCHIVEs given (default: the repository's) is restored\n"
    "                           and verified, then the change stream is replayed up to\n"
    "                           the point, timed\n"
    "  --until-lsn LSN          the same, up to the transactions committed at that LSN\n" ZB_REHEARSAL_HELP;

typedef struct drill {
    zb_rehearse_options ro;
    const zb_config *config;
    const char *repo;
    const char *report_file;
    int as_json;
    zb_drill_pitr *pitr; /* --until: the replay after the rehearsal's checks */
    zb_drill_report report;
} drill;

/* A query's result as text: columns joined by '|', rows by newlines. */
static void result_text(zb_buf *out, PGresult *res)
{
    for (int r = 0; r < PQntuples(res); r++) {
        if (r)
            zb_buf_puts(out, "\n");
        for (int c = 0; c < PQnfields(res); c++)
            zb_buf_printf(out, "%s%s", c ? "|" : "", PQgetisnull(res, r, c) ? "" : PQgetvalue(res, r, c));
    }
}

/* The database part the rehearsal restored and read back, or NULL. */
static const zb_rehearsal_part *restored_part(const zb_rehearsal *r)
{
    for (size_t i = 0; i < r->part_count; i++) {
        const zb_rehearsal_part *p = &r->parts[i];
        if (p->ops == &zb_source_pg &&
            (p->result == ZB_PART_PASS || p->result == ZB_PART_FAIL || p->result == ZB_PART_INCOMPLETE))
            return p;
    }
    return NULL;
}

/* The scratch database the rehearsal restored and read back, or NULL. */
static const char *restored_database(const zb_rehearsal *r)
{
    const zb_rehearsal_part *part = restored_part(r);
    return part ? part->target : NULL;
}

static void run_check(zb_drill_check *check, PGconn *conn, const zb_config_check *k)
{
    double started = zb_time_monotonic();
    check->name = k->name;
    check->sql = k->sql;
    check->expect = k->expect;
    if (!conn) {
        check->error = zb_strdup("no database was restored to run it in");
        return;
    }
    PGresult *res = PQexec(conn, k->sql);
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        zb_buf got = ZB_BUF_INIT;
        zb_buf_puts(&got, "");
        result_text(&got, res);
        check->got = zb_strdup(got.data ? got.data : "");
        check->passed = got.data && strcmp(got.data, k->expect) == 0;
        zb_buf_free(&got);
    } else {
        zb_pg_result_error(conn, res, "the query failed");
        check->error = zb_strdup(zb_error_message());
        zb_error_clear();
    }
    PQclear(res);
    check->timed = 1;
    check->seconds = zb_time_monotonic() - started;
}

/* The configuration's smoke checks, in the restored database, read-only. */
static int run_smoke_checks(const zb_rehearsal *r, void *payload)
{
    drill *d = payload;
    if (d->pitr && d->pitr->wanted) {
        const zb_rehearsal_part *part = restored_part(r);
        int replayed = part ? zb_drill_pitr_replay(d->pitr, &d->ro, part->target, part->meta)
                            : zb_error_set(ZB_ENOTFOUND, "the archive's database was not restored");
        if (replayed < 0)
            return replayed;
    }
    double started = zb_time_monotonic();
    d->report.checks_ran = 1;
    if (d->config->check_count == 0)
        return 0;
    const char *db = restored_database(r);
    PGconn *conn = NULL;
    if (db && zb_pg_connect_db(&conn, d->ro.pg_conninfo, d->ro.pg_password_file, db) < 0)
        return zb_error_code();
    /* the checks are the application's own queries: its search path, no writes */
    if (conn && zb_pg_exec(conn, "SET default_transaction_read_only = on; SET search_path TO \"$user\", public",
                           "cannot set up the session") < 0) {
        PQfinish(conn);
        return zb_error_code();
    }
    if (!(d->report.checks = calloc(d->config->check_count, sizeof(*d->report.checks)))) {
        PQfinish(conn);
        return zb_error_set(ZB_ENOMEM, "out of memory");
    }
    size_t failed = 0;
    const char *first_failed = NULL;
    for (size_t i = 0; i < d->config->check_count; i++) {
        zb_drill_check *check = &d->report.checks[d->report.check_count++];
        run_check(check, conn, &d->config->checks[i]);
        if (!check->passed && failed++ == 0)
            first_failed = check->name;
    }
    PQfinish(conn);
    d->report.checks_seconds = zb_time_monotonic() - started;
    if (failed)
        return zb_error_set(ZB_EVERIFY, "%zu of %zu smoke checks failed (first: %s)", failed, d->config->check_count,
                            first_failed);
    return 0;
}

static void free_checks(zb_drill_report *report)
{
    for (size_t i = 0; i < report->check_count; i++) {
        free(report->checks[i].got);
        free(report->checks[i].error);
    }
    free(report->checks);
}

/* The smoke checks as the JSON report has them. */
static json_t *checks_json(const zb_drill_report *report)
{
    json_t *checks = json_array();
    for (size_t i = 0; checks && i < report->check_count; i++) {
        const zb_drill_check *k = &report->checks[i];
        json_t *check = json_pack("{s:s, s:s, s:s}", "name", k->name, "sql", k->sql, "expect", k->expect);
        if (k->got)
            json_object_set_new(check, "got", json_string(k->got));
        json_object_set_new(check, "result", json_string(k->passed ? "pass" : "fail"));
        if (k->error)
            json_object_set_new(check, "error", json_string(k->error));
        if (k->timed)
            json_object_set_new(check, "seconds", json_real(k->seconds));
        json_array_append_new(checks, check);
    }
    return checks;
}

static void drill_markdown(FILE *out, const void *report) { zb_drill_write_markdown(out, report); }

static int write_reports(const drill *d, json_t *report)
{
    return zb_report_write(report, d->report_file, d->as_json, drill_markdown, &d->report, "drill");
}

/* The recovery time: until every part was back (fetch, read and decrypt,
 * restore, and with --until the replay), without the proof that follows. */
static void recovery_figures(zb_drill_report *report)
{
    const zb_rehearsal *r = report->rehearsal;
    report->rto_seconds = r->fetch_seconds + r->read_seconds + r->restore_seconds;
    if (report->pitr) /* a recovery to a point is back once its changes are */
        report->rto_seconds += report->pitr->replay_seconds;
    report->total_seconds = r->total_seconds + report->checks_seconds;
}

/* The JSON report: the rehearsal's, with the checks and the recovery figures. */
static json_t *report_json(const zb_drill_report *report)
{
    json_t *extra = report->checks_ran ? json_pack("{s:o}", "checks", checks_json(report)) : NULL;
    json_t *out = zb_rehearsal_json(report->rehearsal, extra);
    json_decref(extra);
    json_t *s = json_object_get(out, "seconds");
    json_object_set_new(s, "checks", json_real(report->checks_seconds));
    json_object_set_new(out, "rto_seconds", json_real(report->rto_seconds));
    json_object_set_new(s, "total", json_real(report->total_seconds));
    if (report->fetched_from)
        json_object_set_new(out, "fetched_from", json_string(report->fetched_from));
    if (report->pitr)
        json_object_set_new(out, "pitr", zb_drill_pitr_json(report->pitr));
    return out;
}

static int resolve_archive(char **archive, const drill *d, const char *given)
{
    if (given && strcmp(given, "latest") != 0) {
        *archive = zb_strdup(given);
        return *archive ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
    }
    const char *repo = d->repo ? d->repo : d->config->repo;
    int rc = zb_repo_latest(archive, repo);
    if (rc < 0)
        zb_error_context("drill of the newest archive in %s", repo);
    return rc;
}

int zb_cmd_drill(zb_context *ctx, int argc, char **argv)
{
    enum { OPT_REPORT = ZB_OPT_COMMAND_BASE, OPT_UNTIL, OPT_UNTIL_LSN };
    static const struct option local[] = {
        {"report", required_argument, NULL, OPT_REPORT},
        {"until", required_argument, NULL, OPT_UNTIL},
        {"until-lsn", required_argument, NULL, OPT_UNTIL_LSN},
        {"json", no_argument, NULL, ZB_OPT_JSON},
        ZB_REHEARSAL_LONG_OPTIONS,
        {"help", no_argument, NULL, ZB_OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    struct option options[64];
    if (zb_settings_options(options, ZB_ARRAY_LEN(options), "drill", local) < 0)
        return zb_error_code();
    zb_drill_request req;
    memset(&req, 0, sizeof(req));
    int opt, rc;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case ZB_SETTING_OPT(ZB_SET_KEY_FILE): req.ro.keys.key_file = optarg; break;
        case ZB_SETTING_OPT(ZB_SET_PASSPHRASE_FILE): req.ro.keys.passphrase_file = optarg; break;
        case ZB_SETTING_OPT(ZB_SET_REPO): req.repo = optarg; break;
        case OPT_REPORT: req.report_file = optarg; break;
        case OPT_UNTIL:
        case OPT_UNTIL_LSN:
            if (req.pitr.wanted++)
                return zb_cli_usage_error("drill", "give one of --until and --until-lsn");
            req.pitr.until_text = optarg;
            rc = opt == OPT_UNTIL ? (req.pitr.target.by_time = 1, zb_pitr_parse_time(&req.pitr.target.until, optarg))
                                  : (req.pitr.target.by_lsn = 1, zb_pgo_lsn_parse(&req.pitr.target.until_lsn, optarg));
            if (rc < 0)
                return rc;
            break;
        case ZB_OPT_JSON: req.as_json = 1; break;
        case ZB_OPT_HELP: fputs(help, stdout); return 0;
        default:
            if ((rc = zb_cli_read_keys_option(&req.ro.keys, opt, optarg)) != 0) {
                if (rc < 0)
                    return rc;
                break;
            }
            if ((rc = zb_cli_rehearsal_option(&req.ro, opt, optarg)) < 0)
                return rc;
            if (rc == 0)
                return zb_cli_bad_option("drill", argv);
        }
    }
    if (optind < argc - 1 && !req.pitr.wanted)
        return zb_cli_usage_error("drill",
                                  "give at most one ARCHIVE (or latest); several only with --until or --until-lsn");
    req.archives = (const char *const *)argv + optind;
    req.archive_count = (size_t)(argc - optind);
    if (req.report_file && req.as_json)
        return zb_cli_usage_error("drill", "--report writes both formats; --json is for stdout");
    req.archive = optind < argc ? zb_context_archive(ctx, argv[optind]) : NULL;
    return zb_drill_run(ctx, &req);
}

int zb_drill_run(zb_context *ctx, const zb_drill_request *req)
{
    drill d;
    memset(&d, 0, sizeof(d));
    d.ro = req->ro;
    d.repo = req->repo;
    d.report_file = req->report_file;
    d.as_json = req->as_json;
    int rc;
    const zb_config *c = NULL;
    if ((rc = zb_context_config(&c, ctx)) < 0)
        return rc;
    d.config = c;
    zb_cli_rehearsal_defaults(&d.ro, c);
    if (!d.ro.keys.key_file && !d.ro.keys.passphrase_file && c->key_file && *c->key_file)
        d.ro.keys.key_file = c->key_file;
    if ((rc = zb_cli_read_keys_configured(ctx, &d.ro.keys)) < 0)
        return rc;
    char *archive = NULL;
    json_t *report = NULL;
    zb_rehearsal *rehearsal = NULL;
    zb_drill_pitr pitr = req->pitr;
    if (pitr.wanted) {
        d.pitr = &pitr;
        d.report.pitr = &pitr;
        rc = zb_drill_pitr_choose(&pitr, req->archives, req->archive_count, d.repo ? d.repo : c->repo);
        if (rc == 0)
            rc = (archive = zb_strdup(pitr.archive)) ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
    } else {
        rc = resolve_archive(&archive, &d, req->archive);
    }
    if (rc == 0) {
        d.ro.archive = archive;
        d.ro.fetch_seconds = ctx->download.seconds;
        d.ro.before_cleanup = run_smoke_checks;
        d.ro.payload = &d;
        zb_log_info("drill: restoring %s into scratch targets", archive);
        rc = zb_rehearse_run(&rehearsal, &d.ro);
        if (!rehearsal) {
            free(archive);
            zb_drill_pitr_clear(&pitr);
            return rc;
        }
        d.report.rehearsal = rehearsal;
        d.report.fetched_from = ctx->download.from; /* a download: its folder is no repository */
        recovery_figures(&d.report);
        report = report_json(&d.report);
        if (!d.report.fetched_from)
            zb_rehearse_record(archive, report, rc, "drill");
        zb_error_saved failure;
        zb_error_save(&failure);
        int written = report ? write_reports(&d, report) : zb_error_set(ZB_ENOMEM, "out of memory");
        if (rc < 0 && written < 0)
            zb_log_error("%s", zb_error_message()); /* the drill's own failure is the one reported */
        if (rc < 0)
            zb_error_raise(&failure);
        else
            rc = written;
    }
    if (rc < 0)
        zb_error_context("drill failed");
    json_decref(report);
    free_checks(&d.report);
    zb_rehearsal_free(rehearsal);
    zb_drill_pitr_clear(&pitr);
    free(archive);
    return rc;
}
