#include "zakpos_backup/repo/index.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/json.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define INDEX_LOCK_NAME      ".zakpos-backup-index.lock"
#define INDEX_FORMAT         1
#define INDEX_MAX_BYTES      ZB_JSON_MAX_TEXT
#define RECORDED_DIFFERENCES 10

static int index_path(zb_buf *out, const char *repo, const char *name)
{
    return zb_buf_printf(out, "%s/%s", repo, name);
}

int zb_repo_index_load(json_t **out, const char *repo)
{
    zb_buf path = ZB_BUF_INIT;
    char *text = NULL;
    int rc = index_path(&path, repo, ZB_REPO_INDEX_NAME);
    if (rc == 0)
        rc = zb_fs_read_text(&text, path.data, INDEX_MAX_BYTES);
    *out = NULL;
    if (rc == 0) {
        /* repository writers are not trusted either: the same limits as an archive's JSON */
        zb_json_parse_limited(out, text, strlen(text), "the repository index");
        if (!*out || !json_is_object(json_object_get(*out, "archives"))) {
            /* an index is rebuilt from what happens next, never trusted blindly */
            json_decref(*out);
            *out = NULL;
        }
    }
    zb_error_clear();
    if (!*out)
        *out = json_pack("{s:i, s:{}}", "format", INDEX_FORMAT, "archives");
    free(text);
    zb_buf_free(&path);
    return *out ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
}

json_t *zb_repo_index_archive(json_t *index, const char *archive_name)
{
    return json_object_get(json_object_get(index, "archives"), archive_name);
}

typedef int (*index_change_fn)(json_t *archives, void *payload);

/* Read, change, write atomically, under the index's own lock. */
static int change_index(const char *repo, index_change_fn change, void *payload)
{
    zb_buf lock_path = ZB_BUF_INIT, path = ZB_BUF_INIT;
    json_t *index = NULL;
    int fd = -1;
    int rc = index_path(&lock_path, repo, INDEX_LOCK_NAME);
    if (rc == 0)
        rc = index_path(&path, repo, ZB_REPO_INDEX_NAME);
    if (rc == 0 && (fd = open(lock_path.data, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
        rc = zb_error_errno(ZB_EIO, errno, "cannot open %s", lock_path.data);
    if (rc == 0 && flock(fd, LOCK_EX) < 0)
        rc = zb_error_errno(ZB_EIO, errno, "cannot lock %s", lock_path.data);
    if (rc == 0)
        rc = zb_repo_index_load(&index, repo);
    if (rc == 0)
        rc = change(json_object_get(index, "archives"), payload);
    if (rc == 0)
        rc = zb_json_write_file(path.data, index, JSON_INDENT(1) | JSON_SORT_KEYS, 0644);
    if (rc < 0)
        zb_error_context("cannot update the repository index");
    json_decref(index);
    if (fd >= 0)
        close(fd);
    zb_buf_free(&lock_path);
    zb_buf_free(&path);
    return rc;
}

typedef struct set_change {
    const char *name;
    json_t *fields;
} set_change;

static int apply_set(json_t *archives, void *payload)
{
    set_change *c = payload;
    json_t *record = json_object_get(archives, c->name);
    if (!record)
        json_object_set_new(archives, c->name, record = json_object());
    const char *key;
    json_t *value;
    json_object_foreach (c->fields, key, value) {
        /* a failed verification does not erase that the archive once passed */
        const char *last_pass = json_string_value(json_object_get(json_object_get(record, key), "last_pass"));
        if (last_pass && json_is_object(value) && !json_object_get(value, "last_pass"))
            json_object_set_new(value, "last_pass", json_string(last_pass));
        json_object_set(record, key, value);
    }
    return 0;
}

int zb_repo_index_set(const char *repo, const char *archive_name, json_t *fields)
{
    set_change c = {archive_name, fields};
    int rc = fields ? change_index(repo, apply_set, &c) : zb_error_set(ZB_ENOMEM, "out of memory");
    json_decref(fields);
    return rc;
}

int zb_repo_index_describe(const char *repo, const char *archive_name, json_t *sources, uint64_t bytes)
{
    return zb_repo_index_set(
        repo, archive_name,
        json_pack("{s:o, s:I}", "sources", sources ? sources : json_array(), "bytes", (json_int_t)bytes));
}

static int apply_forget(json_t *archives, void *payload)
{
    const char *repo = payload;
    const char *name;
    json_t *record;
    void *tmp;
    json_object_foreach_safe (archives, tmp, name, record) {
        zb_buf path = ZB_BUF_INIT;
        struct stat st;
        if (index_path(&path, repo, name) == 0 && stat(path.data, &st) < 0 && errno == ENOENT)
            json_object_del(archives, name);
        zb_buf_free(&path);
    }
    return 0;
}

int zb_repo_index_forget_missing(const char *repo) { return change_index(repo, apply_forget, (void *)repo); }

int zb_repo_index_record_verification(const char *repo, const char *archive_name, json_t *report, const char *how)
{
    char now[32];
    zb_time_format_iso(now, sizeof(now), time(NULL));
    const char *result = json_string_value(json_object_get(report, "result"));
    int passed = result && strcmp(result, "pass") == 0;
    size_t differences = 0, i, j;
    json_t *part, *d, *what = json_array();
    /* what differed: the first few, named by part, enough to act on */
    json_array_foreach (json_object_get(report, "parts"), i, part) {
        differences += (size_t)json_integer_value(json_object_get(part, "difference_count"));
        json_array_foreach (json_object_get(part, "differences"), j, d) {
            if (json_array_size(what) >= RECORDED_DIFFERENCES)
                break;
            zb_buf line = ZB_BUF_INIT;
            if (zb_buf_printf(&line, "%s %s: %s", json_string_value(json_object_get(part, "kind")),
                              json_string_value(json_object_get(part, "name")), json_string_value(d)) == 0)
                json_array_append_new(what, json_string(line.data));
            zb_buf_free(&line);
        }
    }
    int incomplete = result && strcmp(result, "incomplete") == 0;
    json_t *record = json_pack("{s:s, s:s, s:s, s:O?, s:O?, s:I, s:o, s:O?}", "at", now, "result",
                               passed       ? "pass"
                               : incomplete ? "incomplete"
                                            : "fail",
                               "how", how, "seconds", json_object_get(json_object_get(report, "seconds"), "total"),
                               "phases", json_object_get(report, "seconds"), "differences", (json_int_t)differences,
                               "what_differed", what, "error", json_object_get(report, "error"));
    if (record && passed)
        json_object_set_new(record, "last_pass", json_string(now));
    return zb_repo_index_set(repo, archive_name, record ? json_pack("{s:o}", "verified", record) : NULL);
}

const char *zb_repo_index_last_pass(json_t *index, const char *archive_name)
{
    return json_string_value(
        json_object_get(json_object_get(zb_repo_index_archive(index, archive_name), "verified"), "last_pass"));
}

const zb_repo_archive *zb_repo_index_newest_verified(json_t *index, const zb_repo_list *list)
{
    for (size_t i = list->count; i-- > 0;)
        if (zb_repo_index_last_pass(index, list->items[i].name))
            return &list->items[i];
    return NULL;
}

int zb_repo_split_path(char **repo, char **name, const char *archive_path)
{
    const char *slash = strrchr(archive_path, '/');
    *repo = slash ? (slash == archive_path ? zb_strdup("/") : strndup(archive_path, (size_t)(slash - archive_path)))
                  : zb_strdup(".");
    *name = zb_strdup(slash ? slash + 1 : archive_path);
    if (!*repo || !*name) {
        free(*repo);
        free(*name);
        *repo = *name = NULL;
        return zb_error_set(ZB_ENOMEM, "out of memory");
    }
    return 0;
}
