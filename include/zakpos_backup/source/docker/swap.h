/* Replacing an existing volume's content only once the new content is
 * proven: the Engine API cannot rename volumes, so a forced restore writes
 * into a fresh stage volume, and only after the whole archive verified are
 * the target's entries moved into a holding volume and the stage's moved
 * into the target. A record on disk names the phase; a killed run is rolled
 * back (stage not complete: the target was never touched) or finished
 * (target being swapped) by the next command, before any container starts. */
#ifndef ZB_SOURCE_DOCKER_SWAP_H
#define ZB_SOURCE_DOCKER_SWAP_H

#include "zakpos_backup/source/docker/client.h"

#include <stdint.h>

#define ZB_STAGE_LABEL "zakpos-backup.restore-stage"

typedef struct zb_swap zb_swap;

/* Records the replacement and creates the stage volume (plain local). api:
 * the swap moves entries through busybox helper containers even where the
 * folders are reachable; agent: through the volume agent. Fails when another
 * live run replaces the same volume. */
int zb_swap_begin(zb_swap **out, zb_docker *d, const char *target, int api, int agent);
const char *zb_swap_stage(const zb_swap *s);

/* The stage is complete and verified: the target's users are stopped, the
 * content swapped, the users started again, the leftovers removed. Where
 * the swap copies entries instead of renaming them (agent, helper, two file
 * systems), the stage's file system must have new_bytes (the new content's
 * size) free first, or nothing is changed. */
int zb_swap_finish(zb_swap *s, uint64_t new_bytes);

/* Not finished: the stage volume and the record go; the target was never
 * changed. After a failure inside finish the record stays for the next
 * command. NULL is fine. */
void zb_swap_free(zb_swap *s);

/* Finishes or rolls back what killed runs left (quiet when nothing was
 * left). Call before any held container is started again. */
int zb_swap_recover(zb_docker *d_or_null);

#endif
