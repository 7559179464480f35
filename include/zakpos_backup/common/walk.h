/* An independent walk of a folder tree: every entry below a root, named
 * relative to it, found with openat/fdopendir so paths deeper than PATH_MAX
 * are walked too. Used to cross-check what a backup or restore handled
 * against what the disk holds, so no entry is dropped without a word. */
#ifndef ZB_COMMON_WALK_H
#define ZB_COMMON_WALK_H

#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

/* relative: "." for the root, else "a/b/c"; st: lstat of the entry. A
 * negative return stops the walk and is its result. */
typedef int (*zb_walk_fn)(const char *relative, const struct stat *st, void *payload);

/* Symbolic links are reported, never followed; other file systems mounted
 * below root are not entered. */
int zb_walk_tree(const char *root, zb_walk_fn visit, void *payload);

/* What a walk counts: every entry but sockets (which no backup can hold)
 * and the sockets apart. */
typedef struct zb_walk_count {
    uint64_t entries;
    uint64_t sockets;
} zb_walk_count;
int zb_walk_count_tree(zb_walk_count *out, const char *root);

/* Entries below root (sockets aside) whose relative name is not in `have`
 * (sorted with strcmp): *missing counts them, the first `limit` are named in
 * `out`, one per line after a "  " indent. */
struct zb_buf;
int zb_walk_list_missing(struct zb_buf *out, uint64_t *missing, const char *root, char *const *have, size_t count,
                         size_t limit);

/* The other way round: names read from `names` (each ended by a NUL byte,
 * relative to root, read from its start) that nothing below root holds
 * (lstat, no link followed), counted and named as above. */
int zb_walk_list_absent(struct zb_buf *out, uint64_t *missing, const char *root, FILE *names, size_t limit);

#endif
