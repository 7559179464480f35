/* The restore side: a pax stream (as libarchive writes it, or as
 * pax_write.c does) written into the folder. Every name is reached one
 * component at a time with openat(O_NOFOLLOW | O_DIRECTORY) from the
 * folder's descriptor, so nothing is written through a link and a path of
 * any length works; links are made as links whatever their target. Blocks
 * of zeros are skipped (holes) and GNU sparse 1.0 maps are honoured, so a
 * sparse file stays sparse. A folder's mode, times and xattrs (a default
 * ACL would be inherited by what is written below it) are set after its
 * content, deepest first. */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define PAX_MAX_BYTES (64u << 20)
#define HOLE_BLOCK    4096

typedef struct input {
    int fd;
    char *buf;
    size_t at, len;
} input;

/* What a pax header says about the next entry. */
typedef struct attrs {
    abuf path, linkpath;
    int has_path, has_linkpath;
    int has_uid, has_gid, has_size, has_mtime, has_devmajor, has_devminor;
    long long uid, gid, devmajor, devminor;
    unsigned long long size;
    struct timespec mtime;
    abuf xattrs; /* name\0 len(8 bytes) value ... */
    int sparse_major, sparse_minor;
    abuf sparse_name;
    unsigned long long sparse_realsize;
} attrs;

typedef struct entry {
    char *name; /* inside the folder, no "./"; "." the root */
    char *link;
    char type;
    mode_t mode;
    uid_t uid;
    gid_t gid;
    unsigned long long size, realsize;
    int sparse;
    unsigned long long devmajor, devminor;
    struct timespec mtime;
    abuf xattrs;
} entry;

/* A folder's attributes, set after its content. */
typedef struct deferred {
    char *name;
    mode_t mode;
    struct timespec mtime;
    abuf xattrs;
} deferred;

typedef struct restorer {
    int root_fd;
    input in;
    char *parent_name; /* the folder parent_fd holds open */
    int parent_fd;
    deferred *dirs;
    size_t dir_count, dir_cap;
    char *zeros;
} restorer;

/* ---------------------------------------------------------------- input */

static int read_exact(input *in, void *dst, size_t len)
{
    char *p = dst;
    while (len > 0) {
        if (in->at == in->len) {
            ssize_t n;
            do
                n = read(in->fd, in->buf, AGENT_IO_BYTES);
            while (n < 0 && errno == EINTR);
            if (n < 0)
                return agent_fail_errno(errno, "cannot read the stream");
            if (n == 0)
                return agent_fail("the stream ended early (no end-of-archive marker): nothing more was written");
            in->at = 0, in->len = (size_t)n;
        }
        size_t n = in->len - in->at < len ? in->len - in->at : len;
        if (p)
            memcpy(p, in->buf + in->at, n), p += n;
        in->at += n, len -= n;
    }
    return 0;
}

static int skip_padding(input *in, unsigned long long size)
{
    size_t rest = (size_t)(size % AGENT_BLOCK);
    return rest ? read_exact(in, NULL, AGENT_BLOCK - rest) : 0;
}

/* --------------------------------------------------------------- header */

static unsigned long long field_number(const unsigned char *f, size_t size)
{
    if (f[0] & 0x80) { /* base-256 */
        unsigned long long v = f[0] & 0x3f;
        for (size_t i = 1; i < size; i++)
            v = (v << 8) | f[i];
        return v;
    }
    unsigned long long v = 0;
    size_t i = 0;
    while (i < size && f[i] == ' ')
        i++;
    for (; i < size && f[i] >= '0' && f[i] <= '7'; i++)
        v = v * 8 + (unsigned)(f[i] - '0');
    return v;
}

static int checksum_ok(const unsigned char *h)
{
    unsigned long long expected = field_number(h + 148, 8);
    unsigned sum = 0;
    for (size_t i = 0; i < AGENT_BLOCK; i++)
        sum += (i >= 148 && i < 156) ? ' ' : h[i];
    return sum == expected;
}

static int all_zero(const void *p, size_t len)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < len; i++)
        if (c[i])
            return 0;
    return 1;
}

/* libarchive's pax time: signed seconds, a positive fraction. */
static void parse_time(const char *v, struct timespec *t)
{
    int negative = *v == '-';
    if (negative)
        v++;
    long long sec = 0;
    while (*v >= '0' && *v <= '9')
        sec = sec * 10 + (*v++ - '0');
    long nsec = 0, scale = 100000000;
    if (*v == '.')
        for (v++; *v >= '0' && *v <= '9'; v++, scale /= 10)
            nsec += (*v - '0') * scale;
    t->tv_sec = (time_t)(negative ? -sec : sec);
    t->tv_nsec = nsec;
}

static int add_xattr(abuf *x, const char *name, const char *value, size_t len)
{
    uint64_t n = len;
    if (abuf_append(x, name, strlen(name) + 1) < 0 || abuf_append(x, &n, sizeof(n)) < 0)
        return -1;
    return abuf_append(x, value, len);
}

static int pax_attribute(attrs *a, const char *key, const char *value, size_t len)
{
    if (strcmp(key, "path") == 0)
        return a->has_path = 1, a->path.len = 0, abuf_append(&a->path, value, len);
    if (strcmp(key, "linkpath") == 0)
        return a->has_linkpath = 1, a->linkpath.len = 0, abuf_append(&a->linkpath, value, len);
    if (strncmp(key, "SCHILY.xattr.", 13) == 0)
        return add_xattr(&a->xattrs, key + 13, value, len);
    if (strcmp(key, "GNU.sparse.name") == 0)
        return a->sparse_name.len = 0, abuf_append(&a->sparse_name, value, len);
    /* the remaining values are text */
    char text[128];
    if (len >= sizeof(text)) {
        agent_warn("pax value of %s ignored: too long", key);
        return 0;
    }
    memcpy(text, value, len);
    text[len] = '\0';
    if (strcmp(key, "uid") == 0)
        a->has_uid = 1, a->uid = strtoll(text, NULL, 10);
    else if (strcmp(key, "gid") == 0)
        a->has_gid = 1, a->gid = strtoll(text, NULL, 10);
    else if (strcmp(key, "size") == 0)
        a->has_size = 1, a->size = strtoull(text, NULL, 10);
    else if (strcmp(key, "mtime") == 0)
        a->has_mtime = 1, parse_time(text, &a->mtime);
    else if (strcmp(key, "SCHILY.devmajor") == 0)
        a->has_devmajor = 1, a->devmajor = strtoll(text, NULL, 10);
    else if (strcmp(key, "SCHILY.devminor") == 0)
        a->has_devminor = 1, a->devminor = strtoll(text, NULL, 10);
    else if (strcmp(key, "GNU.sparse.major") == 0)
        a->sparse_major = atoi(text);
    else if (strcmp(key, "GNU.sparse.minor") == 0)
        a->sparse_minor = atoi(text);
    else if (strcmp(key, "GNU.sparse.realsize") == 0 || strcmp(key, "GNU.sparse.size") == 0)
        a->sparse_realsize = strtoull(text, NULL, 10);
    else if (strncmp(key, "SCHILY.acl.", 11) == 0)
        agent_warn("%s in the stream is not applied: ACLs are expected as system.posix_acl_* xattrs", key);
    /* hdrcharset, atime, ctime, uname, gname, LIBARCHIVE.* (xattrs again),
     * SCHILY.dev/ino/nlink: names are bytes, owners are numbers, times but
     * mtime are not kept */
    return 0;
}

static int parse_pax(attrs *a, const char *data, size_t len)
{
    size_t at = 0;
    while (at < len) {
        const char *rec = data + at;
        char *end;
        unsigned long long n = strtoull(rec, &end, 10);
        if (end == rec || *end != ' ' || n == 0 || n > len - at || rec[n - 1] != '\n')
            return agent_fail("a pax header is malformed");
        const char *key = end + 1;
        const char *eq = memchr(key, '=', (size_t)(rec + n - key));
        if (!eq)
            return agent_fail("a pax record has no '='");
        char keybuf[1024];
        size_t klen = (size_t)(eq - key);
        if (klen >= sizeof(keybuf))
            return agent_fail("a pax key is too long");
        memcpy(keybuf, key, klen);
        keybuf[klen] = '\0';
        if (pax_attribute(a, keybuf, eq + 1, (size_t)(rec + n - 1 - (eq + 1))) < 0)
            return -1;
        at += n;
    }
    return 0;
}

static void attrs_free(attrs *a)
{
    abuf_free(&a->path);
    abuf_free(&a->linkpath);
    abuf_free(&a->xattrs);
    abuf_free(&a->sparse_name);
    memset(a, 0, sizeof(*a));
}

/* "./a/b/" -> "a/b"; "./" -> "."; refuses absolute names and "..". */
static int clean_name(char **out, const char *raw, size_t len)
{
    while (len >= 2 && raw[0] == '.' && raw[1] == '/')
        raw += 2, len -= 2;
    while (len && raw[len - 1] == '/')
        len--;
    if (len == 0 || (len == 1 && raw[0] == '.')) {
        *out = strdup(".");
        return *out ? 0 : agent_fail("out of memory");
    }
    if (raw[0] == '/')
        return agent_fail("refusing the absolute name %.*s", (int)(len < 200 ? len : 200), raw);
    for (size_t i = 0; i < len;) {
        size_t n = 0;
        while (i + n < len && raw[i + n] != '/')
            n++;
        if (n == 0 || (n == 2 && raw[i] == '.' && raw[i + 1] == '.') || (n == 1 && raw[i] == '.'))
            return agent_fail("refusing the name %.*s: empty, '.' or '..' component", (int)(len < 200 ? len : 200),
                              raw);
        i += n + 1;
    }
    *out = strndup(raw, len);
    return *out ? 0 : agent_fail("out of memory");
}

/* The next entry: 1, 0 at the end of the archive, -1 on error. */
static int next_entry(restorer *r, entry *e)
{
    attrs a;
    memset(&a, 0, sizeof(a));
    unsigned char h[AGENT_BLOCK];
    int rc;
    while (1) {
        if ((rc = read_exact(&r->in, h, sizeof(h))) < 0)
            break;
        if (all_zero(h, sizeof(h))) {
            rc = 0;
            break;
        }
        if (!checksum_ok(h)) {
            rc = agent_fail("the stream is not a tar stream (bad header checksum)");
            break;
        }
        char type = (char)h[156];
        unsigned long long size = field_number(h + 124, 12);
        if (type == 'x' || type == 'g') {
            if (size > PAX_MAX_BYTES) {
                rc = agent_fail("a pax header of %llu bytes is too large", size);
                break;
            }
            char *data = malloc(size + 1);
            rc = data ? read_exact(&r->in, data, size) : agent_fail("out of memory");
            if (rc == 0)
                rc = skip_padding(&r->in, size);
            if (rc == 0 && type == 'x')
                rc = parse_pax(&a, data, size);
            free(data);
            if (rc < 0)
                break;
            continue;
        }
        memset(e, 0, sizeof(*e));
        e->type = type ? type : '0';
        if (e->type == '7')
            e->type = '0';
        abuf raw = {0};
        if (a.sparse_name.len)
            rc = abuf_append(&raw, a.sparse_name.data, a.sparse_name.len);
        else if (a.has_path)
            rc = abuf_append(&raw, a.path.data, a.path.len);
        else if (h[345])
            rc = abuf_printf(&raw, "%.155s/%.100s", (char *)h + 345, (char *)h);
        else
            rc = abuf_printf(&raw, "%.100s", (char *)h);
        if (rc == 0)
            rc = clean_name(&e->name, raw.data, raw.len);
        abuf_free(&raw);
        if (rc == 0 && (e->type == '1' || e->type == '2')) {
            if (a.has_linkpath)
                e->link = strndup(a.linkpath.data, a.linkpath.len);
            else
                e->link = strndup((char *)h + 157, 100);
            if (!e->link)
                rc = agent_fail("out of memory");
        }
        e->mode = (mode_t)field_number(h + 100, 8) & 07777;
        e->uid = (uid_t)(a.has_uid ? (unsigned long long)a.uid : field_number(h + 108, 8));
        e->gid = (gid_t)(a.has_gid ? (unsigned long long)a.gid : field_number(h + 116, 8));
        e->size = a.has_size ? a.size : size;
        if (a.has_mtime)
            e->mtime = a.mtime;
        else
            e->mtime.tv_sec = (time_t)field_number(h + 136, 12);
        e->devmajor = a.has_devmajor ? (unsigned long long)a.devmajor : field_number(h + 329, 8);
        e->devminor = a.has_devminor ? (unsigned long long)a.devminor : field_number(h + 337, 8);
        if (a.sparse_major == 1 && a.sparse_minor == 0)
            e->sparse = 1, e->realsize = a.sparse_realsize;
        else if (a.sparse_major || a.sparse_minor)
            rc = agent_fail("%s: GNU sparse format %d.%d is not supported", e->name ? e->name : "?", a.sparse_major,
                            a.sparse_minor);
        e->xattrs = a.xattrs;
        memset(&a.xattrs, 0, sizeof(a.xattrs));
        rc = rc == 0 ? 1 : rc;
        break;
    }
    attrs_free(&a);
    return rc;
}

static void entry_free(entry *e)
{
    free(e->name);
    free(e->link);
    abuf_free(&e->xattrs);
    memset(e, 0, sizeof(*e));
}

/* --------------------------------------------------------- the folders */

/* The folder holding name, opened one component at a time (never through
 * a link); *base gets the last component. Borrowed fd, kept for the next
 * entry of the same folder. */
static int open_parent(restorer *r, const char *name, int *fd, const char **base)
{
    const char *slash = strrchr(name, '/');
    *base = slash ? slash + 1 : name;
    size_t dir_len = slash ? (size_t)(slash - name) : 0;
    if (r->parent_name && strlen(r->parent_name) == dir_len && strncmp(r->parent_name, name, dir_len) == 0) {
        *fd = r->parent_fd;
        return 0;
    }
    if (r->parent_fd >= 0 && r->parent_fd != r->root_fd)
        close(r->parent_fd);
    free(r->parent_name);
    r->parent_name = strndup(name, dir_len);
    r->parent_fd = r->root_fd;
    if (!r->parent_name)
        return agent_fail("out of memory");
    for (size_t i = 0; i < dir_len;) {
        size_t n = strcspn(name + i, "/");
        if (i + n > dir_len)
            n = dir_len - i;
        char *part = strndup(name + i, n);
        int next = part ? openat(r->parent_fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
        int err = errno;
        free(part);
        if (r->parent_fd != r->root_fd)
            close(r->parent_fd);
        r->parent_fd = next;
        if (next < 0) {
            free(r->parent_name);
            r->parent_name = NULL;
            r->parent_fd = -1;
            return agent_fail_errno(err, "cannot open the folder of %s (a link is never followed)", name);
        }
        i += n + 1;
    }
    *fd = r->parent_fd;
    return 0;
}

static int apply_xattrs(const abuf *x, int fd, const char *path, const char *shown)
{
    for (size_t at = 0; x->data && at < x->len;) {
        const char *name = x->data + at;
        at += strlen(name) + 1;
        uint64_t len;
        memcpy(&len, x->data + at, sizeof(len));
        at += sizeof(len);
        int rc = fd >= 0 ? fsetxattr(fd, name, x->data + at, (size_t)len, 0)
                         : lsetxattr(path, name, x->data + at, (size_t)len, 0);
        if (rc < 0)
            return agent_fail_errno(errno, "cannot set xattr %s on %s", name, shown);
        at += (size_t)len;
    }
    return 0;
}

static int remember_dir(restorer *r, entry *e)
{
    if (r->dir_count == r->dir_cap) {
        size_t cap = r->dir_cap ? r->dir_cap * 2 : 64;
        deferred *grown = realloc(r->dirs, cap * sizeof(*grown));
        if (!grown)
            return agent_fail("out of memory");
        r->dirs = grown, r->dir_cap = cap;
    }
    deferred *d = &r->dirs[r->dir_count++];
    d->name = e->name, d->mode = e->mode, d->mtime = e->mtime, d->xattrs = e->xattrs;
    e->name = NULL;
    memset(&e->xattrs, 0, sizeof(e->xattrs));
    return 0;
}

/* Deepest first, so setting a folder's time is the last change inside its
 * parent. */
static int finish_dirs(restorer *r)
{
    int rc = 0;
    for (size_t i = r->dir_count; rc == 0 && i-- > 0;) {
        deferred *d = &r->dirs[i];
        int fd = r->root_fd;
        const char *base = ".";
        if (strcmp(d->name, ".") != 0 && (rc = open_parent(r, d->name, &fd, &base)) < 0)
            break;
        int dir = strcmp(d->name, ".") == 0 ? dup(r->root_fd)
                                            : openat(fd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct timespec times[2] = {{0, UTIME_OMIT}, d->mtime};
        if (dir < 0)
            rc = agent_fail_errno(errno, "cannot open the folder %s", d->name);
        else if (fchmod(dir, d->mode) < 0)
            rc = agent_fail_errno(errno, "cannot set the mode of %s", d->name);
        else if ((rc = apply_xattrs(&d->xattrs, dir, NULL, d->name)) == 0 && futimens(dir, times) < 0)
            rc = agent_fail_errno(errno, "cannot set the time of %s", d->name);
        if (dir >= 0)
            close(dir);
    }
    return rc;
}

/* -------------------------------------------------------------- entries */

/* File data with runs of zeros left as holes. */
static int write_run(restorer *r, int fd, const char *data, size_t len, off_t at, const char *shown)
{
    size_t done = 0;
    while (done < len) {
        size_t n = len - done < HOLE_BLOCK ? len - done : HOLE_BLOCK;
        if (!(n == HOLE_BLOCK && memcmp(data + done, r->zeros, HOLE_BLOCK) == 0)) {
            size_t w = 0;
            while (w < n) {
                ssize_t k = pwrite(fd, data + done + w, n - w, at + (off_t)(done + w));
                if (k < 0 && errno == EINTR)
                    continue;
                if (k < 0)
                    return agent_fail_errno(errno, "cannot write %s", shown);
                w += (size_t)k;
            }
        }
        done += n;
    }
    return 0;
}

static int copy_in(restorer *r, int fd, off_t at, unsigned long long length, const char *shown)
{
    static char chunk[64 * 1024];
    while (length > 0) {
        size_t n = length < sizeof(chunk) ? (size_t)length : sizeof(chunk);
        if (read_exact(&r->in, chunk, n) < 0 || write_run(r, fd, chunk, n, at, shown) < 0)
            return -1;
        at += (off_t)n, length -= n;
    }
    return 0;
}

/* A GNU sparse 1.0 map: decimal lines at the start of the data, padded to
 * a block: count, then offset and length of each data segment. */
static int read_map_number(restorer *r, unsigned long long *value, unsigned long long *consumed)
{
    char c;
    *value = 0;
    int digits = 0;
    while (1) {
        if (read_exact(&r->in, &c, 1) < 0)
            return -1;
        (*consumed)++;
        if (c == '\n')
            return digits ? 0 : agent_fail("a sparse map is malformed");
        if (c < '0' || c > '9' || ++digits > 20)
            return agent_fail("a sparse map is malformed");
        *value = *value * 10 + (unsigned)(c - '0');
    }
}

static int write_sparse(restorer *r, int fd, entry *e)
{
    unsigned long long count, consumed = 0, data = 0;
    unsigned long long *map = NULL;
    int rc = read_map_number(r, &count, &consumed);
    if (rc == 0 && count > e->size / 2 + 1)
        rc = agent_fail("%s: its sparse map is larger than its data", e->name);
    if (rc == 0 && !(map = calloc(count ? count * 2 : 1, sizeof(*map))))
        rc = agent_fail("out of memory");
    for (unsigned long long i = 0; rc == 0 && i < count * 2; i++)
        rc = read_map_number(r, &map[i], &consumed);
    if (rc == 0 && consumed % AGENT_BLOCK)
        rc = read_exact(&r->in, NULL, AGENT_BLOCK - consumed % AGENT_BLOCK);
    consumed = (consumed + AGENT_BLOCK - 1) / AGENT_BLOCK * AGENT_BLOCK;
    for (unsigned long long i = 0; rc == 0 && i < count; i++) {
        data += map[2 * i + 1];
        if (consumed + data > e->size || map[2 * i] + map[2 * i + 1] > e->realsize)
            rc = agent_fail("%s: its sparse map does not match its size", e->name);
        else
            rc = copy_in(r, fd, (off_t)map[2 * i], map[2 * i + 1], e->name);
    }
    if (rc == 0 && consumed + data != e->size)
        rc = agent_fail("%s: its sparse map does not match its size", e->name);
    free(map);
    return rc;
}

static int make_node(restorer *r, entry *e, int dir_fd, const char *base)
{
    int rc;
    switch (e->type) {
    case '2': rc = symlinkat(e->link, dir_fd, base); break;
    case '6': rc = mknodat(dir_fd, base, S_IFIFO | e->mode, 0); break;
    case '3': rc = mknodat(dir_fd, base, S_IFCHR | e->mode, makedev(e->devmajor, e->devminor)); break;
    case '4': rc = mknodat(dir_fd, base, S_IFBLK | e->mode, makedev(e->devmajor, e->devminor)); break;
    case '1': {
        int target_fd;
        const char *target_base;
        /* the target's folder through its own walk: parent_fd is reused below */
        restorer walk = *r;
        walk.parent_name = NULL, walk.parent_fd = -1;
        char *link = NULL;
        rc = clean_name(&link, e->link, strlen(e->link));
        if (rc == 0)
            rc = open_parent(&walk, link, &target_fd, &target_base);
        if (rc == 0 && linkat(target_fd, target_base, dir_fd, base, 0) < 0)
            rc = agent_fail_errno(errno, "cannot link %s to %s", e->name, link);
        if (walk.parent_fd >= 0 && walk.parent_fd != r->root_fd)
            close(walk.parent_fd);
        free(walk.parent_name);
        free(link);
        return rc;
    }
    default: return agent_fail("%s: unsupported entry type '%c'", e->name, e->type);
    }
    return rc < 0 ? agent_fail_errno(errno, "cannot create %s", e->name) : 0;
}

static int restore_entry(restorer *r, entry *e)
{
    if (!e->name)
        return agent_fail("an entry of the stream has no name");
    int is_root = strcmp(e->name, ".") == 0;
    if (is_root && e->type != '5')
        return agent_fail("the stream's root is not a folder");
    int dir_fd = r->root_fd, rc = 0;
    const char *base = ".";
    if (!is_root && (rc = open_parent(r, e->name, &dir_fd, &base)) < 0)
        return rc;
    if (e->type == '5') {
        if (!is_root && mkdirat(dir_fd, base, 0700) < 0 && errno != EEXIST)
            return agent_fail_errno(errno, "cannot create the folder %s", e->name);
        if (fchownat(dir_fd, base, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0)
            return agent_fail_errno(errno, "cannot set the owner of %s", e->name);
        return remember_dir(r, e);
    }
    /* a later entry of the same name replaces an earlier one (tar's rule) */
    if (unlinkat(dir_fd, base, 0) < 0 && errno != ENOENT)
        return agent_fail_errno(errno, "cannot replace %s", e->name);
    if (e->type == '0') {
        int fd = openat(dir_fd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return agent_fail_errno(errno, "cannot create %s", e->name);
        unsigned long long size = e->sparse ? e->realsize : e->size;
        rc = e->sparse ? write_sparse(r, fd, e) : copy_in(r, fd, 0, e->size, e->name);
        if (rc == 0)
            rc = skip_padding(&r->in, e->size);
        struct timespec times[2] = {{0, UTIME_OMIT}, e->mtime};
        if (rc == 0 && ftruncate(fd, (off_t)size) < 0)
            rc = agent_fail_errno(errno, "cannot set the size of %s", e->name);
        /* owner, then mode (a chown clears set-id bits), then xattrs (a
         * chown or a write clears security.capability), then the time */
        if (rc == 0 && fchown(fd, e->uid, e->gid) < 0)
            rc = agent_fail_errno(errno, "cannot set the owner of %s", e->name);
        if (rc == 0 && fchmod(fd, e->mode) < 0)
            rc = agent_fail_errno(errno, "cannot set the mode of %s", e->name);
        if (rc == 0)
            rc = apply_xattrs(&e->xattrs, fd, NULL, e->name);
        if (rc == 0 && futimens(fd, times) < 0)
            rc = agent_fail_errno(errno, "cannot set the time of %s", e->name);
        close(fd);
        return rc;
    }
    if ((rc = make_node(r, e, dir_fd, base)) < 0 || e->type == '1')
        return rc;
    char path[4096 + 64];
    agent_proc_path(path, sizeof(path), dir_fd, base);
    struct timespec times[2] = {{0, UTIME_OMIT}, e->mtime};
    if (fchownat(dir_fd, base, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0)
        return agent_fail_errno(errno, "cannot set the owner of %s", e->name);
    if (e->type != '2' && fchmodat(dir_fd, base, e->mode, 0) < 0)
        return agent_fail_errno(errno, "cannot set the mode of %s", e->name);
    if ((rc = apply_xattrs(&e->xattrs, -1, path, e->name)) < 0)
        return rc;
    if (utimensat(dir_fd, base, times, AT_SYMLINK_NOFOLLOW) < 0)
        return agent_fail_errno(errno, "cannot set the time of %s", e->name);
    return 0;
}

int agent_restore(int root_fd, int in_fd, FILE *names, uint64_t *written)
{
    restorer r;
    memset(&r, 0, sizeof(r));
    r.root_fd = root_fd;
    r.parent_fd = -1;
    r.in.fd = in_fd;
    r.in.buf = malloc(AGENT_IO_BYTES);
    r.zeros = calloc(1, HOLE_BLOCK);
    int rc = r.in.buf && r.zeros ? 0 : agent_fail("out of memory");
    entry e;
    memset(&e, 0, sizeof(e));
    while (rc == 0 && (rc = next_entry(&r, &e)) > 0) {
        /* noted first: a folder's entry hands its name on to the list of
         * folders whose attributes come last */
        rc = names && e.name ? agent_names_add(names, e.name) : 0;
        if (rc == 0 && written)
            (*written)++;
        if (rc == 0)
            rc = restore_entry(&r, &e);
        entry_free(&e);
    }
    entry_free(&e);
    if (rc == 0)
        rc = finish_dirs(&r);
    if (r.parent_fd >= 0 && r.parent_fd != root_fd)
        close(r.parent_fd);
    free(r.parent_name);
    for (size_t i = 0; i < r.dir_count; i++) {
        free(r.dirs[i].name);
        abuf_free(&r.dirs[i].xattrs);
    }
    free(r.dirs);
    free(r.in.buf);
    free(r.zeros);
    return rc;
}
