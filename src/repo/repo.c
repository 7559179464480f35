#include "zakpos_backup/repo/repo.h"
#include "zakpos_backup/archive/header.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/common/timeutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOCK_NAME ".zakpos-backup.lock"

/* The stamp is the 16 characters after the last '-' that parse as one
 * (a "-N" suffix for a second archive in the same second may follow). */
static int stamp_of(time_t *out, const char *name)
{
    const char *p = name;
    int found = 0;
    while ((p = strchr(p, '-')) != NULL) {
        p++;
        char stamp[17];
        time_t t;
        if (strlen(p) >= 16) {
            memcpy(stamp, p, 16);
            stamp[16] = '\0';
            if (zb_time_parse_utc(&t, stamp) == 0) {
                *out = t;
                found = 1;
            }
        }
    }
    zb_error_clear();
    return found;
}

static int is_archive_name(const char *name)
{
    size_t n = strlen(name), ext = strlen(ZB_ARCHIVE_EXTENSION);
    return name[0] != '.' && n > ext && strcmp(name + n - ext, ZB_ARCHIVE_EXTENSION) == 0;
}

int zb_repo_archive_name_time(time_t *created, const char *name)
{
    return is_archive_name(name) && stamp_of(created, name);
}

/* An archive's place among those of its second: NAME-STAMP.zbk is the
 * first, NAME-STAMP-N.zbk the Nth. */
static long sequence_in_second(const char *name)
{
    const char *ext = strstr(name, ZB_ARCHIVE_EXTENSION);
    const char *dash = ext ? ext : name;
    while (dash > name && dash[-1] >= '0' && dash[-1] <= '9')
        dash--;
    /* "-N" right before the extension, after the stamp's closing 'Z' */
    if (ext && dash < ext && dash - name >= 2 && dash[-1] == '-' && dash[-2] == 'Z')
        return strtol(dash, NULL, 10);
    return 1;
}

int zb_repo_archive_order(const char *a_name, time_t a_created, const char *b_name, time_t b_created)
{
    if (a_created != b_created)
        return a_created < b_created ? -1 : 1;
    long a_seq = sequence_in_second(a_name), b_seq = sequence_in_second(b_name);
    if (a_seq != b_seq)
        return a_seq < b_seq ? -1 : 1;
    return strcmp(a_name, b_name);
}

static int by_time_then_name(const void *a, const void *b)
{
    const zb_repo_archive *x = a, *y = b;
    return zb_repo_archive_order(x->name, x->created, y->name, y->created);
}

int zb_repo_scan(zb_repo_list *out, const char *repo)
{
    out->items = NULL;
    out->count = 0;
    DIR *d = opendir(repo);
    if (!d)
        return zb_error_errno(errno == ENOENT ? ZB_ENOTFOUND : ZB_EIO, errno, "cannot open repository %s", repo);
    size_t cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        time_t created;
        if (!is_archive_name(e->d_name) || !stamp_of(&created, e->d_name))
            continue;
        if (out->count == cap) {
            cap = cap ? cap * 2 : 32;
            zb_repo_archive *grown = realloc(out->items, cap * sizeof(*grown));
            if (!grown) {
                rc = zb_error_set(ZB_ENOMEM, "out of memory");
                break;
            }
            out->items = grown;
        }
        zb_repo_archive *a = &out->items[out->count];
        zb_buf path = ZB_BUF_INIT;
        a->name = zb_strdup(e->d_name);
        a->created = created;
        if (zb_buf_printf(&path, "%s/%s", repo, e->d_name) < 0 || !a->name) {
            free(a->name);
            zb_buf_free(&path);
            rc = zb_error_set(ZB_ENOMEM, "out of memory");
            break;
        }
        a->path = zb_buf_detach(&path);
        out->count++;
    }
    closedir(d);
    if (out->count)
        qsort(out->items, out->count, sizeof(*out->items), by_time_then_name);
    if (rc < 0)
        zb_repo_list_free(out);
    return rc;
}

void zb_repo_list_free(zb_repo_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].name);
        free(list->items[i].path);
    }
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

int zb_repo_latest(char **path, const char *repo)
{
    *path = NULL;
    zb_repo_list list;
    int rc = zb_repo_scan(&list, repo);
    if (rc < 0)
        return rc;
    if (list.count == 0)
        rc = zb_error_set(ZB_ENOTFOUND, "repository %s holds no archive", repo);
    else if (!(*path = zb_strdup(list.items[list.count - 1].path)))
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
    zb_repo_list_free(&list);
    return rc;
}

struct zb_repo_lock {
    int fd;
};

/* The pid the holder wrote into the lock file, for messages. */
static void lock_holder(char *out, size_t size, int fd)
{
    ssize_t n = pread(fd, out, size - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    out[strcspn(out, "\n")] = '\0';
    if (!out[0])
        snprintf(out, size, "?");
}

/* Polls rather than blocking in flock(): a wait must end at its deadline
 * and on SIGINT/SIGTERM, and a blocked flock() would see neither. */
static int lock_wait(int fd, const char *what, int wait_seconds)
{
    double deadline = zb_time_monotonic() + wait_seconds;
    int told = 0;
    char holder[32];
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return 0;
        if (errno != EWOULDBLOCK)
            return zb_error_errno(ZB_EIO, errno, "cannot lock %s", what);
        lock_holder(holder, sizeof(holder), fd);
        if (zb_interrupted())
            return zb_error_set(ZB_EINTR, "interrupted while waiting for %s (pid %s)", what, holder);
        if (zb_time_monotonic() >= deadline)
            break;
        if (!told) {
            char limit[32];
            zb_format_duration(limit, sizeof(limit), wait_seconds);
            zb_log_warn("%s is in use by another run (pid %s); waiting up to %s for it", what, holder, limit);
            told = 1;
        }
        usleep(200 * 1000);
    }
    zb_error_set(ZB_ELOCKED, "%s is in use by another run (pid %s)%s", what, holder,
                 told ? " after waiting for it" : "");
    return zb_error_hint(
        "wait for it to finish (--lock-wait DURATION waits by itself); a run that died releases the "
        "lock by itself");
}

int zb_repo_lock_take(zb_repo_lock **out, const char *repo, int wait_seconds)
{
    *out = NULL;
    char path[4096], what[4096 + 16];
    if (snprintf(path, sizeof(path), "%s/%s", repo, LOCK_NAME) >= (int)sizeof(path))
        return zb_error_set(ZB_EUSAGE, "repository path too long: %s", repo);
    snprintf(what, sizeof(what), "repository %s", repo);
    return zb_repo_lock_take_file(out, path, what, wait_seconds);
}

int zb_repo_lock_take_file(zb_repo_lock **out, const char *path, const char *what, int wait_seconds)
{
    *out = NULL;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return zb_error_errno(ZB_EIO, errno, "cannot open the lock %s", path);
    int rc = lock_wait(fd, what, wait_seconds);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    /* The holder's pid is information for the message above, not the lock. */
    char pid[32];
    int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == 0)
        (void)!pwrite(fd, pid, (size_t)len, 0);
    zb_repo_lock *lock = malloc(sizeof(*lock));
    if (!lock) {
        close(fd);
        return zb_error_set(ZB_ENOMEM, "out of memory");
    }
    lock->fd = fd;
    *out = lock;
    return 0;
}

void zb_repo_lock_release(zb_repo_lock *lock)
{
    if (!lock)
        return;
    close(lock->fd); /* closing the descriptor releases the flock */
    free(lock);
}

/* A hidden temporary archive (".NAME.XXXXXX.partial") whose writer is gone:
 * writers hold an flock on it while they live. */
static int partial_name(const char *name)
{
    size_t n = strlen(name);
    return name[0] == '.' && n > 9 && strcmp(name + n - 8, ".partial") == 0;
}

int zb_repo_sweep_partials(const char *repo)
{
    DIR *dir = opendir(repo);
    if (!dir)
        return zb_error_errno(ZB_EIO, errno, "cannot read repository %s", repo);
    struct dirent *e;
    char path[4096];
    int removed = 0;
    while ((e = readdir(dir))) {
        if (!partial_name(e->d_name) || snprintf(path, sizeof(path), "%s/%s", repo, e->d_name) >= (int)sizeof(path))
            continue;
        int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
            continue;
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && flock(fd, LOCK_EX | LOCK_NB) == 0) {
            if (unlink(path) == 0) {
                removed++;
                zb_log_info("removed %s, the unfinished archive of a run that was killed", path);
            } else {
                zb_log_warn("cannot remove %s, the unfinished archive of a run that was killed: %s", path,
                            strerror(errno));
            }
        }
        close(fd);
    }
    closedir(dir);
    return removed ? zb_fs_fsync_dir(repo) : 0;
}
