#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/secret.h"
#include "zakpos_backup/common/signal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int zb_fs_write_all(int fd, const void *data, size_t len, const char *what)
{
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return zb_error_errno(ZB_EIO, errno, "cannot write %s", what);
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int zb_fs_read_full(int fd, void *data, size_t len, size_t *got, const char *what)
{
    unsigned char *p = data;
    size_t total = 0;
    while (total < len) {
        ssize_t n = read(fd, p + total, len - total);
        if (n < 0) {
            if (errno == EINTR) {
                if (zb_interrupted())
                    return zb_error_set(ZB_EINTR, "interrupted while reading %s", what);
                continue;
            }
            return zb_error_errno(ZB_EIO, errno, "cannot read %s", what);
        }
        if (n == 0)
            break;
        total += (size_t)n;
    }
    *got = total;
    return 0;
}

int zb_fs_mkdir_p(const char *path, mode_t mode)
{
    char tmp[PATH_MAX];
    if (zb_strlcpy_checked(tmp, sizeof(tmp), path) < 0)
        return zb_error_code();
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, mode) < 0 && errno != EEXIST)
            return zb_error_errno(ZB_EIO, errno, "cannot create folder %s", tmp);
        *p = '/';
    }
    if (mkdir(tmp, mode) < 0 && errno != EEXIST)
        return zb_error_errno(ZB_EIO, errno, "cannot create folder %s", tmp);
    return 0;
}

int zb_fs_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return zb_error_errno(ZB_EIO, errno, "cannot open folder %s", dir);
    int rc = 0;
    if (fsync(fd) < 0 && errno != EINVAL)
        rc = zb_error_errno(ZB_EIO, errno, "cannot fsync folder %s", dir);
    close(fd);
    return rc;
}

int zb_fs_dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return zb_error_errno(errno == ENOENT ? ZB_ENOTFOUND : ZB_EIO, errno, "cannot open folder %s", path);
    int empty = 1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            empty = 0;
            break;
        }
    }
    closedir(d);
    return empty;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) < 0 && errno != ENOENT)
        return zb_error_errno(ZB_EIO, errno, "cannot remove %s", path);
    return 0;
}

int zb_fs_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : zb_error_errno(ZB_EIO, errno, "cannot stat %s", path);
    int rc = nftw(path, remove_one, 32, FTW_DEPTH | FTW_PHYS);
    return rc == 0 ? 0 : (rc < 0 ? zb_error_code() : zb_error_errno(ZB_EIO, errno, "cannot remove %s", path));
}

int zb_fs_read_secret(char **out, size_t *out_len, const char *path)
{
    enum { SECRET_MAX = 64 * 1024 };
    *out = NULL;
    *out_len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return zb_error_errno(errno == ENOENT ? ZB_ENOTFOUND : ZB_EIO, errno, "cannot open %s", path);
    zb_secret_protect_process(); /* before the secret is in memory */
    char *secret = sodium_malloc(SECRET_MAX + 1);
    if (!secret) {
        close(fd);
        return zb_error_set(ZB_ENOMEM, "cannot allocate protected memory for %s", path);
    }
    size_t got = 0;
    int rc = zb_fs_read_full(fd, secret, SECRET_MAX + 1, &got, path);
    close(fd);
    if (rc == 0 && got > SECRET_MAX)
        rc = zb_error_set(ZB_ECONFIG, "%s is larger than %d bytes; it does not look like a key or passphrase", path,
                          SECRET_MAX);
    if (rc < 0) {
        sodium_free(secret);
        return rc;
    }
    while (got > 0 && (secret[got - 1] == '\n' || secret[got - 1] == '\r'))
        got--;
    secret[got] = '\0';
    *out = secret;
    *out_len = got;
    return 0;
}

void zb_fs_secret_free(char *secret, size_t len)
{
    (void)len;
    if (secret)
        sodium_free(secret); /* zeroes the memory before unmapping it */
}

int zb_fs_read_text(char **out, const char *path, size_t max_bytes)
{
    size_t len;
    return zb_fs_read_file(out, &len, path, max_bytes);
}

int zb_fs_read_file(char **out, size_t *out_len, const char *path, size_t max_bytes)
{
    *out = NULL;
    *out_len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return zb_error_errno(errno == ENOENT ? ZB_ENOTFOUND : ZB_EIO, errno, "cannot open %s", path);
    zb_buf b = ZB_BUF_INIT;
    char chunk[8192];
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = zb_error_errno(ZB_EIO, errno, "cannot read %s", path);
            break;
        }
        if (n == 0)
            break;
        if (b.len + (size_t)n > max_bytes) {
            rc = zb_error_set(ZB_EFAIL, "%s is larger than %zu bytes", path, max_bytes);
            break;
        }
        if ((rc = zb_buf_append(&b, chunk, (size_t)n)) < 0)
            break;
    }
    close(fd);
    if (rc < 0) {
        zb_buf_free(&b);
        return rc;
    }
    *out_len = b.len;
    *out = zb_buf_detach(&b);
    return 0;
}

struct zb_atomic_file {
    int fd;
    int committed;
    char final_path[PATH_MAX];
    char temp_path[PATH_MAX];
    char dir[PATH_MAX];
};

static int split_dir(char *dir_out, size_t size, const char *path)
{
    char copy[PATH_MAX];
    if (zb_strlcpy_checked(copy, sizeof(copy), path) < 0)
        return zb_error_code();
    return zb_strlcpy_checked(dir_out, size, dirname(copy));
}

int zb_atomic_file_open(zb_atomic_file **out, const char *final_path, mode_t mode)
{
    *out = NULL;
    zb_atomic_file *f = calloc(1, sizeof(*f));
    if (!f)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    f->fd = -1;
    char base[PATH_MAX], copy[PATH_MAX];
    int rc;
    if ((rc = zb_strlcpy_checked(f->final_path, sizeof(f->final_path), final_path)) < 0 ||
        (rc = split_dir(f->dir, sizeof(f->dir), final_path)) < 0 ||
        (rc = zb_strlcpy_checked(copy, sizeof(copy), final_path)) < 0 ||
        (rc = zb_strlcpy_checked(base, sizeof(base), basename(copy))) < 0)
        goto fail;
    /* Hidden and suffixed ".partial": never mistaken for a finished archive. */
    if (snprintf(f->temp_path, sizeof(f->temp_path), "%s/.%s.XXXXXX.partial", f->dir, base) >=
        (int)sizeof(f->temp_path)) {
        rc = zb_error_set(ZB_EFAIL, "path too long: %s", final_path);
        goto fail;
    }
    f->fd = mkostemps(f->temp_path, (int)strlen(".partial"), O_CLOEXEC);
    if (f->fd < 0) {
        rc = zb_error_errno(ZB_EIO, errno, "cannot create a temporary file in %s", f->dir);
        goto fail;
    }
    /* Held while the file is written: a sweep that can take it knows the
     * writer is gone (the kernel drops it with the process). Where the file
     * system has no flock, the sweep cannot take it either and keeps the file. */
    (void)flock(f->fd, LOCK_EX | LOCK_NB);
    if (fchmod(f->fd, mode) < 0) {
        rc = zb_error_errno(ZB_EIO, errno, "cannot set mode of %s", f->temp_path);
        goto fail;
    }
    *out = f;
    return 0;
fail:
    zb_atomic_file_abort(f);
    return rc;
}

int zb_atomic_file_fd(const zb_atomic_file *f) { return f->fd; }
const char *zb_atomic_file_temp_path(const zb_atomic_file *f) { return f->temp_path; }

int zb_atomic_file_commit(zb_atomic_file *f)
{
    if (fsync(f->fd) < 0)
        return zb_error_errno(ZB_EIO, errno, "cannot fsync %s", f->temp_path);
    if (close(f->fd) < 0) {
        f->fd = -1;
        return zb_error_errno(ZB_EIO, errno, "cannot close %s", f->temp_path);
    }
    f->fd = -1;
    if (renameat2(AT_FDCWD, f->temp_path, AT_FDCWD, f->final_path, RENAME_NOREPLACE) < 0) {
        if (errno == EEXIST)
            return zb_error_set(ZB_EEXIST, "%s already exists; it was not replaced", f->final_path);
        if (errno != EINVAL && errno != ENOSYS)
            return zb_error_errno(ZB_EIO, errno, "cannot rename %s to %s", f->temp_path, f->final_path);
        /* File systems without RENAME_NOREPLACE: link() also refuses to replace. */
        if (link(f->temp_path, f->final_path) < 0)
            return zb_error_errno(errno == EEXIST ? ZB_EEXIST : ZB_EIO, errno, "cannot publish %s", f->final_path);
        unlink(f->temp_path);
    }
    f->committed = 1;
    return zb_fs_fsync_dir(f->dir);
}

void zb_atomic_file_abort(zb_atomic_file *f)
{
    if (!f)
        return;
    if (f->fd >= 0)
        close(f->fd);
    if (!f->committed && f->temp_path[0] && !strstr(f->temp_path, "XXXXXX"))
        unlink(f->temp_path);
    free(f);
}

void zb_atomic_file_abandon(zb_atomic_file *f)
{
    if (!f)
        return;
    if (!f->committed && f->temp_path[0] && !strstr(f->temp_path, "XXXXXX"))
        unlink(f->temp_path);
    free(f); /* the descriptor stays open: a thread may still write to it */
}

int zb_fs_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    char temp[PATH_MAX];
    if (snprintf(temp, sizeof(temp), "%s.tmp-%ld", path, (long)getpid()) >= (int)sizeof(temp))
        return zb_error_set(ZB_EFAIL, "path too long: %s", path);
    int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return zb_error_errno(ZB_EIO, errno, "cannot create %s", temp);
    int rc = zb_fs_write_all(fd, data, len, temp);
    if (rc == 0 && fsync(fd) < 0)
        rc = zb_error_errno(ZB_EIO, errno, "cannot fsync %s", temp);
    if (close(fd) < 0 && rc == 0)
        rc = zb_error_errno(ZB_EIO, errno, "cannot close %s", temp);
    if (rc == 0 && rename(temp, path) < 0)
        rc = zb_error_errno(ZB_EIO, errno, "cannot rename %s to %s", temp, path);
    if (rc < 0)
        unlink(temp);
    return rc;
}

int zb_fs_write_new_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        if (errno == EEXIST)
            return zb_error_set(ZB_EEXIST, "%s already exists; refusing to overwrite a key file", path);
        return zb_error_errno(ZB_EIO, errno, "cannot create %s", path);
    }
    int rc = zb_fs_write_all(fd, text, strlen(text), path);
    if (rc == 0 && fsync(fd) < 0)
        rc = zb_error_errno(ZB_EIO, errno, "cannot fsync %s", path);
    close(fd);
    if (rc < 0)
        unlink(path);
    return rc;
}
