/* A restore never writes through a symbolic link. Link targets are data,
 * restored as stored, so the guard does not judge where a link points: it
 * remembers which names this restore made into symbolic links and refuses any
 * later entry (or hard-link target) whose path passes through one of them,
 * or that would replace one (the writer never stores a name twice). Paths are the archive's checked relative names
 * (no ".", "..", or empty components), so a prefix match is exact. */
#ifndef ZB_SOURCE_PATH_LINKS_H
#define ZB_SOURCE_PATH_LINKS_H

#include <archive_entry.h>

typedef struct zb_link_guard zb_link_guard;

int zb_link_guard_new(zb_link_guard **out);
void zb_link_guard_free(zb_link_guard *g);
/* Before an entry is written: ZB_EUNSAFE if relative or hardlink (may be
 * NULL) goes through a symbolic link the restore created, or relative names
 * one; then, if entry is a symbolic link, remembers relative. `what` names
 * the target in messages. */
int zb_link_guard_entry(zb_link_guard *g, const char *relative, const char *hardlink, struct archive_entry *entry,
                        const char *what);

#endif
