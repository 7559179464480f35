#include "zakpos_backup/source/pg/pitr/window.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/json.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/source/pg/pitr/chain.h"
#include "zakpos_backup/source/pg/pitr/decode.h"
#include "zakpos_backup/source/pg/pitr/segment.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int zb_pitr_window_write(const char *chain_dir, const char *chain, const char *base, int64_t last_commit,
                         unsigned int segments)
{
    char last[40];
    zb_pgo_time_format(last, sizeof(last), last_commit);
    zb_buf path = ZB_BUF_INIT;
    json_t *w = json_pack("{s:s, s:s?, s:s, s:i}", "chain", chain, "base", base, "last_commit", last, "segments",
                          (int)segments);
    int rc = zb_buf_printf(&path, "%s/%s", chain_dir, ZB_PITR_WINDOW_FILE);
    if (rc == 0)
        rc = zb_json_write_file(path.data, w, JSON_INDENT(1) | JSON_SORT_KEYS, 0600);
    json_decref(w);
    zb_buf_free(&path);
    return rc;
}

/* "2026-12-07T13:00:05.123456Z" -> Unix seconds with the fraction. */
static double commit_seconds(const char *text, time_t fallback)
{
    char whole[32];
    size_t n = strcspn(text, ".Z");
    time_t t;
    if (n + 2 > sizeof(whole))
        return (double)fallback;
    memcpy(whole, text, n);
    whole[n] = 'Z', whole[n + 1] = '\0';
    if (zb_time_parse_utc(&t, whole) < 0)
        return (double)fallback;
    return (double)t + (text[n] == '.' ? strtod(text + n, NULL) : 0);
}

/* What the segments and window.json of one chain folder say. */
static int chain_read(zb_pitr_chain_info *c, const char *repo)
{
    zb_buf dir = ZB_BUF_INIT, window = ZB_BUF_INIT;
    char **paths = NULL;
    zb_pitr_segment_name *names = NULL;
    int rc = zb_buf_printf(&dir, "%s/%s/%s", repo, ZB_PITR_DIR, c->name);
    if (rc == 0)
        rc = zb_pitr_segment_list(&paths, &names, &c->segments, dir.data);
    zb_pitr_segment_list_free(paths, names, c->segments);
    if (rc == 0)
        rc = zb_buf_printf(&window, "%s/%s", dir.data, ZB_PITR_WINDOW_FILE);
    json_t *w = rc == 0 ? json_load_file(window.data, 0, NULL) : NULL;
    const char *base = json_string_value(json_object_get(w, "base"));
    const char *last = json_string_value(json_object_get(w, "last_commit"));
    if (base && !(c->base = zb_strdup(base)))
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0 && last && c->segments > 0 && !(c->last_commit = zb_strdup(last)))
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
    c->until = c->last_commit ? commit_seconds(c->last_commit, c->from) : (double)c->from;
    /* cut by prune: the window starts at the oldest kept snapshot, which
     * replay starts from instead of the base */
    json_t *cut = NULL;
    if (rc == 0)
        rc = zb_pitr_chain_cut_read(&cut, dir.data);
    const char *cut_base = json_string_value(json_object_get(cut, "base"));
    if (cut_base) {
        free(c->base);
        c->from = (time_t)json_integer_value(json_object_get(cut, "from"));
        if (!(c->base = zb_strdup(cut_base)))
            rc = zb_error_set(ZB_ENOMEM, "out of memory");
    }
    json_decref(cut);
    json_decref(w);
    zb_buf_free(&dir);
    zb_buf_free(&window);
    return rc;
}

/* The chains the follower state files (pitr/<slot>.json) name. */
static int mark_active(zb_pitr_chain_info *chains, size_t count, const char *pitr_dir)
{
    DIR *d = opendir(pitr_dir);
    if (!d)
        return 0;
    struct dirent *e;
    zb_buf path = ZB_BUF_INIT;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        zb_buf_reset(&path);
        if (zb_buf_printf(&path, "%s/%s", pitr_dir, e->d_name) < 0)
            break;
        json_t *state = json_load_file(path.data, 0, NULL);
        const char *chain = json_string_value(json_object_get(state, "chain"));
        for (size_t i = 0; chain && i < count; i++)
            if (strcmp(chains[i].name, chain) == 0)
                chains[i].active = 1;
        json_decref(state);
    }
    zb_buf_free(&path);
    closedir(d);
    return 0;
}

static int by_time(const void *a, const void *b)
{
    const zb_pitr_chain_info *x = a, *y = b;
    return x->from < y->from ? -1 : x->from > y->from ? 1 : strcmp(x->name, y->name);
}

int zb_pitr_chains_scan(zb_pitr_chain_info **out, size_t *count, const char *repo)
{
    *out = NULL, *count = 0;
    zb_buf pitr_dir = ZB_BUF_INIT;
    int rc = zb_buf_printf(&pitr_dir, "%s/%s", repo, ZB_PITR_DIR);
    DIR *d = rc == 0 ? opendir(pitr_dir.data) : NULL;
    if (rc < 0 || !d) {
        int missing = rc == 0 && errno == ENOENT;
        if (rc == 0 && !missing)
            rc = zb_error_errno(ZB_EIO, errno, "cannot read %s", pitr_dir.data);
        zb_buf_free(&pitr_dir);
        return rc;
    }
    struct dirent *e;
    zb_pitr_chain_info *chains = NULL;
    size_t n = 0;
    while (rc == 0 && (e = readdir(d))) {
        time_t from;
        /* a chain folder is named by its UTC stamp; files and others are not chains */
        if (e->d_name[0] == '.' || strchr(e->d_name, '.') || zb_time_parse_utc(&from, e->d_name) < 0)
            continue;
        zb_pitr_chain_info *grown = realloc(chains, (n + 1) * sizeof(*grown));
        if (!grown) {
            rc = zb_error_set(ZB_ENOMEM, "out of memory");
            break;
        }
        chains = grown;
        memset(&chains[n], 0, sizeof(chains[n]));
        chains[n].from = from;
        if (!(chains[n++].name = zb_strdup(e->d_name)))
            rc = zb_error_set(ZB_ENOMEM, "out of memory");
    }
    closedir(d);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = chain_read(&chains[i], repo);
    if (rc == 0)
        rc = mark_active(chains, n, pitr_dir.data);
    if (rc == 0 && n > 1)
        qsort(chains, n, sizeof(*chains), by_time);
    zb_buf_free(&pitr_dir);
    if (rc < 0) {
        zb_pitr_chains_free(chains, n);
        return rc;
    }
    *out = chains, *count = n;
    return 0;
}

void zb_pitr_chains_free(zb_pitr_chain_info *chains, size_t count)
{
    for (size_t i = 0; chains && i < count; i++) {
        free(chains[i].name);
        free(chains[i].base);
        free(chains[i].last_commit);
    }
    free(chains);
}

int zb_pitr_chain_lock(zb_repo_lock **out, const char *repo, const char *chain, int wait_seconds)
{
    zb_buf path = ZB_BUF_INIT, what = ZB_BUF_INIT;
    int rc = zb_buf_printf(&path, "%s/%s/%s.lock", repo, ZB_PITR_DIR, chain);
    if (rc == 0)
        rc = zb_buf_printf(&what, "chain %s", chain);
    if (rc == 0)
        rc = zb_repo_lock_take_file(out, path.data, what.data, wait_seconds);
    zb_buf_free(&path);
    zb_buf_free(&what);
    return rc;
}

int zb_pitr_chain_remove(const char *repo, const char *chain)
{
    zb_buf dir = ZB_BUF_INIT, lock = ZB_BUF_INIT, pitr_dir = ZB_BUF_INIT;
    int rc = zb_buf_printf(&pitr_dir, "%s/%s", repo, ZB_PITR_DIR);
    if (rc == 0)
        rc = zb_buf_printf(&dir, "%s/%s", pitr_dir.data, chain);
    if (rc == 0)
        rc = zb_buf_printf(&lock, "%s.lock", dir.data);
    if (rc == 0)
        rc = zb_fs_remove_tree(dir.data);
    if (rc == 0 && unlink(lock.data) < 0 && errno != ENOENT)
        rc = zb_error_errno(ZB_EIO, errno, "cannot remove %s", lock.data);
    if (rc == 0)
        rc = zb_fs_fsync_dir(pitr_dir.data);
    zb_buf_free(&dir);
    zb_buf_free(&lock);
    zb_buf_free(&pitr_dir);
    return rc;
}

void zb_pitr_chains_needed(int *needed, const zb_pitr_chain_info *chains, size_t count, const time_t *kept,
                           size_t kept_count)
{
    time_t oldest = 0;
    for (size_t k = 0; k < kept_count; k++)
        if (k == 0 || kept[k] < oldest)
            oldest = kept[k];
    for (size_t i = 0; i < count; i++)
        needed[i] = chains[i].active || (kept_count > 0 && chains[i].until >= (double)oldest);
}

int zb_pitr_chain_cut_read(json_t **cut, const char *chain_dir)
{
    *cut = NULL;
    zb_buf path = ZB_BUF_INIT;
    int rc = zb_buf_printf(&path, "%s/%s", chain_dir, ZB_PITR_CUT_FILE);
    if (rc == 0 && access(path.data, F_OK) == 0) {
        json_error_t error;
        *cut = json_load_file(path.data, 0, &error);
        if (!*cut || !json_is_integer(json_object_get(*cut, "first_segment")) ||
            !json_is_string(json_object_get(*cut, "from_lsn")) || !json_is_string(json_object_get(*cut, "base")))
            rc = zb_error_set(ZB_EFORMAT, "%s is damaged: %s", path.data, *cut ? "fields missing" : error.text);
    }
    if (rc < 0)
        json_decref(*cut), *cut = NULL;
    zb_buf_free(&path);
    return rc;
}

/* The record first, then the segments, oldest first: a prune stopped on
 * the way leaves fewer segments gone than the record says, never more. */
static int cut_segments(const char *dir, char **paths, const zb_pitr_segment_name *names, size_t cut,
                        const char *snapshot, time_t snapshot_time, uint64_t scan_lsn)
{
    char lsn[32];
    zb_pgo_lsn_format(lsn, sizeof(lsn), scan_lsn);
    zb_buf path = ZB_BUF_INIT;
    json_t *doc = json_pack("{s:i, s:s, s:s, s:I}", "first_segment", (int)names[cut].number, "from_lsn", lsn, "base",
                            snapshot, "from", (json_int_t)snapshot_time);
    int rc = zb_buf_printf(&path, "%s/%s", dir, ZB_PITR_CUT_FILE);
    if (rc == 0)
        rc = zb_json_write_file(path.data, doc, JSON_INDENT(1) | JSON_SORT_KEYS, 0600);
    for (size_t i = 0; rc == 0 && i < cut; i++)
        if (unlink(paths[i]) < 0 && errno != ENOENT)
            rc = zb_error_errno(ZB_EIO, errno, "cannot remove %s", paths[i]);
    if (rc == 0)
        rc = zb_fs_fsync_dir(dir);
    json_decref(doc);
    zb_buf_free(&path);
    return rc;
}

int zb_pitr_chain_cut(size_t *removed, const char *repo, const char *chain, const char *snapshot, time_t snapshot_time,
                      uint64_t scan_lsn, int dry_run)
{
    *removed = 0;
    char **paths = NULL;
    zb_pitr_segment_name *names = NULL;
    size_t count = 0, cut = 0;
    zb_repo_lock *lock = NULL;
    char *dir = zb_pitr_chain_dir(repo, chain);
    int rc = dir ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0 && !dry_run)
        rc = zb_pitr_chain_lock(&lock, repo, chain, 0);
    if (rc == 0)
        rc = zb_pitr_segment_list(&paths, &names, &count, dir);
    /* replay from the snapshot reads from the segment before the first
     * that ends after its position (a margin for a commit written before
     * the position was read but not yet visible to the snapshot): that one
     * and the later ones stay, and always the newest (the follower resumes
     * after it) */
    while (rc == 0 && cut + 1 < count && names[cut + 1].end_lsn <= scan_lsn)
        cut++;
    if (rc == 0 && count > 0 && !dry_run)
        rc = cut_segments(dir, paths, names, cut, snapshot, snapshot_time, scan_lsn);
    if (rc == 0)
        *removed = cut;
    if (rc == 0 && count > 0)
        rc = 1;
    zb_pitr_segment_list_free(paths, names, count);
    zb_repo_lock_release(lock);
    free(dir);
    return rc;
}
