/* The backup side: a walk of the volume by descriptors (openat relative to
 * the parent, so a path of any length is reached and no link is followed),
 * each entry written as a ustar header preceded by a pax header whenever a
 * value does not fit ustar: long or non-ASCII names (hdrcharset=BINARY, the
 * bytes as they are), nanosecond or pre-1970 times, large ids and sizes,
 * every xattr (SCHILY.xattr.*, ACLs and security.capability included), and
 * files with holes in GNU sparse format 1.0, found with SEEK_DATA/SEEK_HOLE.
 * Hard links are found by device and inode. */
#include "agent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define XATTR_LIST_MAX_BYTES  (64 * 1024)
#define XATTR_VALUE_MAX_BYTES (64 * 1024)

typedef struct link_slot {
    dev_t dev;
    ino_t ino;
    char *name;
} link_slot;

typedef struct writer {
    int fd;
    char *out; /* AGENT_IO_BYTES */
    size_t out_len;
    link_slot *links; /* open addressing, by (dev, ino) */
    size_t link_cap, link_count;
    char *data; /* AGENT_IO_BYTES, file content */
} writer;

typedef struct segment {
    off_t offset, length;
} segment;

/* ----------------------------------------------------------- the output */

static int flush_out(writer *w)
{
    int rc = agent_write_all(w->fd, w->out, w->out_len);
    w->out_len = 0;
    return rc;
}

static int put(writer *w, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        if (w->out_len == AGENT_IO_BYTES && flush_out(w) < 0)
            return -1;
        size_t n = AGENT_IO_BYTES - w->out_len < len ? AGENT_IO_BYTES - w->out_len : len;
        memcpy(w->out + w->out_len, p, n);
        w->out_len += n, p += n, len -= n;
    }
    return 0;
}

static int put_zeros(writer *w, size_t len)
{
    static const char zeros[AGENT_BLOCK];
    while (len > 0) {
        size_t n = len < sizeof(zeros) ? len : sizeof(zeros);
        if (put(w, zeros, n) < 0)
            return -1;
        len -= n;
    }
    return 0;
}

static int pad_block(writer *w, uint64_t written)
{
    size_t rest = (size_t)(written % AGENT_BLOCK);
    return rest ? put_zeros(w, AGENT_BLOCK - rest) : 0;
}

/* ------------------------------------------------------------ the header */

/* One pax record: "LEN KEY=VALUE\n", LEN counting itself. */
static int pax_record(abuf *b, const char *key, const void *value, size_t value_len)
{
    size_t body = strlen(key) + value_len + 3; /* ' ', '=', '\n' */
    size_t len = body + 1;
    while (1) {
        char digits[32];
        size_t n = (size_t)snprintf(digits, sizeof(digits), "%zu", len);
        if (body + n == len)
            break;
        len = body + n;
    }
    if (abuf_printf(b, "%zu %s=", len, key) < 0 || abuf_append(b, value, value_len) < 0)
        return -1;
    return abuf_append(b, "\n", 1);
}

static int pax_number(abuf *b, const char *key, long long value)
{
    char text[32];
    int n = snprintf(text, sizeof(text), "%lld", value);
    return pax_record(b, key, text, (size_t)n);
}

/* libarchive's reading of a pax time: signed seconds, then the nanoseconds
 * as a positive fraction; the tool reads this stream with libarchive. */
static int pax_time(abuf *b, const char *key, const struct timespec *t)
{
    char text[64];
    int n = snprintf(text, sizeof(text), "%lld.%09ld", (long long)t->tv_sec, t->tv_nsec);
    return pax_record(b, key, text, (size_t)n);
}

/* An octal field, or 0 when the value needs the pax record (*fits 0). */
static int octal(char *field, size_t size, unsigned long long value)
{
    char text[32];
    int n = snprintf(text, sizeof(text), "%0*llo", (int)size - 1, value);
    if ((size_t)n > size - 1) {
        memset(field, '0', size - 1);
        field[size - 1] = '\0';
        return 0;
    }
    memcpy(field, text, size);
    return 1;
}

static int plain_ascii(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

static int write_ustar(writer *w, const char *name, char type, const struct stat *st, uint64_t size, const char *link,
                       abuf *pax)
{
    unsigned char h[AGENT_BLOCK];
    memset(h, 0, sizeof(h));
    size_t name_len = strlen(name), link_len = link ? strlen(link) : 0;
    int binary = !plain_ascii(name, name_len) || (link && !plain_ascii(link, link_len));
    if (pax && binary && pax_record(pax, "hdrcharset", "BINARY", 6) < 0)
        return -1;
    if (pax && (name_len > 100 || binary) && pax_record(pax, "path", name, name_len) < 0)
        return -1;
    if (pax && link && (link_len > 100 || binary) && pax_record(pax, "linkpath", link, link_len) < 0)
        return -1;
    memcpy(h, name, name_len < 100 ? name_len : 100);
    if (link)
        memcpy(h + 157, link, link_len < 100 ? link_len : 100);
    octal((char *)h + 100, 8, st ? (unsigned)(st->st_mode & 07777) : 0644);
    if (!octal((char *)h + 108, 8, st ? st->st_uid : 0) && pax && pax_number(pax, "uid", st->st_uid) < 0)
        return -1;
    if (!octal((char *)h + 116, 8, st ? st->st_gid : 0) && pax && pax_number(pax, "gid", st->st_gid) < 0)
        return -1;
    if (!octal((char *)h + 124, 12, size) && pax && pax_number(pax, "size", (long long)size) < 0)
        return -1;
    if (st) {
        int whole = st->st_mtim.tv_nsec == 0 && st->st_mtim.tv_sec >= 0;
        if (!(whole && octal((char *)h + 136, 12, (unsigned long long)st->st_mtim.tv_sec)) &&
            pax_time(pax, "mtime", &st->st_mtim) < 0)
            return -1;
    } else {
        octal((char *)h + 136, 12, 0);
    }
    h[156] = (unsigned char)type;
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    if (st && (type == '3' || type == '4')) {
        if (!octal((char *)h + 329, 8, major(st->st_rdev)) &&
            pax_number(pax, "SCHILY.devmajor", major(st->st_rdev)) < 0)
            return -1;
        if (!octal((char *)h + 337, 8, minor(st->st_rdev)) &&
            pax_number(pax, "SCHILY.devminor", minor(st->st_rdev)) < 0)
            return -1;
    }
    if (pax && pax->len) {
        /* the extended header first, then this one */
        if (write_ustar(w, "./PaxHeaders/entry", 'x', NULL, pax->len, NULL, NULL) < 0 ||
            put(w, pax->data, pax->len) < 0 || pad_block(w, pax->len) < 0)
            return -1;
    }
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (size_t i = 0; i < sizeof(h); i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    h[155] = ' ';
    return put(w, h, sizeof(h));
}

/* ---------------------------------------------------------- attributes */

/* name NULL: the folder dir_fd itself (its /proc link is followed). */
static int add_xattrs(abuf *pax, int dir_fd, const char *name, const char *shown)
{
    char path[4096 + 64];
    agent_proc_path(path, sizeof(path), dir_fd, name);
    static char names[XATTR_LIST_MAX_BYTES];
    static char value[XATTR_VALUE_MAX_BYTES];
    ssize_t n = name ? llistxattr(path, names, sizeof(names)) : listxattr(path, names, sizeof(names));
    if (n < 0)
        return errno == ENOTSUP || errno == ENODATA ? 0
                                                    : agent_fail_errno(errno, "cannot list the xattrs of %s", shown);
    for (ssize_t i = 0; i < n; i += (ssize_t)strlen(names + i) + 1) {
        ssize_t len =
            name ? lgetxattr(path, names + i, value, sizeof(value)) : getxattr(path, names + i, value, sizeof(value));
        if (len < 0)
            return agent_fail_errno(errno, "cannot read xattr %s of %s", names + i, shown);
        abuf key = {0};
        int rc = abuf_printf(&key, "SCHILY.xattr.%s", names + i);
        if (rc == 0)
            rc = pax_record(pax, key.data, value, (size_t)len);
        abuf_free(&key);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* ---------------------------------------------------------- hard links */

static size_t link_hash(dev_t dev, ino_t ino) { return (size_t)((ino * 0x9E3779B97F4A7C15ull) ^ dev); }

/* The first name of this inode, or NULL (and it is remembered as name). */
static const char *link_seen(writer *w, const struct stat *st, const char *name)
{
    if (w->link_count * 2 >= w->link_cap) {
        size_t cap = w->link_cap ? w->link_cap * 2 : 1024;
        link_slot *grown = calloc(cap, sizeof(*grown));
        if (!grown)
            return NULL;
        for (size_t i = 0; i < w->link_cap; i++) {
            if (!w->links[i].name)
                continue;
            size_t j = link_hash(w->links[i].dev, w->links[i].ino) % cap;
            while (grown[j].name)
                j = (j + 1) % cap;
            grown[j] = w->links[i];
        }
        free(w->links);
        w->links = grown, w->link_cap = cap;
    }
    size_t j = link_hash(st->st_dev, st->st_ino) % w->link_cap;
    for (; w->links[j].name; j = (j + 1) % w->link_cap)
        if (w->links[j].dev == st->st_dev && w->links[j].ino == st->st_ino)
            return w->links[j].name;
    w->links[j].dev = st->st_dev;
    w->links[j].ino = st->st_ino;
    w->links[j].name = strdup(name);
    w->link_count++;
    return NULL;
}

/* ------------------------------------------------------------- content */

static int read_full(int fd, char *buf, size_t len, off_t at, const char *shown)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, buf + done, len - done, at + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return agent_fail_errno(errno, "cannot read %s", shown);
        if (n == 0)
            return agent_fail("%s changed while it was read (it became shorter)", shown);
        done += (size_t)n;
    }
    return 0;
}

static int copy_range(writer *w, int fd, off_t at, off_t length, const char *shown)
{
    while (length > 0) {
        size_t n = length < (off_t)AGENT_IO_BYTES ? (size_t)length : AGENT_IO_BYTES;
        if (read_full(fd, w->data, n, at, shown) < 0 || put(w, w->data, n) < 0)
            return -1;
        at += (off_t)n, length -= (off_t)n;
    }
    return 0;
}

/* The data segments of a file with holes; *count 0 when it has none. */
static int find_segments(int fd, off_t size, segment **out, size_t *count)
{
    *out = NULL, *count = 0;
    off_t hole = lseek(fd, 0, SEEK_HOLE);
    if (hole < 0 || hole >= size)
        return 0;
    size_t cap = 0;
    for (off_t at = 0; at < size;) {
        off_t data = lseek(fd, at, SEEK_DATA);
        if (data < 0 || data >= size)
            break;
        off_t end = lseek(fd, data, SEEK_HOLE);
        if (end < 0 || end > size)
            end = size;
        if (*count == cap) {
            cap = cap ? cap * 2 : 16;
            segment *grown = realloc(*out, cap * sizeof(*grown));
            if (!grown)
                return agent_fail("out of memory");
            *out = grown;
        }
        (*out)[(*count)++] = (segment){data, end - data};
        at = end;
    }
    /* GNU's convention: a file ending in a hole ends with an empty segment */
    if (*count == 0 || (*out)[*count - 1].offset + (*out)[*count - 1].length < size) {
        segment *grown = realloc(*out, (*count + 1) * sizeof(*grown));
        if (!grown)
            return agent_fail("out of memory");
        *out = grown;
        (*out)[(*count)++] = (segment){size, 0};
    }
    return 0;
}

static int write_file(writer *w, int dir_fd, const char *name, const char *stored, const struct stat *st, abuf *pax)
{
    int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return agent_fail_errno(errno, "cannot open %s", stored);
    segment *segments = NULL;
    size_t count = 0;
    int rc = find_segments(fd, st->st_size, &segments, &count);
    abuf map = {0};
    uint64_t stored_size = (uint64_t)st->st_size;
    if (rc == 0 && count) {
        rc = abuf_printf(&map, "%zu\n", count);
        stored_size = 0;
        for (size_t i = 0; rc == 0 && i < count; i++) {
            rc = abuf_printf(&map, "%lld\n%lld\n", (long long)segments[i].offset, (long long)segments[i].length);
            stored_size += (uint64_t)segments[i].length;
        }
        size_t map_blocks = (map.len + AGENT_BLOCK - 1) / AGENT_BLOCK * AGENT_BLOCK;
        stored_size += map_blocks;
        if (rc == 0 && (rc = pax_record(pax, "GNU.sparse.major", "1", 1)) == 0 &&
            (rc = pax_record(pax, "GNU.sparse.minor", "0", 1)) == 0 &&
            (rc = pax_record(pax, "GNU.sparse.name", stored, strlen(stored))) == 0)
            rc = pax_number(pax, "GNU.sparse.realsize", (long long)st->st_size);
    }
    if (rc == 0)
        rc = write_ustar(w, stored, '0', st, stored_size, NULL, pax);
    if (rc == 0 && count) {
        rc = put(w, map.data, map.len);
        if (rc == 0)
            rc = pad_block(w, map.len);
        for (size_t i = 0; rc == 0 && i < count; i++)
            rc = copy_range(w, fd, segments[i].offset, segments[i].length, stored);
    } else if (rc == 0) {
        rc = copy_range(w, fd, 0, st->st_size, stored);
    }
    if (rc == 0)
        rc = pad_block(w, stored_size);
    abuf_free(&map);
    free(segments);
    close(fd);
    return rc;
}

/* ------------------------------------------------------------- the walk */

static int walk(writer *w, int dir_fd, abuf *rel);

static int compare_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* One entry below dir_fd (name NULL: the root itself, dir_fd). */
static int write_entry(writer *w, int dir_fd, const char *name, abuf *rel)
{
    struct stat st;
    if ((name ? fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) : fstat(dir_fd, &st)) < 0)
        return errno == ENOENT ? 0 : agent_fail_errno(errno, "cannot stat ./%s", rel->data);
    if (S_ISSOCK(st.st_mode))
        return 0; /* no tar holds a socket; the count leaves them out too */
    if (!name && !S_ISDIR(st.st_mode))
        return agent_fail("the volume's root is not a folder");
    abuf stored = {0}, pax = {0};
    int rc = abuf_printf(&stored, "./%s%s", name ? rel->data : "", S_ISDIR(st.st_mode) && name ? "/" : "");
    if (rc == 0)
        rc = add_xattrs(&pax, dir_fd, name, stored.data);
    const char *first = rc == 0 && !S_ISDIR(st.st_mode) && st.st_nlink > 1 ? link_seen(w, &st, stored.data) : NULL;
    if (rc < 0) {
    } else if (first) {
        abuf_free(&pax); /* a hard link carries no attributes of its own */
        rc = write_ustar(w, stored.data, '1', &st, 0, first, &pax);
    } else if (S_ISREG(st.st_mode)) {
        rc = write_file(w, dir_fd, name, stored.data, &st, &pax);
    } else if (S_ISDIR(st.st_mode)) {
        rc = write_ustar(w, stored.data, '5', &st, 0, NULL, &pax);
        int fd = name ? openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : dup(dir_fd);
        if (rc == 0 && fd < 0)
            rc = agent_fail_errno(errno, "cannot open the folder %s", stored.data);
        if (rc == 0)
            rc = walk(w, fd, rel);
        if (fd >= 0)
            close(fd);
    } else if (S_ISLNK(st.st_mode)) {
        size_t size = (size_t)st.st_size + 2;
        char *buf = malloc(size);
        ssize_t n = buf ? readlinkat(dir_fd, name, buf, size) : -1;
        if (n < 0 || (size_t)n >= size)
            rc = agent_fail_errno(n < 0 ? errno : EOVERFLOW, "cannot read the link %s", stored.data);
        else
            buf[n] = '\0', rc = write_ustar(w, stored.data, '2', &st, 0, buf, &pax);
        free(buf);
    } else {
        char type = S_ISFIFO(st.st_mode) ? '6' : S_ISCHR(st.st_mode) ? '3' : S_ISBLK(st.st_mode) ? '4' : 0;
        rc = type ? write_ustar(w, stored.data, type, &st, 0, NULL, &pax)
                  : agent_fail("%s: unknown file type", stored.data);
    }
    abuf_free(&stored);
    abuf_free(&pax);
    return rc;
}

static int read_names(int dir_fd, char ***names, size_t *count)
{
    *names = NULL, *count = 0;
    int fd = dup(dir_fd);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (!dir) {
        if (fd >= 0)
            close(fd);
        return agent_fail_errno(errno, "cannot read a folder");
    }
    rewinddir(dir);
    size_t cap = 0;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (*count == cap) {
            cap = cap ? cap * 2 : 64;
            char **grown = realloc(*names, cap * sizeof(*grown));
            if (!grown) {
                rc = agent_fail("out of memory");
                break;
            }
            *names = grown;
        }
        if (!((*names)[*count] = strdup(e->d_name)))
            rc = agent_fail("out of memory");
        else
            (*count)++;
    }
    closedir(dir);
    if (*count)
        qsort(*names, *count, sizeof(**names), compare_names);
    return rc;
}

static int walk(writer *w, int dir_fd, abuf *rel)
{
    char **names;
    size_t count;
    int rc = read_names(dir_fd, &names, &count);
    size_t base = rel->len;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        rel->len = base;
        rc = abuf_printf(rel, "%s%s", base ? "/" : "", names[i]);
        if (rc == 0)
            rc = write_entry(w, dir_fd, names[i], rel);
    }
    rel->len = base;
    if (rel->data)
        rel->data[base] = '\0';
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    return rc;
}

int agent_backup(int root_fd, int out_fd)
{
    writer w = {out_fd, malloc(AGENT_IO_BYTES), 0, NULL, 0, 0, malloc(AGENT_IO_BYTES)};
    abuf rel = {0};
    int rc = w.out && w.data ? abuf_append(&rel, "", 0) : agent_fail("out of memory");
    if (rc == 0)
        rc = write_entry(&w, root_fd, NULL, &rel);
    /* the end of the archive: two zero blocks */
    if (rc == 0 && (rc = put_zeros(&w, 2 * AGENT_BLOCK)) == 0)
        rc = flush_out(&w);
    for (size_t i = 0; i < w.link_cap; i++)
        free(w.links[i].name);
    free(w.links);
    free(w.out);
    free(w.data);
    abuf_free(&rel);
    return rc;
}

/* -------------------------------------------------------------- the count */

static int count_below(int dir_fd, uint64_t *entries, uint64_t *sockets)
{
    int fd = dup(dir_fd);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (!dir) {
        if (fd >= 0)
            close(fd);
        return agent_fail_errno(errno, "cannot read a folder to count it");
    }
    rewinddir(dir); /* the descriptor's offset is shared with the walk's */
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue; /* gone meanwhile */
        if (S_ISSOCK(st.st_mode)) {
            (*sockets)++;
            continue;
        }
        (*entries)++;
        if (!S_ISDIR(st.st_mode))
            continue;
        int sub = openat(dirfd(dir), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
            rc = agent_fail_errno(errno, "cannot open a folder to count it");
        else
            rc = count_below(sub, entries, sockets), close(sub);
    }
    closedir(dir);
    return rc;
}

int agent_count(int root_fd, uint64_t *entries, uint64_t *sockets)
{
    *entries = 1, *sockets = 0; /* the root */
    return count_below(root_fd, entries, sockets);
}

/* ------------------------------------------------------------ removal */

int agent_remove_below(int dir_fd)
{
    char **names;
    size_t count;
    int rc = read_names(dir_fd, &names, &count);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        struct stat st;
        if (fstatat(dir_fd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue; /* gone meanwhile */
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dir_fd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            rc = sub < 0 ? agent_fail_errno(errno, "cannot open a folder to empty it") : agent_remove_below(sub);
            if (sub >= 0)
                close(sub);
        }
        if (rc == 0 && unlinkat(dir_fd, names[i], S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0)
            rc = agent_fail_errno(errno, "cannot remove an entry");
    }
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    return rc;
}
