#include "zakpos_backup/command/verify.h"
#include "zakpos_backup/archive/reader.h"
#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/config/settings.h"
#include "zakpos_backup/cli/rehearsal.h"
#include "zakpos_backup/config/config.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/progress.h"
#include "zakpos_backup/common/timeutil.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char help[] =
    "usage: zakpos-backup verify (--key FILE | --passphrase-file FILE) ARCHIVE\n"
    "       zakpos-backup verify --restore [options] (--key FILE | --passphrase-file FILE) ARCHIVE\n"
    "\n"
    "Reads the whole archive: checks the header, every encrypted chunk's\n"
    "authentication tag, the compressed stream's checksum, and every entry's\n"
    "size, metadata and content hash against the manifest. Exits 0 only if\n"
    "everything is intact; otherwise names what failed (exit 6 for damage,\n"
    "7 for a wrong key or passphrase, 5 for a file that is not an archive,\n"
    "16 for an archive no trusted writer signed, or an unencrypted one when a\n"
    "key or passphrase was given).\n"
    "\n"
    "With --restore it goes further and proves the archive restores: every\n"
    "source is restored into scratch targets (database zakpos_backup_verify_<id>,\n"
    "volumes <name>_verify_<id>, folders in a temporary directory), read back,\n"
    "and compared with what the backup recorded: per table the row count and a\n"
    "hash of the rows computed as at backup time, the schema object by object\n"
    "(tables, columns, constraints, indexes, views, functions, sequences and\n"
    "their values), every file's hash and metadata. The scratch targets are\n"
    "removed afterwards. The result is recorded in the repository's index, so\n"
    "`list` shows when each archive was last proven restorable. Exit 14 when\n"
    "the restored data differs (each difference is named).\n"
    "\n"
    "  --key FILE               the secret key (from keygen) the archive was made for\n"
    "  --passphrase-file FILE   the passphrase; also ZAKPOS_BACKUP_PASSPHRASE_FILE\n"
    "                           or ZAKPOS_BACKUP_PASSPHRASE\n" ZB_READ_KEYS_HELP
    "  --restore                verify by restoring (below)\n"
    "  --json                   with --restore: the report as JSON on stdout\n" ZB_REHEARSAL_HELP
    "\n"
    "On success prints one line on stdout: verified ARCHIVE (N entries, SIZE),\n"
    "or with --restore: verified ARCHIVE by restore (PARTS) in DURATION.\n";

static void print_differences(const zb_rehearsal *r)
{
    for (size_t i = 0; i < r->part_count; i++) {
        const zb_rehearsal_part *p = &r->parts[i];
        for (size_t j = 0; j < p->check.kept; j++)
            zb_log_error("%s %s: %s", p->ops->kind, p->name, p->check.differences[j]);
        if (p->check.count > p->check.kept)
            zb_log_error("%s %s: %lld more differences not shown", p->ops->kind, p->name,
                         (long long)(p->check.count - p->check.kept));
    }
}

static void print_summary(const zb_context *ctx, const char *archive, const zb_rehearsal *r)
{
    zb_buf parts = ZB_BUF_INIT;
    size_t not_verified = 0;
    for (size_t i = 0; i < r->part_count; i++) {
        const zb_rehearsal_part *p = &r->parts[i];
        zb_buf_printf(&parts, "%s%s %s, %lld %s", parts.len ? "; " : "", p->ops->kind, p->name,
                      p->check.has_amount ? p->check.amount : 0, p->check.amount_is_rows ? "rows" : "entries");
        not_verified += p->check.not_verified_count;
    }
    char took[32];
    zb_format_duration(took, sizeof(took), r->total_seconds);
    if (not_verified)
        zb_context_print(ctx, "verified %s by restore (%s) in %s, except %zu object%s not verified\n", archive,
                         parts.data ? parts.data : "no sources", took, not_verified, not_verified == 1 ? "" : "s");
    else
        zb_context_print(ctx, "verified %s by restore (%s) in %s\n", archive, parts.data ? parts.data : "no sources",
                         took);
    zb_buf_free(&parts);
}

static int verify_by_restore(zb_context *ctx, zb_rehearse_options *ro, int as_json)
{
    const zb_config *c = NULL;
    int rc = zb_context_config(&c, ctx);
    if (rc < 0)
        return rc;
    zb_cli_rehearsal_defaults(ro, c);
    zb_rehearsal *rehearsal = NULL;
    rc = zb_rehearse_run(&rehearsal, ro);
    json_t *report = rehearsal ? zb_rehearsal_json(rehearsal, NULL) : NULL;
    if (!ctx->download.from) /* a download's folder is no repository */
        zb_rehearse_record(ro->archive, report, rc, "restore");
    if (as_json) {
        char *text = json_dumps(report, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (text)
            zb_context_print(ctx, "%s\n", text);
        free(text);
    }
    if (rc == ZB_EVERIFY && rehearsal)
        print_differences(rehearsal);
    else if (rc == 0 && !as_json && rehearsal)
        print_summary(ctx, ro->archive, rehearsal);
    if (rc < 0)
        zb_error_context("verify --restore failed");
    json_decref(report);
    zb_rehearsal_free(rehearsal);
    return rc;
}

int zb_cmd_verify(zb_context *ctx, int argc, char **argv)
{
    enum { OPT_RESTORE = ZB_OPT_COMMAND_BASE };
    static const struct option local[] = {
        {"restore", no_argument, NULL, OPT_RESTORE},
        {"json", no_argument, NULL, ZB_OPT_JSON},
        ZB_REHEARSAL_LONG_OPTIONS,
        {"help", no_argument, NULL, ZB_OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    struct option options[64];
    if (zb_settings_options(options, ZB_ARRAY_LEN(options), "verify", local) < 0)
        return zb_error_code();
    zb_verify_request req;
    memset(&req, 0, sizeof(req));
    zb_rehearse_options *ro = &req.ro;
    int opt, rehearsal_options = 0, rc;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case ZB_SETTING_OPT(ZB_SET_KEY_FILE): ro->keys.key_file = optarg; break;
        case ZB_SETTING_OPT(ZB_SET_PASSPHRASE_FILE): ro->keys.passphrase_file = optarg; break;
        case OPT_RESTORE: req.by_restore = 1; break;
        case ZB_OPT_JSON: req.as_json = 1; break;
        case ZB_OPT_HELP: fputs(help, stdout); return 0;
        default:
            if ((rc = zb_cli_read_keys_option(&ro->keys, opt, optarg)) != 0) {
                if (rc < 0)
                    return rc;
                break;
            }
            if ((rc = zb_cli_rehearsal_option(ro, opt, optarg)) < 0)
                return rc;
            if (rc == 0)
                return zb_cli_bad_option("verify", argv);
            rehearsal_options = 1;
        }
    }
    if (optind != argc - 1)
        return zb_cli_usage_error("verify", "give exactly one ARCHIVE");
    if (!req.by_restore && (rehearsal_options || req.as_json))
        return zb_cli_usage_error("verify", "--json, --pg-target, --docker-host, --keep and the like need --restore");
    ro->archive = zb_context_archive(ctx, argv[optind]);
    return zb_verify_run(ctx, &req);
}

int zb_verify_run(zb_context *ctx, zb_verify_request *req)
{
    int rc = zb_cli_read_keys_configured(ctx, &req->ro.keys);
    if (rc < 0)
        return rc;
    if (req->by_restore)
        return verify_by_restore(ctx, &req->ro, req->as_json);
    const char *path = req->ro.archive;
    double started = zb_time_monotonic();
    struct stat st;
    zb_archive_reader *r = NULL;
    uint64_t entries = 0;
    zb_progress_begin("verify", stat(path, &st) == 0 ? (uint64_t)st.st_size : 0);
    rc = zb_archive_reader_open(&r, path, &req->ro.keys);
    if (rc == 0)
        rc = zb_archive_reader_read_all(r, &entries);
    zb_progress_end();
    if (rc == 0) {
        char size[32], took[32];
        zb_format_bytes(size, sizeof(size), zb_archive_reader_bytes_in(r));
        zb_format_duration(took, sizeof(took), zb_time_monotonic() - started);
        zb_log_detail("verified in %s", took);
        zb_context_print(ctx, "verified %s (%llu entries, %s)\n", path, (unsigned long long)entries, size);
    } else {
        zb_error_context("verify failed");
    }
    zb_archive_reader_free(r);
    return rc;
}
