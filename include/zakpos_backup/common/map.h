/* A hash map from 64-bit keys (an oid, a pair of oids) to positions in an
 * array, for the lookups that would otherwise scan a list once per catalog
 * row: with tens of thousands of tables those scans made reading a schema
 * grow with the square of its size. Open addressing, linear probing, the
 * table doubled past half full: memory is two words per slot. */
#ifndef ZB_COMMON_MAP_H
#define ZB_COMMON_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct zb_map zb_map;

/* expected: how many keys will be added (a hint; the map grows past it). */
int zb_map_new(zb_map **out, size_t expected);
void zb_map_free(zb_map *map);
/* Adds key -> value unless key is there already (the first value added
 * stays, as a scan from the front would find it): 0, or ZB_ENOMEM. */
int zb_map_add(zb_map *map, uint64_t key, size_t value);
/* 1 and *value, or 0 when absent. */
int zb_map_get(const zb_map *map, uint64_t key, size_t *value);
size_t zb_map_count(const zb_map *map);

/* Two 32-bit oids as one key. */
static inline uint64_t zb_map_key2(unsigned int high, unsigned int low) { return ((uint64_t)high << 32) | low; }

#endif
