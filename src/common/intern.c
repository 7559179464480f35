#include "zakpos_backup/common/intern.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_BYTES (64u * 1024u)

struct zb_intern {
    char **chunks; /* every allocation: CHUNK_BYTES pieces, and a longer string's own */
    size_t chunk_count, chunk_capacity;
    char *current; /* the chunk short strings go to */
    size_t room;   /* left in it */
    zb_map *seen;  /* hash -> position in strings */
    const char **strings;
    size_t string_count, string_capacity;
    size_t held;
};

static uint64_t hash_string(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

int zb_intern_new(zb_intern **out)
{
    zb_intern *t = calloc(1, sizeof(*t));
    if (!t || zb_map_new(&t->seen, 1024) < 0) {
        free(t);
        *out = NULL;
        return zb_error_set(ZB_ENOMEM, "out of memory");
    }
    *out = t;
    return 0;
}

/* A new allocation of size bytes, listed to be freed with the table. */
static char *allocate(zb_intern *t, size_t size)
{
    if (zb_array_reserve((void **)&t->chunks, &t->chunk_capacity, t->chunk_count, sizeof(char *), 64) < 0)
        return NULL;
    char *chunk = malloc(size);
    if (chunk) {
        t->chunks[t->chunk_count++] = chunk;
        t->held += size;
    }
    return chunk;
}

static char *copy(zb_intern *t, const char *s, size_t len)
{
    if (len > CHUNK_BYTES / 4) { /* a long string has its own: the chunk being filled stays in use */
        char *own = allocate(t, len);
        return own ? memcpy(own, s, len) : NULL;
    }
    if (len > t->room) {
        char *chunk = allocate(t, CHUNK_BYTES);
        if (!chunk)
            return NULL;
        t->current = chunk, t->room = CHUNK_BYTES;
    }
    char *at = t->current + (CHUNK_BYTES - t->room);
    t->room -= len;
    return memcpy(at, s, len);
}

int zb_intern_add(zb_intern *t, const char **out, const char *s)
{
    *out = NULL;
    if (!s)
        return 0;
    uint64_t h = hash_string(s);
    size_t i;
    int known = zb_map_get(t->seen, h, &i);
    if (known && strcmp(t->strings[i], s) == 0) {
        *out = t->strings[i];
        return 0;
    }
    char *kept = copy(t, s, strlen(s) + 1);
    if (!kept)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    *out = kept;
    if (known) /* another string of the same hash: kept apart, not shared */
        return 0;
    if (zb_array_reserve((void **)&t->strings, &t->string_capacity, t->string_count, sizeof(*t->strings), 64) < 0)
        return -1;
    t->strings[t->string_count] = kept;
    return zb_map_add(t->seen, h, t->string_count++);
}

size_t zb_intern_held(const zb_intern *t)
{
    return t->held + t->string_capacity * sizeof(*t->strings) + 4 * t->string_count * sizeof(uint64_t);
}

void zb_intern_free(zb_intern *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->chunk_count; i++)
        free(t->chunks[i]);
    free(t->chunks);
    free(t->strings);
    zb_map_free(t->seen);
    free(t);
}
