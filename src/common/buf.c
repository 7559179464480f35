#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int zb_buf_reserve(zb_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *grown = realloc(b->data, cap);
    if (!grown)
        return zb_error_set(ZB_ENOMEM, "out of memory growing a buffer to %zu bytes", cap);
    b->data = grown;
    b->cap = cap;
    return 0;
}

int zb_array_reserve(void **array, size_t *capacity, size_t count, size_t element, size_t first)
{
    if (count < *capacity)
        return 0;
    size_t n = *capacity ? 2 * *capacity : first;
    void *grown = realloc(*array, n * element);
    if (!grown)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    memset((char *)grown + *capacity * element, 0, (n - *capacity) * element);
    *array = grown, *capacity = n;
    return 0;
}

int zb_buf_append(zb_buf *b, const void *data, size_t len)
{
    int rc = zb_buf_reserve(b, len);
    if (rc < 0)
        return rc;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int zb_buf_puts(zb_buf *b, const char *s) { return zb_buf_append(b, s, strlen(s)); }

int zb_buf_printf(zb_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0)
        return zb_error_set(ZB_EFAIL, "cannot format string '%s'", fmt);
    int rc = zb_buf_reserve(b, (size_t)need);
    if (rc < 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)need + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)need;
    return 0;
}

void zb_buf_reset(zb_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *zb_buf_detach(zb_buf *b)
{
    char *s = b->data;
    if (!s)
        s = calloc(1, 1);
    b->data = NULL;
    b->len = b->cap = 0;
    return s;
}

void zb_buf_free(zb_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int zb_strlcpy_checked(char *dst, size_t dst_size, const char *src)
{
    size_t n = strlen(src);
    if (n >= dst_size)
        return zb_error_set(ZB_EFAIL, "name too long (%zu bytes, at most %zu): %.64s...", n, dst_size - 1, src);
    memcpy(dst, src, n + 1);
    return 0;
}

char *zb_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

int zb_str_has_prefix(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }
