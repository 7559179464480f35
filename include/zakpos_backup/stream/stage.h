/* The pipeline. Writing pushes data through a chain of stages (tar -> zstd ->
 * secretstream -> file); reading pulls it back through a chain of readers
 * (file -> secretstream -> zstd -> tar), because libarchive's reader asks for
 * data rather than being handed it. Every stage owns a fixed buffer, so memory
 * never depends on how much data flows. */
#ifndef ZB_STREAM_STAGE_H
#define ZB_STREAM_STAGE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct zb_stage zb_stage;
struct zb_stage {
    int (*write)(zb_stage *s, const void *data, size_t len);
    /* Flushes what the stage holds, ends its format, then closes next. */
    int (*close)(zb_stage *s);
    void (*free)(zb_stage *s);
    zb_stage *next;
    int owns_next; /* free() frees (or keeps) the rest of the chain itself */
};

int zb_stage_write(zb_stage *s, const void *data, size_t len);
int zb_stage_close(zb_stage *s);
/* Frees s and everything after it. NULL is fine. */
void zb_stage_free_chain(zb_stage *s);

typedef struct zb_reader zb_reader;
struct zb_reader {
    /* Bytes read (>0), 0 at the end of the stream, <0 an error code. */
    ssize_t (*read)(zb_reader *r, void *buf, size_t len);
    void (*free)(zb_reader *r);
    zb_reader *inner;
};

ssize_t zb_reader_read(zb_reader *r, void *buf, size_t len);
/* Fills buf completely; *got < len only at the end of the stream. */
int zb_reader_read_full(zb_reader *r, void *buf, size_t len, size_t *got);
void zb_reader_free_chain(zb_reader *r);

/* A file descriptor at the end of a chain; counts the bytes that pass. The fd
 * is not closed: its owner closes it. */
int zb_stage_fd_new(zb_stage **out, int fd, const char *what);
uint64_t zb_stage_fd_bytes(const zb_stage *s);
/* For a file that will be fsynced at the end: start write-back as the data
 * arrives (sync_file_range) and drop written pages from the page cache. */
void zb_stage_fd_flush_behind(zb_stage *s);
int zb_reader_fd_new(zb_reader **out, int fd, const char *what);
uint64_t zb_reader_fd_bytes(const zb_reader *r);

#endif
