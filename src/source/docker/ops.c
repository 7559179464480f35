#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/source/docker/helper.h"
#include "zakpos_backup/source/docker/volume.h"
#include "zakpos_backup/source/path/check.h"
#include "zakpos_backup/source/source.h"

#include <stdlib.h>

/* Docker named volumes behind the source interface (source/source.h). */

static int selected(const zb_source_selection *sel) { return sel->volume_count > 0; }

static int backup(zb_archive_writer *w, const zb_source_selection *sel)
{
    for (size_t i = 0; i < sel->volume_count; i++) {
        zb_log_detail("backing up volume %s", sel->volumes[i]);
        int rc = zb_volume_backup(w, sel->docker, sel->volumes[i], sel->volume, sel->retry);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int restore_begin(void **state, const char *name, const char *target, const zb_source_restore_options *opts)
{
    zb_volume_restore *v = NULL;
    int rc = zb_volume_restore_begin(&v, opts->docker, name, target, opts->volume);
    *state = v;
    return rc;
}

ZB_SOURCE_RESTORE_WRAPPERS(zb_volume_restore, zb_volume_restore)

static int scratch_target(zb_source_scratch *s, const char *name, char **target, zb_source_restore_options *opts)
{
    zb_buf b = ZB_BUF_INIT;
    int rc = zb_source_scratch_docker(s);
    if (rc == 0)
        rc = zb_buf_printf(&b, "%s_verify_%s", name, s->id);
    if (rc == 0)
        *target = zb_buf_detach(&b);
    zb_buf_free(&b);
    s->volume = (zb_volume_restore_options){.scratch = 1}; /* plain local, always */
    opts->docker = s->docker;
    opts->volume = &s->volume;
    return rc;
}

static int add_volume_entry(struct archive *in, struct archive_entry *e, const char *relative,
                            const char *hardlink_relative, void *payload)
{
    return zb_tree_check_add(payload, in, e, relative, hardlink_relative);
}

typedef struct read_back {
    zb_docker *d;
    const zb_tree_fine *fine; /* what the restore wrote beyond the manifest's fields */
} read_back;

/* A volume whose folder is reachable is read back there, as it was
 * written; else through the volume agent. Both carry xattrs and nanosecond
 * times, which are compared too; Docker's own archive stream, the last
 * resort, would leave them out (and more). */
static int add_volume(zb_tree_check *c, const char *target, void *payload)
{
    read_back *b = payload;
    char *folder = NULL;
    int full = 1;
    int rc = zb_volume_folder(b->d, target, &folder);
    if (rc == 0)
        rc = folder ? zb_tree_check_add_folder(c, folder) : zb_volume_walk(b->d, target, add_volume_entry, c, &full);
    if (rc == 0 && full)
        zb_tree_check_set_fine(c, b->fine);
    free(folder);
    return rc;
}

static int verify(zb_source_scratch *s, void *restore_state, zb_archive_reader *r, const char *name, const char *target,
                  size_t limit, zb_source_check *out)
{
    read_back b = {s->docker, zb_volume_restore_fine(restore_state)};
    return zb_tree_check_source(r, ZB_SOURCE_VOLUME, name, "data", target, add_volume, &b, limit, out);
}

static int scratch_remove(zb_source_scratch *s, const char *target) { return zb_volume_remove(s->docker, target); }

const zb_source_ops zb_source_volume = {
    .kind = ZB_SOURCE_VOLUME,
    .reading = "reading volumes",
    .selected = selected,
    .backup = backup,
    .restore_begin = restore_begin,
    .restore_entry = zb_volume_restore_entry_op,
    .restore_finish = zb_volume_restore_finish_op,
    .restore_target = zb_volume_restore_target_op,
    .restore_free = zb_volume_restore_free_op,
    .scratch_target = scratch_target,
    .verify = verify,
    .scratch_remove = scratch_remove,
};
