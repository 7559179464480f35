/* Docker named volumes as a source, through the Engine API only: a helper
 * container (never started, network disabled, from a tiny image the tool
 * imports itself) mounts the volume read-only and the volume's content is
 * streamed from GET /containers/{id}/archive into the archive under
 * volumes/<name>/. Services that write to the volume are stopped, paused or
 * asked to flush (exec hooks) around the read, as their labels say, and are
 * always started again; a record on disk lets the next run restart them if
 * this one was killed. Where the volume's folder is reachable (the tool runs
 * on the Docker host) it is read and written directly, which keeps every
 * attribute; otherwise through the helper (GET and PUT .../archive). */
#ifndef ZB_SOURCE_DOCKER_VOLUME_H
#define ZB_SOURCE_DOCKER_VOLUME_H

#include "zakpos_backup/archive/reader.h"
#include "zakpos_backup/archive/writer.h"
#include "zakpos_backup/common/place.h"
#include "zakpos_backup/source/docker/client.h"

#include <archive.h>

#define ZB_LABEL_STOP        "zakpos-backup.stop-during-backup"
#define ZB_LABEL_EXEC_PRE    "zakpos-backup.exec-pre"
#define ZB_LABEL_EXEC_POST   "zakpos-backup.exec-post"
#define ZB_DEFAULT_PG_VOLUME "zakpos_postgres_data"

typedef struct zb_volume_backup_options {
    const char *const *stop_containers;  /* container names to stop as if labelled (NULL-terminated) */
    const char *const *pause_containers; /* ... to pause */
    int api;                             /* read through the Engine API even when the volume's folder is reachable */
    int agent;                           /* read through the volume agent even when the folder is reachable */
} zb_volume_backup_options;

/* How a volume is read or written: its folder directly (reachable from
 * here), the volume agent in a helper container (every attribute), or
 * Docker's own tar (GET/PUT .../archive, with its limits). */
typedef enum zb_volume_mode { ZB_VOLUME_ERROR = -1, ZB_VOLUME_DIRECT, ZB_VOLUME_AGENT, ZB_VOLUME_API } zb_volume_mode;
/* --volume-api wins (with a warning naming what it loses), then
 * --volume-agent (an error when the agent is not installed), then direct
 * when reachable, then the agent when installed, else the API with a
 * warning naming what is lost. */
zb_volume_mode zb_volume_choose_mode(const char *name, int reachable, int api, int agent);
/* "direct", "agent", "api": the "read" of a volume's meta. */
const char *zb_volume_mode_name(zb_volume_mode mode);

/* Volumes selected by name, label (KEY=VALUE) or compose project, sorted
 * and without duplicates (free with zb_volume_names_free). The PostgreSQL
 * data volume is left out unless named, with a hint. */
int zb_volume_select(char ***names, size_t *count, zb_docker *d, const char *const *names_given,
                     const char *const *labels, const char *const *projects);
void zb_volume_names_free(char **names, size_t count);

/* *retry is set when Docker's stream broke off (a file changed while read):
 * the archive must be written again to read the volume again. */
int zb_volume_backup(zb_archive_writer *w, zb_docker *d, const char *name, const zb_volume_backup_options *opts,
                     int *retry);

/* Containers a killed run stopped or paused: started again, record removed.
 * Quiet and harmless when there is no record. */
int zb_volume_recover(zb_docker *d_or_null);
int zb_volume_has_record(void);

/* Reads a volume's content as a backup does, through the volume agent
 * when it is installed (*full_fidelity 1: xattrs and nanosecond times
 * included), else through Docker's own tar (*full_fidelity 0), and hands
 * each entry to visit: its name inside the volume ("." the root), the
 * earlier name it is a hard link to (or NULL); a regular file's data is
 * read from `in`. No service is stopped: meant for volumes nothing else
 * uses. */
typedef int (*zb_volume_visit_fn)(struct archive *in, struct archive_entry *e, const char *relative,
                                  const char *hardlink_relative, void *payload);
int zb_volume_walk(zb_docker *d, const char *name, zb_volume_visit_fn visit, void *payload, int *full_fidelity);
/* A volume that is already gone is no error. */
int zb_volume_remove(zb_docker *d, const char *name);

typedef struct zb_volume_restore zb_volume_restore;

/* How a restore makes and writes its target. A new volume is a plain local
 * one unless options_from_archive; driver options that bind a host path
 * also need allow_host_bind. A scratch volume (verify --restore, drill) is
 * plain local whatever the archive says. Compose labels are copied only
 * into a volume of the archived name. */
typedef struct zb_volume_restore_options {
    int force;                /* replace an existing volume's content (staged, then swapped in) */
    int options_from_archive; /* a new volume gets the recorded driver and options */
    int allow_host_bind;      /* ... even those that bind a host path (type=none, o=bind, device=) */
    int scratch;
    int api;   /* write through the Engine API even where the folder is reachable */
    int agent; /* write through the volume agent even where the folder is reachable */
} zb_volume_restore_options;

/* name: the volume in the archive; target: the volume to restore into (NULL:
 * the same name). An existing target is refused unless opts->force. */
int zb_volume_restore_begin(zb_volume_restore **out, zb_docker *d, const char *name, const char *target,
                            const zb_volume_restore_options *opts);
int zb_volume_restore_entry(zb_volume_restore *v, zb_archive_reader *r, struct archive_entry *entry,
                            const zb_entry_info *info);
int zb_volume_restore_finish(zb_volume_restore *v, zb_archive_reader *r);
/* A rehearsal's (scratch) record of the restored entries' mtime nanoseconds
 * and xattrs, for its read-back; NULL otherwise. */
struct zb_tree_fine;
const struct zb_tree_fine *zb_volume_restore_fine(const zb_volume_restore *v);
const char *zb_volume_restore_target(const zb_volume_restore *v);
void zb_volume_restore_free(zb_volume_restore *v);

#endif
