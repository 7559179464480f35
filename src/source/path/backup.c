#include "zakpos_backup/source/path/path.h"
#include "zakpos_backup/source/path/prefetch.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/signal.h"

#include <archive.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int zb_path_parse_spec(char **name, char **dir, const char *spec)
{
    *name = *dir = NULL;
    const char *eq = strchr(spec, '=');
    const char *slash = strchr(spec, '/');
    /* "a=b" names the source; a '=' after the first '/' is part of the path. */
    if (eq && (!slash || eq < slash)) {
        *name = strndup(spec, (size_t)(eq - spec));
        *dir = zb_strdup(eq + 1);
    } else {
        *dir = zb_strdup(spec);
        size_t len = strlen(spec);
        while (len > 1 && spec[len - 1] == '/')
            len--;
        const char *start = spec + len;
        while (start > spec && start[-1] != '/')
            start--;
        *name = strndup(start, (size_t)(spec + len - start));
    }
    if (!*name || !*dir)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    if (**dir == '\0')
        return zb_error_set(ZB_EUSAGE, "--path %s names no folder", spec);
    return 0;
}

/* The entry's name relative to the source root ("." for the root itself). */
static int relative_name(char **out, const char *full, const char *root, int root_is_file)
{
    if (root_is_file) {
        const char *base = strrchr(root, '/');
        *out = zb_strdup(base ? base + 1 : root);
    } else {
        size_t n = strlen(root);
        while (n > 1 && root[n - 1] == '/')
            n--;
        if (strncmp(full, root, n) != 0)
            return zb_error_set(ZB_EFAIL, "%s is not below %s", full, root);
        const char *rest = full + n;
        while (*rest == '/')
            rest++;
        *out = zb_strdup(*rest ? rest : ".");
    }
    return *out ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
}

static int copy_file_data(zb_archive_writer *w, struct archive *disk, struct archive_entry *e, const char *full)
{
    const void *buf;
    size_t len;
    la_int64_t offset;
    int64_t pos = 0, size = archive_entry_size(e);
    int rc, ar;
    while ((ar = archive_read_data_block(disk, &buf, &len, &offset)) == ARCHIVE_OK) {
        if ((rc = zb_check_interrupt()) < 0)
            return rc;
        if (offset > pos && (rc = zb_archive_writer_write_zeros(w, (uint64_t)(offset - pos))) < 0)
            return rc;
        if (len && (rc = zb_archive_writer_write(w, buf, len)) < 0)
            return rc;
        pos = offset + (int64_t)len;
    }
    if (ar != ARCHIVE_EOF)
        return zb_error_set(ZB_EIO, "cannot read %s: %s", full, archive_error_string(disk));
    if (pos < size)
        return zb_archive_writer_write_zeros(w, (uint64_t)(size - pos)); /* a trailing hole */
    return 0;
}

static int add_entry(zb_archive_writer *w, struct archive *disk, struct archive_entry_linkresolver *links,
                     zb_prefetch *prefetch, struct archive_entry *e, const char *root, int root_is_file,
                     const char *prefix)
{
    char *full = zb_strdup(archive_entry_pathname(e));
    char *relative = NULL;
    struct archive_entry *spare = NULL;
    int rc = full ? relative_name(&relative, full, root, root_is_file) : zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc < 0)
        goto done;
    if (prefix) { /* "." is the prefix folder itself */
        zb_buf b = ZB_BUF_INIT;
        rc = strcmp(relative, ".") == 0 ? zb_buf_puts(&b, prefix) : zb_buf_printf(&b, "%s/%s", prefix, relative);
        free(relative);
        relative = zb_buf_detach(&b);
        zb_buf_free(&b);
        if (rc < 0 || !relative) {
            rc = rc < 0 ? rc : zb_error_set(ZB_ENOMEM, "out of memory");
            goto done;
        }
    }
    if (archive_entry_filetype(e) == AE_IFSOCK) {
        zb_log_detail("skipping socket %s: a socket has no content to back up", full);
        goto done;
    }
    archive_entry_set_pathname(e, relative);
    /* Later names of a hard-linked file become links to the first name. */
    archive_entry_linkify(links, &e, &spare);
    if ((rc = zb_archive_writer_begin_entry(w, e)) < 0)
        goto done;
    if (archive_entry_filetype(e) == AE_IFREG && !archive_entry_hardlink(e)) {
        if ((rc = copy_file_data(w, disk, e, full)) < 0)
            goto done;
        zb_prefetch_advance(prefetch, (uint64_t)archive_entry_size(e));
    }
    rc = zb_archive_writer_end_entry(w);
done:
    if (rc < 0)
        zb_error_context("backup of %s", full ? full : root);
    archive_entry_free(spare);
    free(relative);
    free(full);
    return rc;
}

/* Reads root (a folder, or a file when root_is_file) into the current
 * source, names under prefix when given. */
static int add_tree(zb_archive_writer *w, const char *root, int root_is_file, const char *prefix)
{
    int rc = 0;
    struct archive *disk = archive_read_disk_new();
    struct archive_entry_linkresolver *links = archive_entry_linkresolver_new();
    struct archive_entry *e = archive_entry_new();
    zb_prefetch *prefetch = NULL;
    if (!disk || !links || !e) {
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
        goto done;
    }
    archive_entry_linkresolver_set_strategy(links, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
    archive_read_disk_set_standard_lookup(disk);
    archive_read_disk_set_behavior(disk, 0);
    if (archive_read_disk_open(disk, root) != ARCHIVE_OK) {
        rc = zb_error_set(ZB_EIO, "cannot open %s: %s", root, archive_error_string(disk));
        goto done;
    }
    zb_prefetch_start(&prefetch, root, ZB_PREFETCH_WINDOW, 0);
    for (;;) {
        archive_entry_clear(e);
        int ar = archive_read_next_header2(disk, e);
        if (ar == ARCHIVE_EOF)
            break;
        if (ar == ARCHIVE_WARN)
            zb_log_warn("%s: %s", archive_entry_pathname(e), archive_error_string(disk));
        else if (ar != ARCHIVE_OK) {
            rc = zb_error_set(ZB_EIO, "cannot read %s: %s", root, archive_error_string(disk));
            goto done;
        }
        archive_read_disk_descend(disk);
        if ((rc = add_entry(w, disk, links, prefetch, e, root, root_is_file, prefix)) < 0)
            goto done;
    }
done:
    zb_prefetch_stop(prefetch);
    archive_entry_free(e);
    archive_entry_linkresolver_free(links);
    if (disk)
        archive_read_free(disk);
    return rc;
}

int zb_path_add_tree(zb_archive_writer *w, const char *dir, const char *prefix)
{
    char root[PATH_MAX];
    if (!realpath(dir, root))
        return zb_error_errno(errno == ENOENT ? ZB_ENOTFOUND : ZB_EIO, errno, "cannot resolve %s", dir);
    return add_tree(w, root, 0, prefix);
}

int zb_path_backup(zb_archive_writer *w, const char *name, const char *dir)
{
    char root[PATH_MAX];
    struct stat st;
    if (!realpath(dir, root))
        return zb_error_errno(errno == ENOENT ? ZB_ENOTFOUND : ZB_EIO, errno, "path source %s: cannot resolve %s", name,
                              dir);
    if (stat(root, &st) < 0)
        return zb_error_errno(ZB_EIO, errno, "path source %s: cannot stat %s", name, root);
    int root_is_file = !S_ISDIR(st.st_mode);
    int rc = zb_archive_writer_begin_source(
        w, ZB_SOURCE_PATH, name, json_pack("{s:s, s:s}", "host_path", root, "root", root_is_file ? "file" : "dir"));
    if (rc == 0)
        rc = add_tree(w, root, root_is_file, NULL);
    if (rc == 0)
        rc = zb_archive_writer_end_source(w, NULL);
    if (rc < 0)
        zb_error_context("path source %s", name);
    return rc;
}
