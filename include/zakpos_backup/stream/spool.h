/* Text held compressed in memory and read back once, in order: for a
 * document that must be written before its size is known (an archive entry
 * needs its size first) or kept until later (a restore compares the
 * recorded catalog fingerprint after the data), whose text grows with the
 * database's objects. zstd holds it at a fraction of its size. */
#ifndef ZB_STREAM_SPOOL_H
#define ZB_STREAM_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct zb_spool zb_spool;

int zb_spool_new(zb_spool **out);
int zb_spool_write(zb_spool *s, const void *data, size_t len);
/* Ends the writing; reading starts at the beginning. */
int zb_spool_finish(zb_spool *s);
/* The bytes written (uncompressed), and the bytes held for them. */
uint64_t zb_spool_size(const zb_spool *s);
size_t zb_spool_held(const zb_spool *s);
/* After finish: bytes read (>0), 0 at the end, <0 an error code. */
ssize_t zb_spool_read(zb_spool *s, void *buf, size_t len);
/* After finish: the next line without its '\n' (valid until the next
 * call): 1, or 0 at the end. */
int zb_spool_line(zb_spool *s, const char **line, size_t *len);
void zb_spool_free(zb_spool *s);

#endif
