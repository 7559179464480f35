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
    static const char *const actions[] = {[ZB_REMOTE_LIST] = "list",
                                          [ZB_REMOTE_PUSH] = "push",
                                          [ZB_REMOTE_DELETE] = "delete",
                                          [ZB_REMOTE_PRUNE] = "prune",
                                          [ZB_REMOTE_SYNC] = "sync"};
    zb_remote_request req = {0};
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case ZB_OPT_JSON: req.as_json = 1; break;
        case 'n': req.dry_run = 1; break;
        case ZB_OPT_HELP: fputs(help, stdout); return 0;
        default: return zb_cli_bad_option("remote", argv);
        }
    }
    if (argc - optind < 2)
        return zb_cli_usage_error("remote", "give an action (list, push, delete, prune, sync) and a remote NAME");
    const char *action = argv[optind];
    int which = -1;
    for (size_t i = 0; i < ZB_ARRAY_LEN(actions); i++)
        if (strcmp(action, actions[i]) == 0)
            which = (int)i;
    if (which < 0)
        return zb_cli_usage_error("remote", "unknown action '%s' (list, push, delete, prune, sync)", action);
    req.action = (zb_remote_action)which;
    req.name = argv[optind + 1];
    req.args = (const char *const *)argv + optind + 2;
    req.arg_count = (size_t)(argc - optind - 2);
    int takes_args = req.action == ZB_REMOTE_PUSH || req.action == ZB_REMOTE_DELETE;
    if (!takes_args && req.arg_count > 0)
        return zb_cli_usage_error("remote", "unexpected argument '%s'", req.args[0]);
    if (takes_args && req.arg_count == 0)
        return zb_cli_usage_error("remote", "%s needs at least one %s", action,
                                  req.action == ZB_REMOTE_PUSH ? "FILE" : "ARCHIVE");
    if ((req.as_json && req.action != ZB_REMOTE_LIST) || (req.dry_run && req.action != ZB_REMOTE_PRUNE))
        return zb_cli_usage_error("remote", "%s is for %s", req.as_json ? "--json" : "--dry-run",
                                  req.as_json ? "list" : "prune");
    return zb_remote_run(ctx, &req);
}

int zb_remote_run(zb_context *ctx, const zb_remote_request *req)
{
    const zb_config *config = NULL;
    zb_remote *r = NULL;
    int rc = zb_context_config(&config, ctx);
    if (rc == 0)
        rc = zb_remote_open_configured(&r, config, req->name);
    if (rc == 0 && req->action == ZB_REMOTE_LIST)
        rc = list(r, req->as_json);
    for (size_t i = 0; rc == 0 && req->action == ZB_REMOTE_PUSH && i < req->arg_count; i++)
        rc = zb_remote_upload(r, req->args[i]);
    for (size_t i = 0; rc == 0 && req->action == ZB_REMOTE_DELETE && i < req->arg_count; i++)
        rc = zb_remote_delete(r, req->args[i]);
    if (rc == 0 && req->action == ZB_REMOTE_SYNC)
        rc = sync_remote(r, config);
    if (rc == 0 && req->action == ZB_REMOTE_PRUNE) {
        const zb_config_remote *conf = NULL;
        for (size_t i = 0; i < config->remote_count; i++)
            if (strcmp(config->remotes[i].name, req->name) == 0)
                conf = &config->remotes[i];
        rc = zb_remote_prune(r, zb_config_remote_policy(conf, &config->keep), req->dry_run, stdout);
    }
    zb_remote_close(r);
    return rc;
}
