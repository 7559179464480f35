/* Bytes from one thread to another that pulls them (libarchive's read
 * callback) through a small ring of fixed buffers: the producer's bytes are
 * copied once, into a buffer the consumer then reads in place. A pipe
 * between the two threads costs two more copies (into the kernel and out
 * again) and two system calls per batch. Memory: depth x buffer_size. */
#ifndef ZB_STREAM_HANDOFF_H
#define ZB_STREAM_HANDOFF_H

#include <stddef.h>
#include <sys/types.h>

typedef struct zb_handoff zb_handoff;

int zb_handoff_new(zb_handoff **out, size_t buffer_size, size_t depth);

/* The producer's side. A write waits while every buffer is full, and fails
 * once the consumer stopped; end says no more bytes come (after the last
 * write, or after a failure), and passes on what is buffered. */
int zb_handoff_write(zb_handoff *h, const void *data, size_t len);
void zb_handoff_end(zb_handoff *h);

/* The consumer's side: the next buffer's bytes in *data, valid until the
 * next call; 0 once the producer ended and all was read. stop: no more
 * reads (the producer's writes fail from now on). */
ssize_t zb_handoff_read(zb_handoff *h, const void **data);
void zb_handoff_stop(zb_handoff *h);

/* After both sides are done (NULL is fine). */
void zb_handoff_free(zb_handoff *h);

#endif
