/* Services around a volume's read or replacement: the containers using a
 * volume are asked to flush (exec hooks, all before anything is held), then
 * stopped or paused as their labels say; each hold is written to this run's
 * record before the container is touched, and every container ends in the
 * state it had before. Holds are counted across runs: the last run that
 * holds a container puts it back; the next command puts back what a killed
 * run left, if it is still as that run left it. */
#ifndef ZB_SOURCE_DOCKER_QUIESCE_H
#define ZB_SOURCE_DOCKER_QUIESCE_H

#include "zakpos_backup/source/docker/volume.h"

#include <jansson.h>

typedef struct zb_held_container {
    char *id;
    char *name;
    const char *action; /* "stop" or "pause"; NULL for a hook-only container */
    const char *exec_pre;
    const char *exec_post;
    const char *state; /* as listed: running, paused, exited... */
    int pre_ok;        /* exec-pre ran and succeeded (or there is none) */
    int must_stop;     /* the volume is replaced: even a paused container stops */
    json_t *hold;      /* this run's record entry, while held */
} zb_held_container;

typedef struct zb_quiesce {
    zb_held_container *items;
    size_t count;
    json_t *record;     /* this run's holds, as saved in its run record */
    json_t *containers; /* the GET /containers/json answer, owns the strings above */
} zb_quiesce;

/* Stops, pauses or runs pre-hooks on the running containers that use the
 * volume (force_stop: stop every one). */
int zb_quiesce_hold(zb_quiesce *h, zb_docker *d, const char *volume, const zb_volume_backup_options *opts,
                    int force_stop);

/* Every held container runs again (also after a failure); post-hooks run;
 * h is emptied. */
int zb_quiesce_release(zb_quiesce *h, zb_docker *d);

/* One lifecycle call, POST /containers/{id}{verb} ("/start", "/stop?t=30");
 * 304 ("already so") is success. recover stops and starts its stack so. */
int zb_container_call(zb_docker *d, const char *id, const char *verb);

#endif
