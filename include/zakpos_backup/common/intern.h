/* Strings stored once: the names a restore plan keeps for every item
 * (kinds, schemas, tables), most of which repeat, copied out of the parsed
 * document into chunks instead of one allocation each, and each distinct
 * string kept once. They live as long as the table. */
#ifndef ZB_COMMON_INTERN_H
#define ZB_COMMON_INTERN_H

#include <stddef.h>

typedef struct zb_intern zb_intern;

int zb_intern_new(zb_intern **out);
/* *out: the table's copy of s (the same pointer for equal strings), or
 * NULL for a NULL s. 0, or ZB_ENOMEM. */
int zb_intern_add(zb_intern *t, const char **out, const char *s);
/* The bytes the table holds (chunks and its index). */
size_t zb_intern_held(const zb_intern *t);
void zb_intern_free(zb_intern *t);

#endif
