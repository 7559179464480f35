#include "zakpos_backup/command/show.h"
#include "zakpos_backup/archive/reader.h"
#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/config/settings.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/progress.h"
#include "zakpos_backup/common/timeutil.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char help[] =
    "usage: zakpos-backup show [--key FILE | --passphrase-file FILE] [--entries] [--json] ARCHIVE\n"
    "\n"
    "Shows the archive's plain header (format, protection, the keys and\n"
    "passphrase slots that open it) without any key. With the key (or for an\n"
    "unencrypted archive) it also reads the archive, verifying it on the way,\n"
    "and shows the manifest: when and where it was made, every source with its\n"
    "entry count and size, and with --entries every entry.\n"
    "\n"
    "  --key FILE / --passphrase-file FILE   as for verify\n" ZB_READ_KEYS_HELP
    "  --entries                             list every entry (type, size, path)\n"
    "  --json                                print one JSON document\n";

static void print_header(json_t *h)
{
    printf("archive:     %s\n", json_string_value(json_object_get(h, "archive")));
    printf("format:      %lld\n", (long long)json_integer_value(json_object_get(h, "format_version")));
    printf("protection:  %s\n", json_string_value(json_object_get(h, "protection")));
    char size[32];
    zb_format_bytes(size, sizeof(size), (uint64_t)json_integer_value(json_object_get(h, "size")));
    printf("size:        %s\n", size);
    size_t i;
    json_t *slot;
    json_array_foreach (json_object_get(h, "key_slots"), i, slot) {
        if (strcmp(json_string_value(json_object_get(slot, "type")), "recipient") == 0)
            printf("opens with:  key %s\n", json_string_value(json_object_get(slot, "key")));
        else
            printf("opens with:  passphrase (argon2id, %lld passes, %lld MiB)\n",
                   (long long)json_integer_value(json_object_get(slot, "opslimit")),
                   (long long)(json_integer_value(json_object_get(slot, "memlimit")) >> 20));
    }
    /* As the header claims: only a read with the key checks it. */
    const char *signer = json_string_value(json_object_get(h, "signed_by"));
    if (signer)
        printf("signed by:   %s (claimed; checked when read with a key)\n", signer);
}

/* A database source says which server it came from: a restore needs a
 * server at least as new, and an operator picks one by this line. */
static void print_source_meta(const json_t *meta)
{
    const char *version = json_string_value(json_object_get(meta, "server_version_text"));
    const char *database = json_string_value(json_object_get(meta, "database"));
    if (!version || !database)
        return;
    const char *encoding = json_string_value(json_object_get(meta, "encoding"));
    printf("             PostgreSQL %s, database %s, encoding %s\n", version, database,
           encoding ? encoding : "unknown");
}

static int print_entry(json_t *e, void *payload)
{
    (void)payload;
    const char *path = json_string_value(json_object_get(e, "path"));
    printf("  %-8s %12lld  %s\n", json_string_value(json_object_get(e, "type")),
           (long long)json_integer_value(json_object_get(e, "size")),
           path ? path : json_string_value(json_object_get(e, "path_hex")));
    return 0;
}

/* Entries come from what the reader recorded while verifying, streamed, so
 * a manifest of any size lists in constant memory. */
static int print_manifest(zb_archive_reader *r, json_t *m, int entries)
{
    printf("created:     %s\n", json_string_value(json_object_get(m, "created")));
    printf("host:        %s\n", json_string_value(json_object_get(m, "host")));
    printf("tool:        %s\n", json_string_value(json_object_get(m, "tool")));
    size_t i;
    json_t *s;
    int rc = 0;
    json_array_foreach (json_object_get(m, "sources"), i, s) {
        char size[32];
        zb_format_bytes(size, sizeof(size), (uint64_t)json_integer_value(json_object_get(s, "bytes")));
        printf("source:      %s %s (%lld entries, %s)\n", json_string_value(json_object_get(s, "kind")),
               json_string_value(json_object_get(s, "name")),
               (long long)json_integer_value(json_object_get(s, "entry_count")), size);
        print_source_meta(json_object_get(s, "meta"));
        if (entries && rc == 0)
            rc = zb_archive_reader_each_entry(r, json_string_value(json_object_get(s, "kind")) ?: "",
                                              json_string_value(json_object_get(s, "name")) ?: "", print_entry, NULL);
    }
    return rc;
}

int zb_cmd_show(zb_context *ctx, int argc, char **argv)
{
    static const struct option local[] = {
        {"entries", no_argument, NULL, 'e'},
        {"json", no_argument, NULL, ZB_OPT_JSON},
        {"help", no_argument, NULL, ZB_OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    struct option options[64];
    if (zb_settings_options(options, ZB_ARRAY_LEN(options), "show", local) < 0)
        return zb_error_code();
    zb_show_request req = {0};
    int opt, taken;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case ZB_SETTING_OPT(ZB_SET_KEY_FILE): req.keys.key_file = optarg; break;
        case ZB_SETTING_OPT(ZB_SET_PASSPHRASE_FILE): req.keys.passphrase_file = optarg; break;
        case 'e': req.entries = 1; break;
        case ZB_OPT_JSON: req.as_json = 1; break;
        case ZB_OPT_HELP: fputs(help, stdout); return 0;
        default:
            if ((taken = zb_cli_read_keys_option(&req.keys, opt, optarg)) < 0)
                return taken;
            if (taken == 0)
                return zb_cli_bad_option("show", argv);
        }
    }
    if (optind != argc - 1)
        return zb_cli_usage_error("show", "give exactly one ARCHIVE");
    req.archive = zb_context_archive(ctx, argv[optind]);
    return zb_show_run(ctx, &req);
}

int zb_show_run(zb_context *ctx, zb_show_request *req)
{
    const char *path = req->archive;
    zb_read_keys keys = req->keys;
    int entries = req->entries, as_json = req->as_json;
    int rc = zb_cli_read_keys_configured(ctx, &keys);
    if (rc < 0)
        return rc;
    json_t *header = NULL;
    zb_archive_reader *r = NULL;
    rc = zb_archive_describe_header(&header, path);
    if (rc < 0)
        return rc;
    int encrypted = strcmp(json_string_value(json_object_get(header, "protection")), "none") != 0;
    int can_read = !encrypted || keys.key_file || keys.passphrase_file;
    json_t *manifest = NULL;
    if (can_read) {
        zb_progress_begin("show", (uint64_t)json_integer_value(json_object_get(header, "size")));
        rc = zb_archive_reader_open(&r, path, &keys);
        if (rc == 0 && entries && as_json)
            zb_archive_reader_keep_entries(r); /* one JSON document holds them all */
        if (rc == 0)
            rc = zb_archive_reader_read_all(r, NULL);
        zb_progress_end();
        if (rc == 0)
            manifest = zb_archive_reader_manifest(r);
    }
    if (rc == 0 && as_json) {
        json_t *doc = json_pack("{s:O}", "header", header);
        if (manifest) {
            json_t *m = json_deep_copy(manifest);
            size_t i;
            json_t *s;
            if (!entries)
                json_array_foreach (json_object_get(m, "sources"), i, s)
                    json_object_del(s, "entries");
            json_object_set_new(doc, "manifest", m);
        }
        char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (text)
            zb_context_print(ctx, "%s\n", text);
        free(text);
        json_decref(doc);
    } else if (rc == 0) {
        print_header(header);
        if (manifest)
            rc = print_manifest(r, manifest, entries);
        else
            printf("contents:    encrypted; give --key or --passphrase-file to see them\n");
    }
    json_decref(header);
    zb_archive_reader_free(r);
    return rc;
}
