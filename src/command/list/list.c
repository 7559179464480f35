#include "zakpos_backup/command/list.h"
#include "zakpos_backup/archive/header.h"
#include "zakpos_backup/archive/reader.h"
#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/timeutil.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: zakpos-backup list --repo DIR [--json]\n"
    "\n"
    "Lists the archives in the repository folder, oldest first: name, creation\n"
    "time (UTC), size and protection. Needs no key. Unfinished archives (hidden\n"
    "'.partial' files of a run in progress or interrupted) are never listed.\n"
    "\n"
    "  --json    one JSON array on stdout instead of a table\n";

static int is_archive_name(const char *name)
{
    size_t n = strlen(name), ext = strlen(ZB_ARCHIVE_EXTENSION);
    return name[0] != '.' && n > ext && strcmp(name + n - ext, ZB_ARCHIVE_EXTENSION) == 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The archive names in repo, sorted (the UTC stamp in the name sorts by time). */
static int scan_repo(char ***names_out, size_t *count_out, const char *repo)
{
    DIR *d = opendir(repo);
    if (!d)
        return zb_error_errno(errno == ENOENT ? ZB_ENOTFOUND : ZB_EIO, errno, "cannot open repository %s", repo);
    char **names = NULL;
    size_t count = 0, cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (!is_archive_name(e->d_name))
            continue;
        if (count == cap) {
            cap = cap ? cap * 2 : 32;
            char **grown = realloc(names, cap * sizeof(*grown));
            if (!grown) {
                rc = zb_error_set(ZB_ENOMEM, "out of memory");
                break;
            }
            names = grown;
        }
        if (!(names[count] = strdup(e->d_name))) {
            rc = zb_error_set(ZB_ENOMEM, "out of memory");
            break;
        }
        count++;
    }
    closedir(d);
    if (count)
        qsort(names, count, sizeof(*names), compare_names);
    *names_out = names;
    *count_out = count;
    return rc;
}

/* The creation time is the "-YYYYMMDDTHHMMSSZ" part of the name. */
static void created_from_name(char *out, size_t size, const char *name)
{
    const char *p = name;
    snprintf(out, size, "?");
    while ((p = strchr(p, '-')) != NULL) {
        p++;
        char stamp[17];
        time_t t;
        if (strlen(p) >= 16) {
            memcpy(stamp, p, 16);
            stamp[16] = '\0';
            if (zb_time_parse_utc(&t, stamp) == 0) {
                zb_time_format_iso(out, size, t);
                return;
            }
        }
    }
}

int zb_cmd_list(int argc, char **argv)
{
    static const struct option options[] = {
        {"repo", required_argument, NULL, ZB_OPT_REPO},
        {"json", no_argument, NULL, ZB_OPT_JSON},
        {"help", no_argument, NULL, ZB_OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *repo = NULL;
    int as_json = 0, opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case ZB_OPT_REPO: repo = optarg; break;
        case ZB_OPT_JSON: as_json = 1; break;
        case ZB_OPT_HELP: fputs(help, stdout); return 0;
        default: return zb_cli_bad_option("list", argv);
        }
    }
    if (optind < argc)
        return zb_cli_usage_error("list", "unexpected argument '%s'", argv[optind]);
    if (!repo)
        return zb_cli_usage_error("list", "--repo DIR is required");
    char **names = NULL;
    size_t count = 0;
    int rc = scan_repo(&names, &count, repo);
    json_t *all = json_array();
    if (!as_json && rc == 0)
        printf("%-44s %-20s %10s  %s\n", "ARCHIVE", "CREATED", "SIZE", "PROTECTION");
    for (size_t i = 0; rc == 0 && i < count; i++) {
        char path[4096], created[32], size[32];
        snprintf(path, sizeof(path), "%s/%s", repo, names[i]);
        json_t *h = NULL;
        created_from_name(created, sizeof(created), names[i]);
        if (zb_archive_describe_header(&h, path) < 0) {
            /* One damaged file must not hide the others: show it as such. */
            h = json_pack("{s:s, s:s, s:I}", "archive", path, "protection", "unreadable", "size", (json_int_t)0);
        }
        json_object_set_new(h, "name", json_string(names[i]));
        json_object_set_new(h, "created", json_string(created));
        zb_format_bytes(size, sizeof(size), (uint64_t)json_integer_value(json_object_get(h, "size")));
        if (!as_json)
            printf("%-44s %-20s %10s  %s\n", names[i], created, size,
                   json_string_value(json_object_get(h, "protection")));
        json_array_append_new(all, h);
    }
    if (rc == 0 && as_json) {
        char *text = json_dumps(all, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (text)
            printf("%s\n", text);
        free(text);
    }
    json_decref(all);
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    return rc;
}
