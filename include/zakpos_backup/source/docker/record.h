/* Run records in the state folder: each run that holds containers or owns
 * helper containers is known by a random id, holds an flock on runs/<id>.lock
 * while it lives (the kernel drops it when the run dies, however it dies,
 * and it works across PID namespaces, where pids do not), and writes its
 * holds to runs/<id>.json. Decisions that depend on other runs' holds are
 * taken under one state-wide lock, so concurrent runs see each other. */
#ifndef ZB_SOURCE_DOCKER_RECORD_H
#define ZB_SOURCE_DOCKER_RECORD_H

#include <jansson.h>

#define ZB_RECORD_DIR "runs"

/* This run's id, registering it (lock file taken) on first use. */
int zb_record_self(const char **run_id);

/* The state-wide lock: blocking, but a signal ends the wait (ZB_EINTR). */
int zb_record_lock(int *fd);
void zb_record_unlock(int fd);

/* This run's holds (an array of objects); an empty array removes the file. */
int zb_record_save(json_t *entries);

/* Holds of other live runs on container id: the first such entry (borrowed
 * from *all, which the caller frees) or NULL. */
int zb_record_live_holds(json_t **all);
json_t *zb_record_find(json_t *all, const char *id);

/* 1 when the run that owns run_id is known here and dead, 0 when it is alive
 * or unknown to this state folder. */
int zb_record_run_dead(const char *run_id);

/* 1 when the run is dead or its lock file is gone: for what a run makes
 * only after it registered (zb_record_self), where a missing lock file
 * cannot mean a run that has not begun yet. */
int zb_record_run_gone(const char *run_id);

/* Records of dead runs: each is handed to fix (its pid and entries); when fix
 * returns 0 the record is removed, else it is kept for the next command. */
typedef int (*zb_record_fix_fn)(const char *run_id, json_t *entries, void *payload);
int zb_record_recover(zb_record_fix_fn fix, void *payload);
int zb_record_any(void);

/* Lock files of dead runs that own nothing any more are removed. */
void zb_record_forget_dead(void);

#endif
