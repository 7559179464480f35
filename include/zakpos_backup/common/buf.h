/* A growable byte buffer, always NUL-terminated, for building SQL, JSON and
 * messages. It is for bounded things (statements, names), never for data. */
#ifndef ZB_COMMON_BUF_H
#define ZB_COMMON_BUF_H

#include <stddef.h>

typedef struct zb_buf {
    char *data;
    size_t len;
    size_t cap;
} zb_buf;

#define ZB_BUF_INIT                                                                                                    \
    {                                                                                                                  \
        NULL, 0, 0                                                                                                     \
    }

int zb_buf_reserve(zb_buf *b, size_t extra);
int zb_buf_append(zb_buf *b, const void *data, size_t len);
int zb_buf_puts(zb_buf *b, const char *s);
int zb_buf_printf(zb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void zb_buf_reset(zb_buf *b);
/* Hands the string over to the caller (free() it); the buffer is left empty. */
char *zb_buf_detach(zb_buf *b);
void zb_buf_free(zb_buf *b);

/* Room for one more element in an array of *capacity elements of size
 * element, count of them in use: when full it doubles (first capacity
 * first), the new elements zeroed. ZB_ENOMEM leaves the array as it was. */
int zb_array_reserve(void **array, size_t *capacity, size_t count, size_t element, size_t first);

/* Copies a string into a fixed array, always terminating; fails (ZB_EFAIL)
 * rather than truncating silently. */
int zb_strlcpy_checked(char *dst, size_t dst_size, const char *src);
char *zb_strdup(const char *s);
int zb_str_has_prefix(const char *s, const char *prefix);

#endif
