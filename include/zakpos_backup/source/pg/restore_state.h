/* The state one database restore shares among its files: restore.c reads
 * the source's entries and drives the phases, restore_steps.c runs the
 * table of contents' items, restore_publish.c prepares and publishes the
 * target database, on the worker pool of restore_pool.c. Not for callers
 * outside source/pg (they use pg.h). */
#ifndef ZB_SOURCE_PG_RESTORE_STATE_H
#define ZB_SOURCE_PG_RESTORE_STATE_H

#include "zakpos_backup/common/map.h"
#include "zakpos_backup/source/pg/pg.h"
#include "zakpos_backup/source/pg/restore_pool.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>

/* Leader items sent together in one query message (an implicit
 * transaction): at most this many, and past this many bytes of SQL the
 * batch is sent. */
#define ZB_PG_BATCH_MAX_ITEMS 256u
#define ZB_PG_BATCH_MAX_BYTES (1u << 20)

struct zb_pg_restore {
    zb_pg_restore_options opts;
    char *source_name;
    json_t *toc;               /* the toc as JSON, for a verification only (scratch) */
    zb_pg_plan *plan;          /* the toc, read once */
    json_t *catalog;           /* catalog.json: the database's properties and fingerprint */
    zb_spool *catalog_objects; /* its objects, one a line, for a verification */
    zb_pg_table_load *tables;  /* one per plan table */
    size_t table_count;
    zb_map *table_by_oid; /* oid -> index in tables, for each data entry */
    char *target;         /* the database name asked for */
    char temp[64];        /* the database being filled */
    int temp_created;
    int target_exists;
    int published;
    PGconn *maintenance;
    PGconn *leader;
    json_t *left_out; /* scratch restores: what the role could not do */
    double started;   /* when the toc arrived */
    zb_pg_pool pool;
    int pool_ready;
    char *item_queued;  /* per plan item: queued already */
    char *item_waiting; /* per plan item: ZB_PG_WAITS_* (opts.roles_at_finish) */
    int roles_ready;    /* the roles exist: nothing waits any more */
    size_t *ready;      /* scratch: items found ready to queue */
    size_t released;    /* pool.committed_order's tables whose items were looked at */
    size_t batch_items; /* the most leader items sent in one query message (zb_pg_restore_pre_data_begin) */
    /* pre-data run by its own thread on the leader, beside the loading */
    int pre_data_beside;
    pthread_t pre_data_thread;
    int pre_data_running; /* that thread is started and not yet joined */
    atomic_int pre_data_stop;
    PGcancel *pre_data_cancel; /* stops the leader's statement */
    int pre_data_rc;
    zb_error_saved pre_data_failure;
};

/* ---- restore_steps.c ---- */

/* Runs the pre-data items in order, the leader's in batches. Where no
 * pre-data item runs on the pool and the restore is no verification's, a
 * thread of its own runs them on the leader while the pool loads the
 * tables already made: each table's rows wait (loadable_after) until its
 * batch has committed and nothing after it in pre-data may lock it. Else
 * they run here, before any row. */
int zb_pg_restore_pre_data_begin(zb_pg_restore *p);
/* Waits for pre-data to end; its failure, if any. Before anything else
 * uses the leader. */
int zb_pg_restore_pre_data_end(zb_pg_restore *p);
/* Stops pre-data (cancelling the leader's statement) and waits for it:
 * on a failure elsewhere. */
void zb_pg_restore_pre_data_stop(zb_pg_restore *p);
/* The pool's left_out hook (payload: the restore): a scratch restore's
 * statement that failed for want of an object left out before (an index
 * of an operator class the role could not make) is left out and named as
 * not verified, as the leader's items are, instead of failing the
 * verification with the server's error. */
int zb_pg_restore_pool_left_out(void *payload, const zb_pg_job *j, PGresult *res);
/* Queues the indexes and constraints of the tables committed since the
 * last call. */
int zb_pg_restore_release_ready(zb_pg_restore *p);
/* Post-data once every table is loaded. */
int zb_pg_restore_run_post_data(zb_pg_restore *p);
/* What waited for the roles (opts.roles_at_finish), once they exist. */
int zb_pg_restore_run_waiting(zb_pg_restore *p);

/* ---- restore_publish.c ---- */

/* Says when the target server is older than the source's. */
void zb_pg_restore_warn_if_older(const zb_pg_restore *p);
/* Names, in one warning, the tablespaces of the toc's relations that the
 * target server lacks: those relations go to the default one. */
void zb_pg_restore_note_missing_tablespaces(const zb_pg_restore *p);
/* Refuses a target database that exists and is not empty (unless forced). */
int zb_pg_restore_check_target(zb_pg_restore *p);
/* Creates the database the restore fills under a temporary name. */
int zb_pg_restore_create_temp(zb_pg_restore *p);
/* The filled database takes the target's name. */
int zb_pg_restore_publish(zb_pg_restore *p);

#endif
