#include "zakpos_backup/source/path/path.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/progress.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/source/path/links.h"

#include <archive.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct zb_path_restore {
    char *name;
    char *target; /* absolute, parent resolved; may be NULL until the meta is known */
    char staging[PATH_MAX];
    int force;
    int published;
    struct archive *disk;
    zb_link_guard *links; /* with libarchive's SECURE_SYMLINKS: nothing is written through a restored link */
    uint64_t entries;
    int root_times_set;
    struct timespec root_times[2]; /* the root folder's: set once nothing more is written into it */
    struct deep_folder *deep;      /* folders libarchive cannot give their times back (see set_deep_times) */
    size_t deep_count, deep_cap;
};

/* A folder whose name is longer than PATH_MAX: libarchive sets a folder's
 * times once everything is written, by its full name, which fails there
 * without a word; these are set afterwards, one component at a time. */
typedef struct deep_folder {
    char *relative;
    struct timespec times[2];
} deep_folder;

/* A folder to restore into: absent, or empty, or (with force) anything. */
static int check_target(const char *target, int force)
{
    struct stat st;
    if (lstat(target, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        return zb_error_errno(ZB_EIO, errno, "cannot stat %s", target);
    }
    if (!S_ISDIR(st.st_mode))
        return zb_error_set(ZB_EEXIST, "%s exists and is not a folder", target);
    int empty = zb_fs_dir_is_empty(target);
    if (empty < 0)
        return empty;
    if (!empty && !force)
        return zb_error_set(ZB_EEXIST, "%s exists and is not empty; nothing was restored", target)
                   ? zb_error_hint("restore into a new folder, or add --force to replace its content")
                   : 0;
    return 0;
}

/* Resolves the parent folder (so no symlink lies on the way) and creates it. */
static int resolve_target(char **out, const char *target)
{
    char copy[PATH_MAX], parent[PATH_MAX], base[NAME_MAX + 1];
    int rc;
    if ((rc = zb_strlcpy_checked(copy, sizeof(copy), target)) < 0)
        return rc;
    size_t n = strlen(copy);
    while (n > 1 && copy[n - 1] == '/')
        copy[--n] = '\0';
    char tmp[PATH_MAX];
    memcpy(tmp, copy, n + 1);
    if ((rc = zb_strlcpy_checked(base, sizeof(base), basename(tmp))) < 0)
        return rc;
    memcpy(tmp, copy, n + 1);
    const char *dir = dirname(tmp);
    if ((rc = zb_fs_mkdir_p(dir, 0755)) < 0)
        return rc;
    if (!realpath(dir, parent))
        return zb_error_errno(ZB_EIO, errno, "cannot resolve %s", dir);
    if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0 || strcmp(base, "/") == 0)
        return zb_error_set(ZB_EUSAGE, "'%s' cannot be a restore target; name a folder", target);
    zb_buf b = ZB_BUF_INIT;
    if ((rc = zb_buf_printf(&b, "%s/%s", strcmp(parent, "/") == 0 ? "" : parent, base)) < 0) {
        zb_buf_free(&b);
        return rc;
    }
    *out = zb_buf_detach(&b);
    return 0;
}

static int remember_deep_folder(zb_path_restore *p, const char *relative, struct archive_entry *e)
{
    if (p->deep_count == p->deep_cap) {
        size_t cap = p->deep_cap ? p->deep_cap * 2 : 8;
        deep_folder *grown = realloc(p->deep, cap * sizeof(*grown));
        if (!grown)
            return zb_error_set(ZB_ENOMEM, "out of memory");
        p->deep = grown, p->deep_cap = cap;
    }
    deep_folder *f = &p->deep[p->deep_count];
    if (!(f->relative = zb_strdup(relative)))
        return zb_error_set(ZB_ENOMEM, "out of memory");
    f->times[1].tv_sec = archive_entry_mtime(e), f->times[1].tv_nsec = archive_entry_mtime_nsec(e);
    f->times[0] = f->times[1];
    p->deep_count++;
    return 0;
}

/* Opens the folder holding `relative` below root, one component at a
 * time (never following a link); *base points at the last component. */
static int open_parent(int *out, const char *root, const char *relative, const char **base)
{
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const char *at = relative, *slash;
    char component[NAME_MAX + 1];
    while (fd >= 0 && (slash = strchr(at, '/')) != NULL) {
        size_t n = (size_t)(slash - at);
        if (n > NAME_MAX) {
            close(fd);
            return zb_error_set(ZB_EIO, "a name in %s is too long", relative);
        }
        memcpy(component, at, n);
        component[n] = '\0';
        int next = openat(fd, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(fd);
        fd = next;
        at = slash + 1;
    }
    if (fd < 0)
        return zb_error_errno(ZB_EIO, errno, "cannot open the folder of %.200s...", relative);
    *out = fd;
    *base = at;
    return 0;
}

static int set_deep_times(zb_path_restore *p)
{
    int rc = 0;
    for (size_t i = p->deep_count; rc == 0 && i-- > 0;) { /* deepest last written, so first */
        int fd;
        const char *base;
        if ((rc = open_parent(&fd, p->staging, p->deep[i].relative, &base)) < 0)
            break;
        if (utimensat(fd, base, p->deep[i].times, AT_SYMLINK_NOFOLLOW) < 0)
            rc = zb_error_errno(ZB_EIO, errno, "cannot set the times of %.200s...", p->deep[i].relative);
        close(fd);
    }
    return rc;
}

static int prepare(zb_path_restore *p)
{
    int rc;
    if ((rc = check_target(p->target, p->force)) < 0)
        return rc;
    char tmp[PATH_MAX];
    memcpy(tmp, p->target, strlen(p->target) + 1);
    const char *base = basename(tmp);
    char parent_buf[PATH_MAX];
    memcpy(parent_buf, p->target, strlen(p->target) + 1);
    const char *parent = dirname(parent_buf);
    /* Beside the target, so publishing is a rename on the same file system. */
    if (snprintf(p->staging, sizeof(p->staging), "%s/.%s.zb-restore-XXXXXX", parent, base) >= (int)sizeof(p->staging))
        return zb_error_set(ZB_EUSAGE, "path too long: %s", p->target);
    if (!mkdtemp(p->staging)) {
        p->staging[0] = '\0';
        return zb_error_errno(ZB_EIO, errno, "cannot create a staging folder beside %s", p->target);
    }
    p->disk = archive_write_disk_new();
    if (!p->disk)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    int flags = ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_ACL | ARCHIVE_EXTRACT_XATTR |
                ARCHIVE_EXTRACT_FFLAGS | ARCHIVE_EXTRACT_SPARSE | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                ARCHIVE_EXTRACT_SECURE_NODOTDOT;
    if (geteuid() == 0)
        flags |= ARCHIVE_EXTRACT_OWNER;
    archive_write_disk_set_options(p->disk, flags);
    archive_write_disk_set_standard_lookup(p->disk);
    return 0;
}

int zb_path_restore_begin(zb_path_restore **out, const char *name, const char *target, int force)
{
    *out = NULL;
    zb_path_restore *p = calloc(1, sizeof(*p));
    if (!p)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    p->force = force;
    p->name = zb_strdup(name);
    int rc = p->name ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0 && (rc = resolve_target(&p->target, target)) == 0 && (rc = zb_link_guard_new(&p->links)) == 0)
        rc = prepare(p);
    if (rc < 0) {
        zb_error_context("restore of path %s", name);
        zb_path_restore_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

const char *zb_path_restore_target(const zb_path_restore *p) { return p->target; }

static int staged_name(zb_buf *b, const zb_path_restore *p, const char *relative)
{
    zb_buf_reset(b);
    return strcmp(relative, ".") == 0 ? zb_buf_puts(b, p->staging) : zb_buf_printf(b, "%s/%s", p->staging, relative);
}

static int write_data(zb_path_restore *p, zb_archive_reader *r, const char *relative)
{
    const void *data;
    size_t len;
    int64_t offset;
    int rc;
    while ((rc = zb_archive_reader_read_block(r, &data, &len, &offset)) > 0) {
        if (archive_write_data_block(p->disk, data, len, offset) < ARCHIVE_WARN)
            return zb_error_set(ZB_EIO, "cannot write %s: %s", relative, archive_error_string(p->disk));
        if ((rc = zb_check_interrupt()) < 0)
            return rc;
    }
    return rc;
}

int zb_path_restore_entry(zb_path_restore *p, zb_archive_reader *r, struct archive_entry *entry,
                          const zb_entry_info *info)
{
    int rc = 0;
    zb_buf name = ZB_BUF_INIT, link = ZB_BUF_INIT;
    struct archive_entry *e = archive_entry_clone(entry);
    if (!e) {
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = zb_link_guard_entry(p->links, info->relative, info->hardlink_relative, entry, p->target)) < 0 ||
        (rc = staged_name(&name, p, info->relative)) < 0)
        goto done;
    archive_entry_set_pathname(e, name.data);
    if (info->hardlink_relative) {
        if ((rc = staged_name(&link, p, info->hardlink_relative)) < 0)
            goto done;
        archive_entry_set_hardlink(e, link.data);
    }
    if (strcmp(info->relative, ".") == 0 && archive_entry_filetype(entry) == AE_IFDIR) {
        /* libarchive leaves an existing folder's times alone, and the staging
         * folder exists: its times are set at the end */
        p->root_times[0].tv_sec = archive_entry_atime(entry),
        p->root_times[0].tv_nsec = archive_entry_atime_nsec(entry);
        p->root_times[1].tv_sec = archive_entry_mtime(entry),
        p->root_times[1].tv_nsec = archive_entry_mtime_nsec(entry);
        if (!archive_entry_atime_is_set(entry))
            p->root_times[0] = p->root_times[1];
        p->root_times_set = 1;
    }
    if (archive_entry_filetype(entry) == AE_IFDIR && name.len >= PATH_MAX &&
        (rc = remember_deep_folder(p, info->relative, entry)) < 0)
        goto done;
    int ar = archive_write_header(p->disk, e);
    if (ar < ARCHIVE_WARN) {
        rc = zb_error_set(ZB_EUNSAFE, "cannot restore %s: %s", info->relative, archive_error_string(p->disk));
        goto done;
    }
    if (ar == ARCHIVE_WARN)
        zb_log_warn("restore of %s: %s", info->relative, archive_error_string(p->disk));
    if (archive_entry_filetype(entry) == AE_IFREG && !info->hardlink_relative &&
        (rc = write_data(p, r, info->relative)) < 0)
        goto done;
    if (archive_write_finish_entry(p->disk) < ARCHIVE_WARN) {
        rc = zb_error_set(ZB_EIO, "cannot finish %s: %s", info->relative, archive_error_string(p->disk));
        goto done;
    }
    p->entries++;
done:
    if (rc < 0)
        zb_error_context("restore of path %s", p->name);
    archive_entry_free(e);
    zb_buf_free(&name);
    zb_buf_free(&link);
    return rc;
}

/* Swaps the staging folder in for the target; with force, the old content is
 * moved aside first and removed only once the new one is in place. */
static int publish(zb_path_restore *p)
{
    int rc = check_target(p->target, p->force);
    if (rc < 0)
        return rc;
    char aside[PATH_MAX] = "";
    struct stat st;
    if (lstat(p->target, &st) == 0) {
        if (zb_fs_dir_is_empty(p->target) == 1) {
            if (rmdir(p->target) < 0)
                return zb_error_errno(ZB_EIO, errno, "cannot replace %s", p->target);
        } else {
            if (snprintf(aside, sizeof(aside), "%s.zb-old-%ld", p->target, (long)getpid()) >= (int)sizeof(aside))
                return zb_error_set(ZB_EUSAGE, "path too long: %s", p->target);
            if (rename(p->target, aside) < 0)
                return zb_error_errno(ZB_EIO, errno, "cannot move %s aside", p->target);
        }
    }
    if (rename(p->staging, p->target) < 0) {
        rc = zb_error_errno(ZB_EIO, errno, "cannot move the restored files to %s", p->target);
        if (aside[0])
            rename(aside, p->target);
        return rc;
    }
    p->published = 1;
    if (aside[0] && zb_fs_remove_tree(aside) < 0)
        zb_log_warn("the previous content of %s is left in %s: %s", p->target, aside, zb_error_message());
    char parent[PATH_MAX];
    memcpy(parent, p->target, strlen(p->target) + 1);
    return zb_fs_fsync_dir(dirname(parent));
}

int zb_path_restore_finish(zb_path_restore *p, zb_archive_reader *r)
{
    (void)r;
    zb_progress_phase("publishing the folders", 0);
    if (archive_write_close(p->disk) != ARCHIVE_OK) /* applies deferred directory times and modes */
        return zb_error_set(ZB_EIO, "restore of path %s: %s", p->name, archive_error_string(p->disk));
    if (set_deep_times(p) < 0)
        return zb_error_context("restore of path %s", p->name);
    if (p->root_times_set && utimensat(AT_FDCWD, p->staging, p->root_times, 0) < 0)
        return zb_error_errno(ZB_EIO, errno, "restore of path %s: cannot set the times of %s", p->name, p->staging);
    if (publish(p) < 0)
        return zb_error_context("restore of path %s", p->name);
    return 0;
}

void zb_path_restore_free(zb_path_restore *p)
{
    if (!p)
        return;
    if (p->disk)
        archive_write_free(p->disk);
    if (!p->published && p->staging[0] && zb_fs_remove_tree(p->staging) < 0)
        zb_log_warn("cannot remove the staging folder %s: %s", p->staging, zb_error_message());
    zb_link_guard_free(p->links);
    for (size_t i = 0; i < p->deep_count; i++)
        free(p->deep[i].relative);
    free(p->deep);
    free(p->name);
    free(p->target);
    free(p);
}
