/* The volume agent: zb-volume-agent (src/agent/), a static program of this
 * project run in a helper container with the volume at /volume, which
 * reads or writes the volume with every attribute (xattrs, ACLs, sparse
 * files, nanosecond and pre-1970 times, paths of any length) as a pax
 * stream through the attach API. Used where the volume's folder is not
 * reachable from this process (or when asked for); the image holding it
 * is imported once per build of the agent (its tag is the binary's hash). */
#ifndef ZB_SOURCE_DOCKER_AGENT_H
#define ZB_SOURCE_DOCKER_AGENT_H

#include "zakpos_backup/source/docker/client.h"

#include <stdint.h>
#include <sys/types.h>

#define ZB_AGENT_NAME "zb-volume-agent"

/* Where the agent binary is: installed beside this program
 * (BINDIR/../LIBEXECDIR/zakpos-backup/zb-volume-agent), at the configured
 * installation path, or in the build tree beside this program; NULL when
 * none exists. */
const char *zb_agent_binary(void);

/* What a volume read without the agent loses, for the warning. */
#define ZB_AGENT_MISSING_LOSS                                                                                          \
    "xattrs but security.capability, ACLs, sub-second and pre-1970 times, sparse holes and paths over 4096 bytes"

typedef struct zb_agent zb_agent;

/* Creates, attaches and starts an agent container for the volume: restore
 * 0 reads it (mounted read-only) and streams pax out; 1 writes the pax
 * stream sent to it into the volume. Network off, no log copy. */
int zb_agent_start(zb_agent **out, zb_docker *d, const char *volume, int restore);
/* The stream out (backup): bytes, 0 at its end. */
ssize_t zb_agent_read(zb_agent *a, void *buf, size_t len);
/* The stream in (restore). */
int zb_agent_write(zb_agent *a, const void *data, size_t len);
/* After the stream: the agent's exit status and its own count of the
 * volume's entries (sockets apart). A failure quotes the agent's error. */
int zb_agent_finish(zb_agent *a, uint64_t *entries);
/* After a restore's finish: "\n  NAME" for each entry the agent wrote that
 * its count found missing (up to 10), "" when none is. */
const char *zb_agent_absent(const zb_agent *a);
/* Copies every entry of volume `from` into volume `to` with every
 * attribute, the root's own included (remove_from: then empties `from`).
 * Entries already in `to` are replaced, so a copy cut short is finished
 * by running it again. The copy is checked before `from` is emptied: `to`
 * must hold every entry written and as many as the agent counted in
 * `from` beforehand; a short copy fails naming up to 10 entries `to`
 * lacks, with `from` as it was. */
int zb_agent_copy(zb_docker *d, const char *from, const char *to, int remove_from);

/* Removes the folders of the stream's socket (in the state folder) that
 * runs killed outright left, logging each (with the helpers' sweep). */
void zb_agent_sweep_folders(void);

/* Stops and removes the container (NULL is fine). */
void zb_agent_free(zb_agent *a);

#endif
