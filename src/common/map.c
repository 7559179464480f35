#include "zakpos_backup/common/map.h"
#include "zakpos_backup/common/error.h"

#include <stdlib.h>

typedef struct slot {
    uint64_t key;
    size_t value_plus_one; /* 0: empty, so a zeroed table is an empty one */
} slot;

struct zb_map {
    slot *slots;
    size_t mask, count;
};

/* splitmix64's finalizer: oids are dense and sequential, and masking them
 * directly would pile consecutive keys into one run of slots. */
static size_t hash(uint64_t key)
{
    key ^= key >> 30;
    key *= 0xbf58476d1ce4e5b9ULL;
    key ^= key >> 27;
    key *= 0x94d049bb133111ebULL;
    key ^= key >> 31;
    return (size_t)key;
}

static size_t find_slot(const slot *slots, size_t mask, uint64_t key)
{
    size_t i = hash(key) & mask;
    while (slots[i].value_plus_one && slots[i].key != key)
        i = (i + 1) & mask;
    return i;
}

static int resize(zb_map *map, size_t size)
{
    slot *slots = calloc(size, sizeof(*slots));
    if (!slots)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    for (size_t i = 0; map->slots && i <= map->mask; i++)
        if (map->slots[i].value_plus_one)
            slots[find_slot(slots, size - 1, map->slots[i].key)] = map->slots[i];
    free(map->slots);
    map->slots = slots;
    map->mask = size - 1;
    return 0;
}

int zb_map_new(zb_map **out, size_t expected)
{
    *out = calloc(1, sizeof(**out));
    if (!*out)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    size_t size = 16;
    while (size / 2 < expected && size < ((size_t)1 << (sizeof(size_t) * 8 - 2)))
        size *= 2;
    int rc = resize(*out, size);
    if (rc < 0) {
        zb_map_free(*out);
        *out = NULL;
    }
    return rc;
}

void zb_map_free(zb_map *map)
{
    if (!map)
        return;
    free(map->slots);
    free(map);
}

int zb_map_add(zb_map *map, uint64_t key, size_t value)
{
    if ((map->count + 1) * 2 > map->mask + 1) {
        int rc = resize(map, (map->mask + 1) * 2);
        if (rc < 0)
            return rc;
    }
    slot *s = &map->slots[find_slot(map->slots, map->mask, key)];
    if (s->value_plus_one)
        return 0;
    s->key = key;
    s->value_plus_one = value + 1;
    map->count++;
    return 0;
}

int zb_map_get(const zb_map *map, uint64_t key, size_t *value)
{
    const slot *s = &map->slots[find_slot(map->slots, map->mask, key)];
    if (!s->value_plus_one)
        return 0;
    *value = s->value_plus_one - 1;
    return 1;
}

size_t zb_map_count(const zb_map *map) { return map->count; }
