#include "zakpos_backup/command/list.h"
#include "zakpos_backup/archive/reader.h"
#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/config/settings.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/repo/index.h"
#include "zakpos_backup/repo/repo.h"
#include "zakpos_backup/source/pg/pitr/window.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: zakpos-backup list --repo DIR [--json]\n"
    "\n"
    "Lists the archives in the repository folder, oldest first: name, creation\n"
    "time (UTC), size, protection, when the archive was last proven restorable\n"
    "(verify --restore or drill; 'never', or 'FAILED' when the last try found\n"
    "differences) and its sources (from the repository index). Needs no key.\n"
    "Unfinished archives (hidden '.partial' files of a run in progress or\n"
    "interrupted) are never listed. When the repository holds change-stream\n"
    "chains (`follow`), a second table shows each chain's recoverable window:\n"
    "its base archive, from the base snapshot's time to the last segment's last\n"
    "commit, and its segment count (with --json: \"window\" on the base archive).\n"
    "\n"
    "  --json    one JSON array on stdout instead of a table\n"
    "  --rebuild-index (--key FILE | --passphrase-file FILE)\n"
    "            first read (and so verify) every archive the index does not\n"
    "            describe and record its sources and size: the index is rebuilt\n"
    "            from the archives alone (when it was lost or the repository\n"
    "            was copied); restore proofs are history and are not rebuilt\n"
    "  --trust FILE, --allow-untrusted, --allow-unencrypted   with --rebuild-index,\n"
    "            as for verify\n";

/* The last restore proof: its time, FAILED when the newest try failed. */
static const char *verified_text(json_t *verified)
{
    const char *result = json_string_value(json_object_get(verified, "result"));
    if (result && strcmp(result, "fail") == 0)
        return "FAILED";
    if (result && strcmp(result, "incomplete") == 0)
        return "INCOMPLETE";
    const char *last_pass = json_string_value(json_object_get(verified, "last_pass"));
    return last_pass ? last_pass : "never";
}

static const char *sources_text(json_t *sources)
{
    static char text[512];
    size_t i, used = 0;
    json_t *s;
    text[0] = '\0';
    json_array_foreach (sources, i, s) {
        int n = snprintf(text + used, sizeof(text) - used, "%s%s:%s", used ? " " : "",
                         json_string_value(json_object_get(s, "kind")), json_string_value(json_object_get(s, "name")));
        if (n < 0 || (size_t)n >= sizeof(text) - used)
            break;
        used += (size_t)n;
    }
    return used ? text : "-";
}

/* Sources of an archive the index does not know, read from its manifest. */
static int describe_from_archive(const char *repo, const zb_repo_archive *a, const zb_read_keys *keys)
{
    zb_archive_reader *r = NULL;
    int rc = zb_archive_reader_open(&r, a->path, keys);
    if (rc == 0)
        rc = zb_archive_reader_read_all(r, NULL);
    json_t *sources = rc == 0 ? json_array() : NULL;
    size_t i;
    json_t *s;
    if (rc == 0)
        json_array_foreach (json_object_get(zb_archive_reader_manifest(r), "sources"), i, s)
            json_array_append_new(sources,
                                  json_pack("{s:O, s:O, s:O, s:O, s:O*}", "kind", json_object_get(s, "kind"), "name",
                                            json_object_get(s, "name"), "entries", json_object_get(s, "entry_count"),
                                            "bytes", json_object_get(s, "bytes"), "position",
                                            json_object_get(json_object_get(s, "meta"), "position")));
    uint64_t bytes = r ? zb_archive_reader_bytes_in(r) : 0;
    zb_archive_reader_free(r);
    if (rc == 0)
        rc = zb_repo_index_describe(repo, a->name, sources, bytes);
    if (rc < 0)
        zb_error_context("cannot describe %s", a->path);
    return rc;
}

static int rebuild_index(const char *repo, const zb_repo_list *list, const zb_read_keys *keys)
{
    json_t *index = NULL;
    int rc = zb_repo_index_load(&index, repo);
    for (size_t i = 0; rc == 0 && i < list->count; i++) {
        if (json_object_get(zb_repo_index_archive(index, list->items[i].name), "sources"))
            continue;
        zb_log_info("reading %s to record its sources", list->items[i].name);
        rc = describe_from_archive(repo, &list->items[i], keys);
    }
    json_decref(index);
    return rc < 0 ? rc : zb_repo_index_forget_missing(repo);
}

/* The table's columns; SIZE is right-aligned, the last one is not padded. */
enum { COL_ARCHIVE, COL_CREATED, COL_SIZE, COL_PROTECTION, COL_VERIFIED, COL_SOURCES, COLUMNS };
static const char *const archive_heads[COLUMNS] = {"ARCHIVE", "CREATED", "SIZE", "PROTECTION", "VERIFIED", "SOURCES"};
/* The change-stream chains' windows: from the base snapshot to the last segment's last commit. */
enum { CHAIN_COLUMNS = 5 };
static const char *const chain_heads[CHAIN_COLUMNS] = {"CHAIN", "BASE", "FROM", "UNTIL", "SEGMENTS"};

/* Each column as wide as its widest cell, so a long protection name or
 * archive name never pushes the columns after it out of line; column
 * `right` (-1: none) is right-aligned. */
static void print_table(json_t *rows, const char *const *heads, int columns, int right)
{
    int width[(int)COLUMNS > (int)CHAIN_COLUMNS ? (int)COLUMNS : (int)CHAIN_COLUMNS];
    for (int c = 0; c < columns; c++)
        width[c] = (int)strlen(heads[c]);
    size_t r;
    json_t *row;
    json_array_foreach (rows, r, row) {
        for (int c = 0; c < columns; c++) {
            int w = (int)strlen(json_string_value(json_array_get(row, (size_t)c)));
            width[c] = w > width[c] ? w : width[c];
        }
    }
    for (size_t i = 0; i <= json_array_size(rows); i++) {
        json_t *cells = i ? json_array_get(rows, i - 1) : NULL;
        for (int c = 0; c < columns; c++) {
            const char *text = cells ? json_string_value(json_array_get(cells, (size_t)c)) : heads[c];
            if (c == columns - 1)
                printf("%s\n", text);
            else
                printf(c == right ? "%*s  " : "%-*s  ", width[c], text);
        }
    }
}

/* Each chain's window: a row of the text table, and "window" on its base
 * archive's JSON object (the document stays one array of archives). */
static int chain_windows(json_t *chain_rows, json_t *archives, const char *repo)
{
    zb_pitr_chain_info *chains = NULL;
    size_t count = 0;
    int rc = zb_pitr_chains_scan(&chains, &count, repo);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        const zb_pitr_chain_info *c = &chains[i];
        char from[32], segments[32];
        zb_time_format_iso(from, sizeof(from), c->from);
        snprintf(segments, sizeof(segments), "%zu", c->segments);
        const char *until = c->last_commit ? c->last_commit : from;
        json_array_append_new(chain_rows,
                              json_pack("[s, s, s, s, s]", c->name, c->base ? c->base : "-", from, until, segments));
        size_t k;
        json_t *a;
        json_array_foreach (archives, k, a) {
            if (c->base && strcmp(json_string_value(json_object_get(a, "name")), c->base) == 0)
                json_object_set_new(a, "window",
                                    json_pack("{s:s, s:s, s:s, s:I, s:b}", "chain", c->name, "from", from, "until",
                                              until, "segments", (json_int_t)c->segments, "following", c->active));
        }
    }
    zb_pitr_chains_free(chains, count);
    return rc;
}

int zb_cmd_list(zb_context *ctx, int argc, char **argv)
{
    static const struct option local[] = {
        {"json", no_argument, NULL, ZB_OPT_JSON},
        {"rebuild-index", no_argument, NULL, ZB_OPT_COMMAND_BASE},
        {"help", no_argument, NULL, ZB_OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    struct option options[64];
    if (zb_settings_options(options, ZB_ARRAY_LEN(options), "list", local) < 0)
        return zb_error_code();
    zb_list_request req = {0};
    int opt, taken;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case ZB_SETTING_OPT(ZB_SET_REPO): req.repo = optarg; break;
        case ZB_OPT_JSON: req.as_json = 1; break;
        case ZB_OPT_COMMAND_BASE: req.rebuild_index = 1; break;
        case ZB_SETTING_OPT(ZB_SET_KEY_FILE): req.keys.key_file = optarg; break;
        case ZB_SETTING_OPT(ZB_SET_PASSPHRASE_FILE): req.keys.passphrase_file = optarg; break;
        case ZB_OPT_HELP: fputs(help, stdout); return 0;
        default:
            if ((taken = zb_cli_read_keys_option(&req.keys, opt, optarg)) < 0)
                return taken;
            if (taken == 0)
                return zb_cli_bad_option("list", argv);
        }
    }
    if (optind < argc)
        return zb_cli_usage_error("list", "unexpected argument '%s'", argv[optind]);
    return zb_list_run(ctx, &req);
}

int zb_list_run(zb_context *ctx, zb_list_request *req)
{
    const char *repo = req->repo;
    zb_read_keys keys = req->keys;
    int as_json = req->as_json, rebuild = req->rebuild_index, taken;
    if (!repo)
        return zb_cli_usage_error("list", "--repo DIR is required");
    if (!rebuild &&
        (keys.key_file || keys.passphrase_file || keys.trust_count || keys.allow_untrusted || keys.allow_unencrypted))
        return zb_cli_usage_error("list", "--key, --passphrase-file, --trust and --allow-* are for --rebuild-index");
    if ((taken = zb_cli_read_keys_configured(ctx, &keys)) < 0)
        return taken;
    zb_repo_list list;
    json_t *index = NULL;
    int rc = zb_repo_scan(&list, repo);
    if (rc == 0 && rebuild)
        rc = rebuild_index(repo, &list, &keys);
    if (rc == 0)
        rc = zb_repo_index_load(&index, repo);
    json_t *all = json_array(), *rows = json_array();
    for (size_t i = 0; rc == 0 && i < list.count; i++) {
        const zb_repo_archive *a = &list.items[i];
        char created[32], size[32];
        json_t *h = NULL;
        zb_time_format_iso(created, sizeof(created), a->created);
        if (zb_archive_describe_header(&h, a->path) < 0) {
            /* One damaged file must not hide the others: show it as such. */
            h = json_pack("{s:s, s:s, s:I}", "archive", a->path, "protection", "unreadable", "size", (json_int_t)0);
        }
        json_object_set_new(h, "name", json_string(a->name));
        json_object_set_new(h, "created", json_string(created));
        json_t *record = zb_repo_index_archive(index, a->name);
        json_t *verified = json_object_get(record, "verified");
        if (verified)
            json_object_set(h, "verified", verified);
        if (json_object_get(record, "sources"))
            json_object_set(h, "sources", json_object_get(record, "sources"));
        zb_format_bytes(size, sizeof(size), (uint64_t)json_integer_value(json_object_get(h, "size")));
        json_array_append_new(rows,
                              json_pack("[s, s, s, s, s, s]", a->name, created, size,
                                        json_string_value(json_object_get(h, "protection")), verified_text(verified),
                                        sources_text(json_object_get(record, "sources"))));
        json_array_append_new(all, h);
    }
    json_t *chain_rows = json_array();
    if (rc == 0)
        rc = chain_windows(chain_rows, all, repo);
    if (rc == 0 && !as_json)
        print_table(rows, archive_heads, COLUMNS, COL_SIZE);
    if (rc == 0 && !as_json && json_array_size(chain_rows)) {
        printf("\n");
        print_table(chain_rows, chain_heads, CHAIN_COLUMNS, -1);
    }
    json_decref(chain_rows);
    if (rc == 0 && as_json) {
        char *text = json_dumps(all, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (text)
            zb_context_print(ctx, "%s\n", text);
        free(text);
    }
    json_decref(all);
    json_decref(rows);
    json_decref(index);
    zb_repo_list_free(&list);
    return rc;
}
