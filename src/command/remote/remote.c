#include "zakpos_backup/command/remote.h"
#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/remote/copy.h"
#include "zakpos_backup/remote/sync.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: zakpos-backup remote list NAME [--json]\n"
    "       zakpos-backup remote push NAME FILE...\n"
    "       zakpos-backup remote delete NAME ARCHIVE...\n"
    "       zakpos-backup remote prune NAME [--dry-run]\n"
    "       zakpos-backup remote sync NAME\n"
    "\n"
    "Works on a configured remote ([remote NAME] in the configuration: s3, sftp\n"
    "or webdav; see docs/CONFIG.md). 'backup' copies each new archive to every\n"
    "configured remote by itself; these are for looking and for repairs.\n"
    "\n"
    "  list     the finished archives on the remote, oldest first: name, size,\n"
    "           time; then the unfinished uploads killed runs left (S3 multipart\n"
    "           uploads, SFTP/WebDAV hidden .NAME.partial files), with when they began. --json: {\"archives\": [...],\n"
    "           \"unfinished\": [...]}\n"
    "  push     copies archive files there (e.g. after a failed copy)\n"
    "  delete   removes archives from the remote\n"
    "  prune    applies the remote's retention (its keep_* keys, else the\n"
    "           repository's); the newest archive always stays. --dry-run\n"
    "           shows what would go.\n"
    "  sync     what every backup run does after its copy: sends the archives of\n"
    "           the repository that the remote's retention keeps but the remote\n"
    "           lacks, aborts unfinished uploads older than unfinished_max_age\n"
    "           (default 1d; a younger one may be another host's, still going),\n"
    "           then applies the retention (unless prune = no)\n"
    "\n"
    "'zakpos-backup fetch --remote NAME ARCHIVE' downloads one; verify, restore\n"
    "and show read remote:NAME/ARCHIVE directly.\n";

static json_t *unfinished_json(const zb_remote_unfinished_list *u)
{
    json_t *all = json_array();
    for (size_t i = 0; i < u->count; i++) {
        char when[32] = "";
        if (u->items[i].started)
            zb_time_format_iso(when, sizeof(when), u->items[i].started);
        json_array_append_new(all, json_pack("{s:s, s:s?, s:s?}", "name", u->items[i].name, "upload_id",
                                             u->items[i].upload_id, "started", when[0] ? when : NULL));
    }
    return all;
}

static int list(zb_remote *r, int as_json)
{
    zb_remote_list l;
    zb_remote_unfinished_list u;
    int rc = zb_remote_list_archives(&l, r);
    if (rc < 0)
        return rc;
    if ((rc = zb_remote_list_unfinished(&u, r)) < 0) {
        zb_remote_list_free(&l);
        return rc;
    }
    json_t *doc = as_json ? json_array() : NULL;
    for (size_t i = 0; i < l.count; i++) {
        char when[32], size[32] = "?";
        zb_time_format_iso(when, sizeof(when), l.items[i].created);
        if (l.items[i].size >= 0)
            zb_format_bytes(size, sizeof(size), (uint64_t)l.items[i].size);
        if (doc)
            json_array_append_new(doc, json_pack("{s:s, s:s, s:I}", "name", l.items[i].name, "created", when, "size",
                                                 (json_int_t)l.items[i].size));
        else
            printf("%s  %10s  %s\n", l.items[i].name, size, when);
    }
    for (size_t i = 0; !doc && i < u.count; i++) {
        char when[32] = "?";
        if (u.items[i].started)
            zb_time_format_iso(when, sizeof(when), u.items[i].started);
        printf("unfinished upload of %s, begun %s\n", u.items[i].name, when);
    }
    if (doc) {
        json_t *both = json_pack("{s:o, s:o}", "archives", doc, "unfinished", unfinished_json(&u));
        char *text = json_dumps(both, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (text)
            printf("%s\n", text);
        free(text);
        json_decref(both);
    }
    zb_remote_unfinished_list_free(&u);
    zb_remote_list_free(&l);
    return 0;
}

/* `remote sync NAME`: what a backup run does after copying its archive. */
static int sync_remote(zb_remote *r, const zb_config *config)
{
    const zb_config_remote *conf = zb_remote_config(r);
    const zb_retention_policy *policy = zb_config_remote_policy(conf, &config->keep);
    long long pending = 0;
    int rc = zb_remote_sync_missing(r, policy, config->repo, stdout, &pending);
    if (rc == 0)
        rc = zb_remote_clean_unfinished(r, stdout);
    if (rc == 0 && conf->prune)
        rc = zb_remote_prune(r, policy, 0, stdout);
    return rc;
}

int zb_cmd_remote(zb_context *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"json", no_argument, NULL, ZB_OPT_JSON},
        {"dry-run", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, ZB_OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    int as_json = 0, dry_run = 0, opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case ZB_OPT_JSON: as_json = 1; break;
        case 'n': dry_run = 1; break;
        case ZB_OPT_HELP: fputs(help, stdout); return 0;
        default: return zb_cli_bad_option("remote", argv);
        }
    }
    if (argc - optind < 2)
        return zb_cli_usage_error("remote", "give an action (list, push, delete, prune, sync) and a remote NAME");
    const char *action = argv[optind], *name = argv[optind + 1];
    char **args = argv + optind + 2;
    int nargs = argc - optind - 2;
    int is_list = strcmp(action, "list") == 0, is_prune = strcmp(action, "prune") == 0;
    int is_push = strcmp(action, "push") == 0, is_delete = strcmp(action, "delete") == 0;
    int is_sync = strcmp(action, "sync") == 0;
    if (!is_list && !is_prune && !is_push && !is_delete && !is_sync)
        return zb_cli_usage_error("remote", "unknown action '%s' (list, push, delete, prune, sync)", action);
    if ((is_list || is_prune || is_sync) && nargs > 0)
        return zb_cli_usage_error("remote", "unexpected argument '%s'", args[0]);
    if ((is_push || is_delete) && nargs == 0)
        return zb_cli_usage_error("remote", "%s needs at least one %s", action, is_push ? "FILE" : "ARCHIVE");
    if ((as_json && !is_list) || (dry_run && !is_prune))
        return zb_cli_usage_error("remote", "%s is for %s", as_json ? "--json" : "--dry-run", as_json ? "list" : "prune");
    const zb_config *config = NULL;
    zb_remote *r = NULL;
    int rc = zb_context_config(&config, ctx);
    if (rc == 0)
        rc = zb_remote_open_configured(&r, config, name);
    if (rc == 0 && is_list)
        rc = list(r, as_json);
    for (int i = 0; rc == 0 && is_push && i < nargs; i++)
        rc = zb_remote_upload(r, args[i]);
    for (int i = 0; rc == 0 && is_delete && i < nargs; i++)
        rc = zb_remote_delete(r, args[i]);
    if (rc == 0 && is_sync)
        rc = sync_remote(r, config);
    if (rc == 0 && is_prune) {
        const zb_config_remote *conf = NULL;
        for (size_t i = 0; i < config->remote_count; i++)
            if (strcmp(config->remotes[i].name, name) == 0)
                conf = &config->remotes[i];
        rc = zb_remote_prune(r, zb_config_remote_policy(conf, &config->keep), dry_run, stdout);
    }
    zb_remote_close(r);
    return rc;
}
