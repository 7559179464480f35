/* Services around a volume's read or replacement: the containers using a
 * volume are stopped, paused or asked to flush (exec hooks) as their labels
 * say, each written to a record on disk before it is touched, and always put
 * back; the record lets the next run restart what a killed run held. */
#ifndef ZB_SOURCE_DOCKER_QUIESCE_H
#define ZB_SOURCE_DOCKER_QUIESCE_H

#include "zakpos_backup/source/docker/volume.h"

#include <jansson.h>

typedef struct zb_held_container {
    char *id;
    char *name;
    const char *action; /* "stop" or "pause"; NULL for a hook-only container */
    const char *exec_post;
} zb_held_container;

typedef struct zb_quiesce {
    zb_held_container *items;
    size_t count;
    json_t *record;
    json_t *containers; /* the GET /containers/json answer, owns the strings above */
} zb_quiesce;

/* Stops, pauses or runs pre-hooks on the running containers that use the
 * volume (force_stop: stop every one). */
int zb_quiesce_hold(zb_quiesce *h, zb_docker *d, const char *volume, const zb_volume_backup_options *opts, int force_stop);

/* Every held container runs again (also after a failure); post-hooks run;
 * h is emptied. */
int zb_quiesce_release(zb_quiesce *h, zb_docker *d);

#endif
