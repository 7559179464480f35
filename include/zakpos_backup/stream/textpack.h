/* Texts held compressed in memory, each read back by its reference in any
 * order: the SQL of a restore's table of contents, which grows with the
 * database's objects and is needed one statement at a time. Texts are
 * appended to a block; a full block (ZB_TEXTPACK_BLOCK_BYTES) is
 * compressed with zstd, and a read decompresses the block of the text it
 * asks for (keeping the last one, so texts read in the order they were
 * added cost one decompression a block). Not for concurrent use. */
#ifndef ZB_STREAM_TEXTPACK_H
#define ZB_STREAM_TEXTPACK_H

#include <stddef.h>
#include <stdint.h>

#define ZB_TEXTPACK_BLOCK_BYTES (16u * 1024u)

typedef struct zb_textpack zb_textpack;
/* A text's place in its pack; 0 is no text. */
typedef uint64_t zb_textpack_ref;

int zb_textpack_new(zb_textpack **out);
/* Adds text (up to its first NUL) and gives its reference: 0, or ZB_ENOMEM. */
int zb_textpack_add(zb_textpack *t, zb_textpack_ref *ref, const char *text);
/* *text: the text of ref, NUL-terminated, valid until the next call on the
 * pack; NULL for ref 0. 0, or ZB_ENOMEM, or ZB_EFAIL for a reference the
 * pack never gave. */
int zb_textpack_get(zb_textpack *t, zb_textpack_ref ref, const char **text);
/* A reader's own last block, for reading from other threads once nothing
 * more is added (the blocks no longer change then): each thread its own
 * cursor, zeroed before its first read. */
typedef struct zb_textpack_cursor {
    char *cache;       /* the sealed block last read, decompressed */
    size_t cache_size; /* its allocation */
    size_t cached;     /* which block it holds, from 1; 0: none */
    void *dctx;
} zb_textpack_cursor;
/* As zb_textpack_get, through the cursor (*text valid until its next read). */
int zb_textpack_read(const zb_textpack *t, zb_textpack_cursor *c, zb_textpack_ref ref, const char **text);
void zb_textpack_cursor_free(zb_textpack_cursor *c);
/* The bytes of the texts added, and the bytes held for them. */
uint64_t zb_textpack_size(const zb_textpack *t);
size_t zb_textpack_held(const zb_textpack *t);
void zb_textpack_free(zb_textpack *t);

#endif
