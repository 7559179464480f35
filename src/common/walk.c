#include "zakpos_backup/common/walk.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct walk {
    zb_walk_fn visit;
    void *payload;
    dev_t dev;
    zb_buf name; /* the relative name being visited; grows and shrinks */
} walk;

static int walk_folder(walk *w, int dir_fd);

/* One entry of an open folder; w->name already holds its name. */
static int walk_entry(walk *w, int dir_fd, const char *base)
{
    struct stat st;
    if (fstatat(dir_fd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return zb_error_errno(ZB_EIO, errno, "cannot stat %s", w->name.data);
    int rc = w->visit(w->name.data, &st, w->payload);
    if (rc < 0 || !S_ISDIR(st.st_mode) || st.st_dev != w->dev)
        return rc;
    int fd = openat(dir_fd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return zb_error_errno(ZB_EIO, errno, "cannot open %s", w->name.data);
    return walk_folder(w, fd); /* closes fd */
}

static int walk_folder(walk *w, int dir_fd)
{
    DIR *dir = fdopendir(dir_fd);
    if (!dir) {
        close(dir_fd);
        return zb_error_errno(ZB_EIO, errno, "cannot read %s", w->name.len ? w->name.data : ".");
    }
    size_t parent_len = w->name.len; /* 0: the root, whose children have no prefix */
    int rc = 0;
    struct dirent *d;
    errno = 0;
    while (rc == 0 && (d = readdir(dir)) != NULL) {
        if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
            continue;
        w->name.len = parent_len;
        rc = zb_buf_printf(&w->name, parent_len ? "/%s" : "%s", d->d_name);
        if (rc == 0)
            rc = walk_entry(w, dirfd(dir), d->d_name);
        errno = 0;
    }
    if (rc == 0 && errno)
        rc = zb_error_errno(ZB_EIO, errno, "cannot read a folder below %s", parent_len ? w->name.data : ".");
    w->name.len = parent_len;
    if (w->name.data)
        w->name.data[parent_len] = '\0';
    closedir(dir);
    return rc;
}

int zb_walk_tree(const char *root, zb_walk_fn visit, void *payload)
{
    walk w = {visit, payload, 0, ZB_BUF_INIT};
    struct stat st;
    int rc = 0;
    if (lstat(root, &st) < 0)
        rc = zb_error_errno(ZB_EIO, errno, "cannot stat %s", root);
    if (rc == 0) {
        w.dev = st.st_dev;
        rc = visit(".", &st, payload);
    }
    if (rc == 0 && S_ISDIR(st.st_mode)) {
        int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        rc = fd < 0 ? zb_error_errno(ZB_EIO, errno, "cannot open %s", root) : walk_folder(&w, fd);
    }
    zb_buf_free(&w.name);
    return rc;
}

static int count_one(const char *relative, const struct stat *st, void *payload)
{
    (void)relative;
    zb_walk_count *c = payload;
    if (S_ISSOCK(st->st_mode))
        c->sockets++;
    else
        c->entries++;
    return 0;
}

int zb_walk_count_tree(zb_walk_count *out, const char *root)
{
    memset(out, 0, sizeof(*out));
    return zb_walk_tree(root, count_one, out);
}

typedef struct missing_names {
    zb_buf *out;
    uint64_t *missing;
    char *const *have;
    size_t count, limit;
} missing_names;

static int compare_names(const void *a, const void *b) { return strcmp(a, *(char *const *)b); }

/* One line of a list of missing entries. */
static int name_entry(zb_buf *out, const char *relative)
{
    size_t n = strlen(relative);
    if (n <= 240)
        return zb_buf_printf(out, "\n  %s", relative);
    /* a deep path is named by its ends, so the message stays readable */
    return zb_buf_printf(out, "\n  %.100s...%s (%zu bytes)", relative, relative + n - 120, n);
}

static int note_missing(const char *relative, const struct stat *st, void *payload)
{
    missing_names *m = payload;
    if (S_ISSOCK(st->st_mode) || bsearch(relative, m->have, m->count, sizeof(*m->have), compare_names))
        return 0;
    if ((*m->missing)++ >= m->limit)
        return 0;
    return name_entry(m->out, relative);
}

int zb_walk_list_missing(zb_buf *out, uint64_t *missing, const char *root, char *const *have, size_t count,
                         size_t limit)
{
    *missing = 0;
    missing_names m = {out, missing, have, count, limit};
    return zb_walk_tree(root, note_missing, &m);
}

/* lstat of a name below an open folder, no link followed; a name longer
 * than PATH_MAX is taken one folder at a time. 0, or -1 with errno set. */
static int stat_below(int root_fd, const char *relative, struct stat *st)
{
    if (fstatat(root_fd, relative, st, AT_SYMLINK_NOFOLLOW) == 0)
        return 0;
    if (errno != ENAMETOOLONG)
        return -1;
    char part[NAME_MAX + 1];
    int fd = dup(root_fd), rc = -1;
    for (const char *p = relative; fd >= 0;) {
        size_t n = strcspn(p, "/");
        if (n > NAME_MAX) {
            errno = ENAMETOOLONG;
            break;
        }
        memcpy(part, p, n);
        part[n] = '\0';
        if (p[n] == '\0') {
            rc = fstatat(fd, part, st, AT_SYMLINK_NOFOLLOW);
            break;
        }
        int next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(fd);
        fd = next;
        p += n + 1;
    }
    int saved = errno;
    if (fd >= 0)
        close(fd);
    errno = saved;
    return rc;
}

int zb_walk_list_absent(zb_buf *out, uint64_t *missing, const char *root, FILE *names, size_t limit)
{
    *missing = 0;
    int root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        return zb_error_errno(ZB_EIO, errno, "cannot open %s", root);
    char *name = NULL;
    size_t cap = 0;
    int rc = 0;
    struct stat st;
    rewind(names);
    while (rc == 0 && getdelim(&name, &cap, '\0', names) > 0) {
        if (stat_below(root_fd, name, &st) < 0 && (*missing)++ < limit)
            rc = name_entry(out, name);
    }
    if (rc == 0 && ferror(names))
        rc = zb_error_set(ZB_EIO, "cannot read back the names of the entries written");
    free(name);
    close(root_fd);
    return rc;
}
