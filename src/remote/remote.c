#include "zakpos_backup/remote/remote.h"
#include "zakpos_backup/archive/sign.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/remote/driver.h"
#include "zakpos_backup/remote/s3.h"
#include "zakpos_backup/remote/sftp.h"
#include "zakpos_backup/remote/webdav.h"
#include "zakpos_backup/repo/repo.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct zb_remote {
    const zb_remote_driver *driver;
    const zb_config_remote *conf;
    void *state;
    char *where;
};

static const zb_remote_driver *const drivers[] = {&zb_remote_s3, &zb_remote_sftp, &zb_remote_webdav};

int zb_remote_open(zb_remote **out, const zb_config_remote *conf)
{
    *out = NULL;
    const zb_remote_driver *driver = NULL;
    for (size_t i = 0; i < ZB_ARRAY_LEN(drivers); i++)
        if (conf->type && strcmp(conf->type, drivers[i]->type) == 0)
            driver = drivers[i];
    if (!driver)
        return zb_error_set(ZB_ECONFIG, "remote %s: type must be s3, sftp or webdav", conf->name);
    zb_remote *r = calloc(1, sizeof(*r));
    if (!r)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    r->driver = driver;
    r->conf = conf;
    int rc = driver->open(&r->state, &r->where, conf);
    if (rc < 0) {
        zb_error_context("remote %s", conf->name);
        free(r->where); /* a driver may have described itself before failing */
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void zb_remote_close(zb_remote *r)
{
    if (!r)
        return;
    r->driver->close(r->state);
    free(r->where);
    free(r);
}

const char *zb_remote_where(const zb_remote *r) { return r->where; }
const zb_config_remote *zb_remote_config(const zb_remote *r) { return r->conf; }

/* ---- shared by the drivers ---- */

/* Sleeps in short steps so SIGINT/SIGTERM end the wait at once. */
static int wait_seconds(int seconds)
{
    for (int tenth = 0; tenth < seconds * 10; tenth++) {
        if (zb_interrupted())
            return zb_check_interrupt();
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return zb_check_interrupt();
}

int zb_remote_retry(const zb_config_remote *conf, const char *what, zb_remote_attempt_fn attempt, void *arg)
{
    int tries = conf->retries + 1, delay = conf->retry_delay;
    for (int n = 1;; n++) {
        int permanent = 0;
        int rc = attempt(arg, &permanent);
        if (rc == 0 || permanent || rc == ZB_EINTR || n >= tries)
            return rc;
        zb_log_warn("%s; trying %s again in %d s (try %d of %d)", zb_error_message(), what, delay, n + 1, tries);
        if ((rc = wait_seconds(delay)) < 0)
            return rc;
        delay = delay ? delay * 2 : 0;
    }
}

int zb_remote_uri_encode(char **out, const char *text, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    zb_buf b = ZB_BUF_INIT;
    int rc = zb_buf_puts(&b, "");
    for (const unsigned char *p = (const unsigned char *)text; rc == 0 && *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("-._~", *p) ||
            (keep_slash && *p == '/')) {
            rc = zb_buf_append(&b, p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            rc = zb_buf_append(&b, e, 3);
        }
    }
    if (rc < 0) {
        zb_buf_free(&b);
        *out = NULL;
        return rc;
    }
    *out = zb_buf_detach(&b);
    return 0;
}

/* ---- the operations ---- */

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static int check_archive_name(const zb_remote *r, const char *name)
{
    time_t created;
    if (zb_repo_archive_name_time(&created, name))
        return 0;
    zb_error_set(ZB_EUSAGE, "remote %s: '%s' is not an archive's name", r->conf->name, name);
    return zb_error_hint("archives are named NAME-YYYYMMDDTHHMMSSZ.zbk");
}

static void log_rate(const char *verb, const char *name, const char *to_from, const zb_remote *r, uint64_t bytes,
                     double seconds)
{
    char size[32], rate[32], took[32];
    zb_format_bytes(size, sizeof(size), bytes);
    zb_format_bytes(rate, sizeof(rate), seconds > 0 ? (uint64_t)((double)bytes / seconds) : bytes);
    zb_format_duration(took, sizeof(took), seconds);
    zb_log_info("%s %s %s remote %s (%s in %s, %s/s)", verb, name, to_from, r->conf->name, size, took, rate);
}

/* Sends the open file fd (size bytes) under `name`, logging its rate. */
static int upload_fd(zb_remote *r, int fd, const char *local_path, const char *name)
{
    struct stat st;
    double started = zb_time_monotonic();
    int rc = 0;
    if (fstat(fd, &st) < 0)
        rc = zb_error_errno(ZB_EIO, errno, "cannot stat %s", local_path);
    else if (!S_ISREG(st.st_mode))
        rc = zb_error_set(ZB_EUSAGE, "%s is not a file", local_path);
    if (rc == 0) {
        zb_log_detail("copying %s to remote %s (%s)", name, r->conf->name, r->where);
        rc = r->driver->upload(r->state, fd, (uint64_t)st.st_size, name);
    }
    if (rc < 0)
        return zb_error_context("copy of %s to remote %s (%s)", name, r->conf->name, r->where);
    log_rate("copied", name, "to", r, (uint64_t)st.st_size, zb_time_monotonic() - started);
    return 0;
}

int zb_remote_upload_signature(zb_remote *r, const char *local_path)
{
    zb_buf sig = ZB_BUF_INIT, sig_name = ZB_BUF_INIT;
    int rc = zb_buf_printf(&sig, "%s%s", local_path, ZB_DETACHED_SIGNATURE_SUFFIX);
    if (rc == 0)
        rc = zb_buf_printf(&sig_name, "%s%s", base_name(local_path), ZB_DETACHED_SIGNATURE_SUFFIX);
    int fd = rc == 0 ? open(sig.data, O_RDONLY | O_CLOEXEC) : -1;
    if (rc == 0 && fd < 0 && errno != ENOENT)
        rc = zb_error_errno(ZB_EIO, errno, "cannot open %s", sig.data);
    if (rc == 0 && fd >= 0)
        rc = upload_fd(r, fd, sig.data, sig_name.data);
    if (fd >= 0)
        close(fd);
    zb_buf_free(&sig);
    zb_buf_free(&sig_name);
    return rc < 0 ? rc : fd >= 0;
}

int zb_remote_upload(zb_remote *r, const char *local_path)
{
    const char *name = base_name(local_path);
    int rc = check_archive_name(r, name);
    if (rc < 0)
        return rc;
    int fd = open(local_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return zb_error_errno(errno == ENOENT ? ZB_ENOTFOUND : ZB_EIO, errno, "cannot open %s", local_path);
    rc = upload_fd(r, fd, local_path, name);
    close(fd);
    /* The archive first: a detached signature whose upload fails is sent
     * again by the next sync, which sees the remote lacks it. */
    if (rc == 0 && (rc = zb_remote_upload_signature(r, local_path)) > 0)
        rc = 0;
    return rc;
}

typedef struct collect_state {
    zb_remote_list *list;
    size_t cap;
    char **signatures; /* names of the listing's ARCHIVE.sig files, archive part only */
    size_t signature_count, signature_cap;
} collect_state;

/* ARCHIVE.sig: remembered, to mark its archive once the listing is whole. */
static int collect_signature(collect_state *c, const char *name)
{
    size_t n = strlen(name), suffix = strlen(ZB_DETACHED_SIGNATURE_SUFFIX);
    char archive[NAME_MAX + 1];
    time_t created;
    if (n <= suffix || n - suffix >= sizeof(archive) || strcmp(name + n - suffix, ZB_DETACHED_SIGNATURE_SUFFIX) != 0)
        return 0;
    snprintf(archive, sizeof(archive), "%.*s", (int)(n - suffix), name);
    if (!zb_repo_archive_name_time(&created, archive))
        return 0;
    if (c->signature_count == c->signature_cap) {
        size_t cap = c->signature_cap ? c->signature_cap * 2 : 16;
        char **grown = realloc(c->signatures, cap * sizeof(*grown));
        if (!grown)
            return zb_error_set(ZB_ENOMEM, "out of memory");
        c->signatures = grown;
        c->signature_cap = cap;
    }
    if (!(c->signatures[c->signature_count] = zb_strdup(archive)))
        return zb_error_set(ZB_ENOMEM, "out of memory");
    c->signature_count++;
    return 0;
}

static int collect(const char *name, int64_t size, void *payload)
{
    collect_state *c = payload;
    time_t created;
    if (!zb_repo_archive_name_time(&created, name)) /* hidden, partial, a signature, or not ours */
        return collect_signature(c, name);
    if (c->list->count == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 32;
        zb_remote_archive *grown = realloc(c->list->items, cap * sizeof(*grown));
        if (!grown)
            return zb_error_set(ZB_ENOMEM, "out of memory");
        c->list->items = grown;
        c->cap = cap;
    }
    zb_remote_archive *a = &c->list->items[c->list->count];
    if (!(a->name = zb_strdup(name)))
        return zb_error_set(ZB_ENOMEM, "out of memory");
    a->created = created;
    a->size = size;
    a->signed_detached = 0;
    c->list->count++;
    return 0;
}

static void mark_signed(zb_remote_list *list, char **signatures, size_t count)
{
    for (size_t i = 0; i < count; i++)
        for (size_t k = 0; k < list->count; k++)
            if (strcmp(list->items[k].name, signatures[i]) == 0)
                list->items[k].signed_detached = 1;
}

static int by_time_then_name(const void *a, const void *b)
{
    const zb_remote_archive *x = a, *y = b;
    return zb_repo_archive_order(x->name, x->created, y->name, y->created);
}

int zb_remote_list_archives(zb_remote_list *out, zb_remote *r)
{
    out->items = NULL;
    out->count = 0;
    collect_state c = {out, 0, NULL, 0, 0};
    int rc = r->driver->list(r->state, collect, &c);
    if (rc == 0)
        mark_signed(out, c.signatures, c.signature_count);
    for (size_t i = 0; i < c.signature_count; i++)
        free(c.signatures[i]);
    free(c.signatures);
    if (rc < 0) {
        zb_remote_list_free(out);
        return zb_error_context("listing remote %s (%s)", r->conf->name, r->where);
    }
    if (out->count)
        qsort(out->items, out->count, sizeof(*out->items), by_time_then_name);
    return 0;
}

void zb_remote_list_free(zb_remote_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i].name);
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

int zb_remote_latest(char **name, zb_remote *r)
{
    *name = NULL;
    zb_remote_list list;
    int rc = zb_remote_list_archives(&list, r);
    if (rc < 0)
        return rc;
    if (list.count == 0)
        rc = zb_error_set(ZB_ENOTFOUND, "remote %s (%s) holds no archive", r->conf->name, r->where);
    else if (!(*name = zb_strdup(list.items[list.count - 1].name)))
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
    zb_remote_list_free(&list);
    return rc;
}

int zb_remote_resolve(char **name, zb_remote *r, const char *spec)
{
    if (strcmp(spec, "latest") == 0)
        return zb_remote_latest(name, r);
    return (*name = zb_strdup(spec)) ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
}

/* Writes the remote's `name` to local_path through a temporary file;
 * check, when given, sees the complete file before it is published. */
static int download_file(zb_remote *r, const char *name, const char *local_path, zb_remote_check_fn check,
                         const char *archive_path, void *payload, uint64_t *bytes)
{
    zb_atomic_file *f = NULL;
    int rc = zb_atomic_file_open(&f, local_path, 0600);
    if (rc < 0)
        return rc;
    rc = r->driver->download(r->state, name, zb_atomic_file_fd(f));
    struct stat st;
    *bytes = rc == 0 && fstat(zb_atomic_file_fd(f), &st) == 0 ? (uint64_t)st.st_size : 0;
    if (rc == 0 && check)
        rc = check(zb_atomic_file_temp_path(f), archive_path, payload);
    if (rc == 0)
        rc = zb_atomic_file_commit(f);
    zb_atomic_file_abort(f); /* removes the partial file unless committed */
    return rc;
}

/* NAME.sig beside local_path: 1 when the remote holds one, 0 when not. */
static int download_signature(zb_remote *r, const char *name, const char *local_path, zb_buf *sig_path)
{
    zb_buf sig_name = ZB_BUF_INIT;
    uint64_t bytes = 0;
    int rc = zb_buf_printf(&sig_name, "%s%s", name, ZB_DETACHED_SIGNATURE_SUFFIX);
    if (rc == 0)
        rc = zb_buf_printf(sig_path, "%s%s", local_path, ZB_DETACHED_SIGNATURE_SUFFIX);
    if (rc == 0)
        rc = download_file(r, sig_name.data, sig_path->data, NULL, NULL, NULL, &bytes);
    zb_buf_free(&sig_name);
    if (rc == ZB_ENOTFOUND) { /* most archives carry their signature inside */
        zb_error_clear();
        return 0;
    }
    return rc < 0 ? rc : 1;
}

int zb_remote_download_checked(zb_remote *r, const char *name, const char *local_path, zb_remote_check_fn check,
                               void *payload)
{
    int rc = check_archive_name(r, name);
    if (rc < 0)
        return rc;
    zb_buf sig_path = ZB_BUF_INIT;
    uint64_t bytes = 0;
    double started = zb_time_monotonic();
    int have_signature = rc = download_signature(r, name, local_path, &sig_path);
    if (rc >= 0)
        rc = download_file(r, name, local_path, check, local_path, payload, &bytes);
    if (rc < 0 && have_signature > 0 && sig_path.data)
        unlink(sig_path.data); /* it belongs to the archive that was not published */
    zb_buf_free(&sig_path);
    if (rc < 0) {
        if (rc == ZB_ENOTFOUND)
            zb_error_hint("'zakpos-backup remote list %s' shows the archives there", r->conf->name);
        return zb_error_context("download of %s from remote %s (%s)", name, r->conf->name, r->where);
    }
    log_rate("downloaded", name, "from", r, bytes, zb_time_monotonic() - started);
    return 0;
}

int zb_remote_download(zb_remote *r, const char *name, const char *local_path)
{
    return zb_remote_download_checked(r, name, local_path, NULL, NULL);
}

/* The archive, then its detached signature: one left alone is never read
 * as an archive. Removing a file that is not there fails on some servers
 * (SFTP), so the signature goes only when the listing showed it. */
static int delete_archive(zb_remote *r, const char *name, int signed_detached)
{
    zb_buf sig_name = ZB_BUF_INIT;
    const char *failed = name;
    int rc = check_archive_name(r, name);
    if (rc == 0 && (rc = r->driver->remove(r->state, name)) == 0)
        zb_log_detail("removed %s from remote %s", name, r->conf->name);
    if (rc == 0 && signed_detached &&
        (rc = zb_buf_printf(&sig_name, "%s%s", name, ZB_DETACHED_SIGNATURE_SUFFIX)) == 0) {
        failed = sig_name.data;
        rc = r->driver->remove(r->state, sig_name.data);
    }
    if (rc < 0)
        zb_error_context("removing %s from remote %s (%s)", failed, r->conf->name, r->where);
    zb_buf_free(&sig_name);
    return rc;
}

int zb_remote_delete(zb_remote *r, const char *name)
{
    zb_remote_list list;
    int rc = check_archive_name(r, name), signed_detached = 0;
    if (rc == 0 && (rc = zb_remote_list_archives(&list, r)) == 0) {
        for (size_t i = 0; i < list.count; i++)
            signed_detached |= strcmp(list.items[i].name, name) == 0 && list.items[i].signed_detached;
        zb_remote_list_free(&list);
    }
    return rc < 0 ? rc : delete_archive(r, name, signed_detached);
}

int zb_remote_prune(zb_remote *r, const zb_retention_policy *policy, int dry_run, FILE *report)
{
    if (zb_retention_is_empty(policy))
        return zb_error_set(ZB_ECONFIG, "remote %s: no keep rule: refusing to decide which archives to remove",
                            r->conf->name);
    zb_remote_list list;
    int rc = zb_remote_list_archives(&list, r);
    if (rc < 0)
        return rc;
    unsigned *keep = calloc(list.count + 1, sizeof(*keep));
    time_t *times = calloc(list.count + 1, sizeof(*times));
    size_t removed = 0;
    if (!keep || !times) {
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < list.count; i++) /* the rules read newest first */
        times[i] = list.items[list.count - 1 - i].created;
    zb_retention_apply(keep, times, list.count, policy);
    for (size_t i = 0; i < list.count; i++) {
        const zb_remote_archive *a = &list.items[list.count - 1 - i];
        if (i == 0 && !keep[i]) /* the newest copy is never removed, whatever the rules */
            keep[i] = 1u << ZB_KEEP_LAST;
        if (report) { /* the lines `prune` prints: action, name, the rules that keep it */
            fprintf(report, "%-12s %s", keep[i] ? "keep" : dry_run ? "would-remove" : "remove", a->name);
            const char *separator = "  ";
            for (int rule = 0; rule < ZB_KEEP_RULES; rule++) {
                if (!(keep[i] & (1u << rule)))
                    continue;
                fprintf(report, "%s%s", separator, zb_retention_rule_name((enum zb_keep_rule)rule));
                separator = ", ";
            }
            fputc('\n', report);
        }
        if (keep[i] || dry_run)
            continue;
        if ((rc = delete_archive(r, a->name, a->signed_detached)) < 0)
            goto done;
        removed++;
    }
    zb_log_detail("remote %s: %zu archives, %zu removed%s", r->conf->name, list.count, removed,
                  dry_run ? " (dry run: nothing removed)" : "");
done:
    free(keep);
    free(times);
    zb_remote_list_free(&list);
    return rc;
}

/* ---- unfinished uploads ---- */

typedef struct unfinished_state {
    zb_remote_unfinished_list *list;
    size_t cap;
} unfinished_state;

static int collect_unfinished(const char *name, const char *upload_id, time_t started, void *payload)
{
    unfinished_state *c = payload;
    if (c->list->count == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        zb_remote_unfinished *grown = realloc(c->list->items, cap * sizeof(*grown));
        if (!grown)
            return zb_error_set(ZB_ENOMEM, "out of memory");
        c->list->items = grown;
        c->cap = cap;
    }
    zb_remote_unfinished *u = &c->list->items[c->list->count];
    u->name = zb_strdup(name);
    u->upload_id = upload_id ? zb_strdup(upload_id) : NULL;
    u->started = started;
    c->list->count++;
    if (!u->name || (upload_id && !u->upload_id))
        return zb_error_set(ZB_ENOMEM, "out of memory");
    return 0;
}

/* ".NAME.partial" where NAME is an archive's name: an upload through a
 * temporary file that never reached its rename. */
static int partial_name(const char *name, void *payload)
{
    unfinished_state *c = payload;
    size_t n = strlen(name), suffix = strlen(".partial");
    char archive[NAME_MAX + 1];
    time_t created;
    if (name[0] != '.' || n <= suffix + 1 || strcmp(name + n - suffix, ".partial") != 0 || n - suffix > sizeof(archive))
        return 0;
    snprintf(archive, sizeof(archive), "%.*s", (int)(n - suffix - 1), name + 1);
    return zb_repo_archive_name_time(&created, archive) ? collect_unfinished(archive, NULL, 0, c) : 0;
}

static int each_partial(const char *name, int64_t size, void *payload)
{
    (void)size;
    return partial_name(name, payload);
}

/* The hidden partial files of the listing, each with when it was last
 * written (asked once the listing is read: a driver has one connection). */
static int list_partial_files(zb_remote *r, unfinished_state *c)
{
    int rc = r->driver->list(r->state, each_partial, c);
    for (size_t i = 0; rc == 0 && i < c->list->count; i++) {
        char file[NAME_MAX + 16];
        snprintf(file, sizeof(file), ".%s.partial", c->list->items[i].name);
        rc = r->driver->modified(r->state, file, &c->list->items[i].started);
    }
    return rc;
}

int zb_remote_list_unfinished(zb_remote_unfinished_list *out, zb_remote *r)
{
    out->items = NULL;
    out->count = 0;
    if (!r->driver->list_unfinished && !r->driver->modified)
        return 0;
    unfinished_state c = {out, 0};
    int rc = r->driver->list_unfinished ? r->driver->list_unfinished(r->state, collect_unfinished, &c)
                                        : list_partial_files(r, &c);
    if (rc < 0) {
        zb_remote_unfinished_list_free(out);
        return zb_error_context("listing unfinished uploads on remote %s (%s)", r->conf->name, r->where);
    }
    return 0;
}

void zb_remote_unfinished_list_free(zb_remote_unfinished_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].name);
        free(list->items[i].upload_id);
    }
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

int zb_remote_abort_unfinished(zb_remote *r, const zb_remote_unfinished *u)
{
    int rc = 0;
    if (r->driver->abort_unfinished) {
        rc = r->driver->abort_unfinished(r->state, u->name, u->upload_id);
    } else { /* the hidden partial file */
        char file[NAME_MAX + 16];
        snprintf(file, sizeof(file), ".%s.partial", u->name);
        rc = r->driver->remove(r->state, file);
    }
    if (rc < 0)
        return zb_error_context("aborting the unfinished upload of %s on remote %s (%s)", u->name, r->conf->name,
                                r->where);
    return 0;
}
