#include "zakpos_backup/source/pg/pitr/segment.h"
#include "zakpos_backup/archive/reader.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/source/pg/pitr/decode.h"

#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RECORD_HEAD 12 /* u32 length, u64 LSN */
#define COPY_BUFFER (256 * 1024)

struct zb_pitr_spool {
    int fd;
    uint64_t bytes;
};

int zb_pitr_spool_new(zb_pitr_spool **out, const char *dir)
{
    *out = NULL;
    zb_pitr_spool *s = calloc(1, sizeof(*s));
    if (!s)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    /* O_TMPFILE: nothing to clean up if the follower is killed */
    s->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (s->fd < 0) {
        int e = errno;
        free(s);
        return zb_error_set(ZB_EIO, "cannot create the change spool in %s: %s", dir, strerror(e));
    }
    *out = s;
    return 0;
}

void zb_pitr_spool_free(zb_pitr_spool *s)
{
    if (!s)
        return;
    close(s->fd);
    free(s);
}

uint64_t zb_pitr_spool_bytes(const zb_pitr_spool *s) { return s->bytes; }

int zb_pitr_spool_add(zb_pitr_spool *s, uint64_t lsn, const uint8_t *msg, size_t len)
{
    if (len > ZB_PITR_MAX_MESSAGE)
        return zb_error_set(ZB_EFORMAT, "a change message of %zu bytes (at most %u)", len, ZB_PITR_MAX_MESSAGE);
    uint8_t head[RECORD_HEAD];
    zb_pgo_put_u32(head, (uint32_t)len);
    zb_pgo_put_u64(head + 4, lsn);
    int rc = zb_fs_write_all(s->fd, head, sizeof(head), "the change spool");
    if (rc == 0)
        rc = zb_fs_write_all(s->fd, msg, len, "the change spool");
    if (rc == 0)
        s->bytes += sizeof(head) + len;
    return rc;
}

int zb_pitr_spool_truncate(zb_pitr_spool *s, uint64_t bytes)
{
    if (bytes > s->bytes || ftruncate(s->fd, (off_t)bytes) != 0 || lseek(s->fd, (off_t)bytes, SEEK_SET) != (off_t)bytes)
        return zb_error_set(ZB_EIO, "cannot cut the change spool back: %s", strerror(errno));
    s->bytes = bytes;
    return 0;
}

static int reset(zb_pitr_spool *s) { return zb_pitr_spool_truncate(s, 0); }

static int copy_spool(zb_archive_writer *w, zb_pitr_spool *s)
{
    char *buf = malloc(COPY_BUFFER);
    if (!buf)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    int rc = lseek(s->fd, 0, SEEK_SET) == 0
                 ? 0
                 : zb_error_set(ZB_EIO, "cannot rewind the change spool: %s", strerror(errno));
    for (uint64_t left = s->bytes; rc == 0 && left > 0;) {
        size_t want = left < COPY_BUFFER ? (size_t)left : COPY_BUFFER, got = 0;
        rc = zb_fs_read_full(s->fd, buf, want, &got, "the change spool");
        if (rc == 0 && got != want)
            rc = zb_error_set(ZB_EIO, "the change spool ended early");
        if (rc == 0)
            rc = zb_archive_writer_write(w, buf, got), left -= got;
    }
    free(buf);
    return rc;
}

int zb_pitr_spool_publish(zb_pitr_spool *s, const char *final_path, const zb_archive_write_options *opts,
                          const char *source_name, json_t *meta)
{
    zb_archive_writer *w = NULL;
    struct archive_entry *e = archive_entry_new();
    int rc = e ? zb_archive_writer_open(&w, final_path, opts) : zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0)
        rc = zb_archive_writer_begin_source(w, ZB_SOURCE_PG, source_name, meta), meta = NULL;
    if (rc == 0) {
        archive_entry_set_pathname(e, ZB_PITR_CHANGES_ENTRY);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0600);
        archive_entry_set_size(e, (la_int64_t)s->bytes);
        archive_entry_set_mtime(e, time(NULL), 0);
        rc = zb_archive_writer_begin_entry(w, e);
    }
    if (rc == 0)
        rc = copy_spool(w, s);
    if (rc == 0)
        rc = zb_archive_writer_end_entry(w);
    if (rc == 0)
        rc = zb_archive_writer_end_source(w, NULL);
    if (rc == 0)
        rc = zb_archive_writer_close(w);
    if (rc < 0)
        zb_error_context("segment %s", final_path);
    zb_archive_writer_free(w);
    archive_entry_free(e);
    json_decref(meta);
    int reset_rc = reset(s);
    return rc < 0 ? rc : reset_rc;
}

/* Each record read into one buffer that grows to the largest message. */
int zb_pitr_spool_each(zb_pitr_spool *s, zb_pitr_record_fn fn, void *payload)
{
    uint8_t head[RECORD_HEAD], *msg = NULL;
    size_t cap = 0;
    int rc = lseek(s->fd, 0, SEEK_SET) == 0
                 ? 0
                 : zb_error_set(ZB_EIO, "cannot rewind the change spool: %s", strerror(errno));
    for (uint64_t at = 0; rc == 0 && at < s->bytes;) {
        size_t got = 0;
        if ((rc = zb_fs_read_full(s->fd, head, sizeof(head), &got, "the change spool")) == 0 && got != sizeof(head))
            rc = zb_error_set(ZB_EIO, "the change spool ended early");
        size_t len = rc == 0 ? zb_pgo_get_u32(head) : 0;
        if (rc == 0 && len > ZB_PITR_MAX_MESSAGE)
            rc = zb_error_set(ZB_EFORMAT, "a damaged change record");
        if (rc == 0 && len > cap) {
            uint8_t *grown = realloc(msg, len);
            rc = grown ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
            if (grown)
                msg = grown, cap = len;
        }
        if (rc == 0 && (rc = zb_fs_read_full(s->fd, msg, len, &got, "the change spool")) == 0 && got != len)
            rc = zb_error_set(ZB_EIO, "the change spool ended early");
        if (rc == 0)
            rc = fn(zb_pgo_get_u64(head + 4), msg, len, payload), at += sizeof(head) + len;
    }
    free(msg);
    /* later records go on at the end */
    if (lseek(s->fd, (off_t)s->bytes, SEEK_SET) != (off_t)s->bytes && rc == 0)
        rc = zb_error_set(ZB_EIO, "cannot seek in the change spool: %s", strerror(errno));
    return rc;
}

int zb_pitr_segment_parse_name(zb_pitr_segment_name *out, const char *name)
{
    unsigned int number;
    char lsn[17];
    int used = 0;
    size_t n = strlen(name), ext = strlen(ZB_PITR_SEGMENT_EXTENSION);
    if (n != 8 + 1 + 16 + ext || strcmp(name + n - ext, ZB_PITR_SEGMENT_EXTENSION) != 0)
        return 0;
    if (sscanf(name, "%8u-%16[0-9A-F]%n", &number, lsn, &used) != 2 || used != 25 || strspn(name, "0123456789") != 8)
        return 0;
    out->number = number;
    out->end_lsn = strtoull(lsn, NULL, 16);
    return 1;
}

void zb_pitr_segment_format_name(char *out, size_t size, unsigned int number, uint64_t end_lsn)
{
    snprintf(out, size, "%08u-%016" PRIX64 "%s", number, end_lsn, ZB_PITR_SEGMENT_EXTENSION);
}

static int by_number(const void *a, const void *b)
{
    const zb_pitr_segment_name *x = a, *y = b;
    return x->number < y->number ? -1 : x->number > y->number;
}

int zb_pitr_segment_list(char ***paths, zb_pitr_segment_name **names, size_t *count, const char *chain_dir)
{
    *paths = NULL, *names = NULL, *count = 0;
    DIR *d = opendir(chain_dir);
    if (!d)
        return errno == ENOENT ? 0 : zb_error_set(ZB_EIO, "cannot read %s: %s", chain_dir, strerror(errno));
    size_t cap = 0, n = 0;
    zb_pitr_segment_name *list = NULL;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        zb_pitr_segment_name one;
        if (!zb_pitr_segment_parse_name(&one, e->d_name))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            zb_pitr_segment_name *grown = realloc(list, cap * sizeof(*list));
            if (!grown) {
                rc = zb_error_set(ZB_ENOMEM, "out of memory");
                break;
            }
            list = grown;
        }
        list[n++] = one;
    }
    closedir(d);
    if (rc == 0 && n)
        qsort(list, n, sizeof(*list), by_number);
    char **p = rc == 0 && n ? calloc(n, sizeof(*p)) : NULL;
    if (rc == 0 && n && !p)
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        zb_buf path = ZB_BUF_INIT;
        char name[64];
        zb_pitr_segment_format_name(name, sizeof(name), list[i].number, list[i].end_lsn);
        if ((rc = zb_buf_printf(&path, "%s/%s", chain_dir, name)) == 0)
            p[i] = zb_buf_detach(&path);
        zb_buf_free(&path);
        if (rc == 0 && i > 0 && list[i].number == list[i - 1].number)
            rc = zb_error_set(ZB_EINTEGRITY, "two segments numbered %u in %s", list[i].number, chain_dir);
    }
    if (rc < 0) {
        zb_pitr_segment_list_free(p, list, n);
        return rc;
    }
    *paths = p, *names = list, *count = n;
    return 0;
}

void zb_pitr_segment_list_free(char **paths, zb_pitr_segment_name *names, size_t count)
{
    for (size_t i = 0; paths && i < count; i++)
        free(paths[i]);
    free(paths);
    free(names);
}

/* The changes entry's bytes, as they are read (and hashed), into the spool. */
static int spool_entry(zb_pitr_spool *s, zb_archive_reader *r)
{
    char *buf = malloc(COPY_BUFFER);
    int rc = buf ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
    ssize_t got;
    while (rc == 0 && (got = zb_archive_reader_read(r, buf, COPY_BUFFER)) != 0) {
        if (got < 0)
            rc = (int)got;
        else if ((rc = zb_fs_write_all(s->fd, buf, (size_t)got, "the change spool")) == 0)
            s->bytes += (uint64_t)got;
    }
    free(buf);
    return rc;
}

/* One pass over the segment: every entry read and checked against the
 * manifest and the writer's signature (the reader does so at the end), the
 * changes kept in an unlinked spool as they pass. Nothing of them is
 * decoded before the whole segment proved authentic. */
static int verify_and_spool(json_t **meta, zb_pitr_spool **spool, const char *path, const zb_read_keys *keys)
{
    zb_archive_reader *r = NULL;
    struct archive_entry *entry;
    zb_entry_info info;
    const char *tmp = getenv("TMPDIR");
    int found = 0, rc = zb_pitr_spool_new(spool, tmp && *tmp ? tmp : "/tmp");
    if (rc == 0)
        rc = zb_archive_reader_open(&r, path, keys);
    while (rc >= 0 && (rc = zb_archive_reader_next(r, &entry, &info)) == 1)
        if (!found && strcmp(info.relative, ZB_PITR_CHANGES_ENTRY) == 0 && (found = 1))
            rc = spool_entry(*spool, r);
    json_t *sources = rc == 0 ? json_object_get(zb_archive_reader_manifest(r), "sources") : NULL;
    json_t *source = json_array_get(sources, 0);
    if (rc == 0 &&
        (json_array_size(sources) != 1 || !json_is_object(json_object_get(json_object_get(source, "meta"), "pitr"))))
        rc = zb_error_set(ZB_EFORMAT, "%s is not a change-stream segment", path);
    if (rc == 0 && !found)
        rc = zb_error_set(ZB_EFORMAT, "%s holds no %s", path, ZB_PITR_CHANGES_ENTRY);
    if (rc == 0 && meta)
        *meta = json_incref(json_object_get(json_object_get(source, "meta"), "pitr"));
    zb_archive_reader_free(r);
    return rc;
}

int zb_pitr_segment_read(json_t **meta, const char *path, const zb_read_keys *keys, zb_pitr_record_fn fn, void *payload)
{
    if (meta)
        *meta = NULL;
    zb_pitr_spool *spool = NULL;
    int rc = verify_and_spool(meta, &spool, path, keys);
    if (rc == 0)
        rc = zb_pitr_spool_each(spool, fn, payload);
    if (rc < 0)
        zb_error_context("segment %s", path);
    zb_pitr_spool_free(spool);
    return rc;
}
