#include "zakpos_backup/stream/stage.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int zb_stage_write(zb_stage *s, const void *data, size_t len) { return len ? s->write(s, data, len) : 0; }

int zb_stage_close(zb_stage *s) { return s->close(s); }

void zb_stage_free_chain(zb_stage *s)
{
    while (s) {
        zb_stage *next = s->owns_next ? NULL : s->next;
        s->free(s);
        s = next;
    }
}

ssize_t zb_reader_read(zb_reader *r, void *buf, size_t len) { return r->read(r, buf, len); }

int zb_reader_read_full(zb_reader *r, void *buf, size_t len, size_t *got)
{
    unsigned char *p = buf;
    size_t total = 0;
    while (total < len) {
        ssize_t n = r->read(r, p + total, len - total);
        if (n < 0)
            return (int)n;
        if (n == 0)
            break;
        total += (size_t)n;
    }
    *got = total;
    return 0;
}

void zb_reader_free_chain(zb_reader *r)
{
    while (r) {
        zb_reader *inner = r->inner;
        r->free(r);
        r = inner;
    }
}

/* Write-back is started every FLUSH_BEHIND bytes, so the fsync that
 * publishes an archive finds little left to write, and pages already on disk
 * leave the cache instead of evicting what the host's services keep there. */
#define FLUSH_BEHIND (8 * 1024 * 1024)

typedef struct fd_stage {
    zb_stage base;
    int fd;
    uint64_t bytes;
    const char *what;
    int flush_behind;
    off_t base_offset;    /* where the stage's first byte lies in the file */
    off_t window_start;   /* start of the range being written now */
    off_t previous_start; /* the range whose write-back was started last */
    off_t previous_len;
} fd_stage;

static void flush_behind(fd_stage *f)
{
    off_t end = f->base_offset + (off_t)f->bytes;
    if (end - f->window_start < FLUSH_BEHIND)
        return;
    /* Start the write-back without waiting for it: waiting here stalls the
     * whole pipeline behind the disk. Pages of the window before are most
     * likely clean by now and can leave the cache (dirty ones simply stay). */
    sync_file_range(f->fd, f->window_start, end - f->window_start, SYNC_FILE_RANGE_WRITE);
    if (f->previous_len > 0)
        posix_fadvise(f->fd, f->previous_start, f->previous_len, POSIX_FADV_DONTNEED);
    f->previous_start = f->window_start;
    f->previous_len = end - f->window_start;
    f->window_start = end;
}

static int fd_stage_write(zb_stage *s, const void *data, size_t len)
{
    fd_stage *f = (fd_stage *)s;
    int rc = zb_fs_write_all(f->fd, data, len, f->what);
    if (rc == 0) {
        f->bytes += len;
        if (f->flush_behind)
            flush_behind(f);
    }
    return rc;
}

static int fd_stage_close(zb_stage *s)
{
    (void)s;
    return 0;
}
static void fd_stage_free(zb_stage *s) { free(s); }

int zb_stage_fd_new(zb_stage **out, int fd, const char *what)
{
    fd_stage *f = calloc(1, sizeof(*f));
    if (!f)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    f->base.write = fd_stage_write;
    f->base.close = fd_stage_close;
    f->base.free = fd_stage_free;
    f->fd = fd;
    f->what = what;
    *out = &f->base;
    return 0;
}

void zb_stage_fd_flush_behind(zb_stage *s)
{
    fd_stage *f = (fd_stage *)s;
    off_t at = lseek(f->fd, 0, SEEK_CUR);
    if (at < 0)
        return; /* not a regular file: nothing to flush ahead */
    f->flush_behind = 1;
    f->base_offset = at - (off_t)f->bytes;
    f->window_start = at;
}

uint64_t zb_stage_fd_bytes(const zb_stage *s) { return ((const fd_stage *)s)->bytes; }

typedef struct fd_reader {
    zb_reader base;
    int fd;
    uint64_t bytes;
    const char *what;
} fd_reader;

static ssize_t fd_reader_read(zb_reader *r, void *buf, size_t len)
{
    fd_reader *f = (fd_reader *)r;
    size_t got = 0;
    int rc = zb_fs_read_full(f->fd, buf, len, &got, f->what);
    if (rc < 0)
        return rc;
    f->bytes += got;
    return (ssize_t)got;
}

static void fd_reader_free(zb_reader *r) { free(r); }

int zb_reader_fd_new(zb_reader **out, int fd, const char *what)
{
    fd_reader *f = calloc(1, sizeof(*f));
    if (!f)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    f->base.read = fd_reader_read;
    f->base.free = fd_reader_free;
    f->fd = fd;
    f->what = what;
    *out = &f->base;
    return 0;
}

uint64_t zb_reader_fd_bytes(const zb_reader *r) { return ((const fd_reader *)r)->bytes; }
